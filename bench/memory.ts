/**
 * Server memory, measured from outside the server process (VmRSS in
 * /proc/<pid>/status, after full collections: the platform's server is
 * started with NODE_OPTIONS="--expose-gc --import=bench/support/gc-hook.mjs",
 * the raw server with --expose-gc), beside the raw baseline's in the same run:
 *
 * 1. Idle subscriptions: COUNTS graphql-ws connections, each with one
 *    `readings` subscription filtered to one of 100 patients, against as many
 *    raw `ws` connections to bench/support/raw-server.ts, each with the same
 *    filter. Each count adds connections to the previous ones; every
 *    subscriber has received a priming reading (so it is attached) before
 *    the measurement. Figure: (RSS with N open − RSS before any) / N, and the
 *    same for the JS heap. The platform runs with PROCESSORS=off here.
 * 2. Steady run: STEADY_SECONDS of ingest at STEADY_RATE readings/s with
 *    STEADY_SUBSCRIBERS filtered subscribers plus one to everything, on the
 *    platform (default configuration: processors on) and, at the same time,
 *    on the raw path; RSS and heap after GC at the start (after a warm-up) and
 *    at the end, still under load. No growth is expected.
 *
 * Embedded by default; with DATABASE_URL/REDIS_URL against the servers. The
 * raw path's Redis is REDIS_URL, else redis://127.0.0.1:6379.
 *
 *   npm run bench -- memory
 *   BENCH_MEMORY_COUNTS=1000,5000 BENCH_STEADY_SECONDS=120 BENCH_STEADY_RATE=500 BENCH_STEADY_SUBSCRIBERS=100
 */
import { progress, type Figure } from './report.js';
import { envNumber } from './support/env.js';
import { startChild, type Child } from './support/child.js';
import type { Counts } from './support/clients.js';
import { drive, patientIds, platformSink, primeUntilReady, rawSink, ReadingSource, registerPatients, type Sink } from './support/load.js';
import { CommitRanges, startPlatform, vmRss, type MemorySample, type Platform } from './support/platform.js';
import { sleep } from './support/stats.js';

export interface MemoryOptions {
  /** Open idle subscriptions at which to measure, ascending. */
  counts: number[];
  steadySeconds: number;
  /** Seconds of load before the steady run's first measurement. */
  steadyWarmupSeconds: number;
  steadyRate: number;
  steadySubscribers: number;
  patients: number;
  /** Wait after opening subscriptions (and after closing the warm-up ones) before measuring. */
  settleMs: number;
  databaseUrl?: string;
  redisUrl?: string;
  rawRedisUrl: string;
  /** Skip a part (the smoke test runs both). */
  idle?: boolean;
  steady?: boolean;
}

export const MEMORY_DEFAULTS: Omit<MemoryOptions, 'rawRedisUrl'> = {
  counts: [1_000, 5_000],
  steadySeconds: 120,
  steadyWarmupSeconds: 10,
  steadyRate: 500,
  steadySubscribers: 100,
  patients: 100,
  settleMs: 2_000,
};

export interface IdlePoint {
  count: number;
  platform: { rssPer: number; heapPer: number; rss: number };
  raw: { rssPer: number; heapPer: number; rss: number };
}

export interface SteadySide {
  start: MemorySample;
  end: MemorySample;
  /** VmRSS every ~10 s during the run (no GC), bytes. */
  samples: number[];
}

export interface SteadyResult {
  seconds: number;
  rate: number;
  subscribers: number;
  platform: SteadySide;
  raw: SteadySide;
  accepted: { platform: number; raw: number };
}

export interface MemoryResult {
  idle?: IdlePoint[];
  steady?: SteadyResult;
}

const MiB = 2 ** 20;
const KiB = 1024;

interface RawInfo {
  url: string;
  pid: number;
}

async function rawMemory(raw: Child<RawInfo>): Promise<MemorySample> {
  const m = await raw.call<NodeJS.MemoryUsage>('memory');
  return { rss: vmRss(raw.info.pid), heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Opens subscribers in steps up to each count; returns per-subscription RSS and heap over the empty baseline. */
async function idleSide(
  clients: Child<unknown>,
  open: (filters: (string[] | null)[]) => Promise<void>,
  prime: () => Promise<void>,
  memory: () => Promise<MemorySample>,
  patients: string[],
  counts: number[],
  settleMs: number,
  label: string,
): Promise<{ count: number; rssPer: number; heapPer: number; rss: number }[]> {
  // Warm up the code paths (and allocator pools) once, so the baseline is not the cold process.
  await open(Array.from({ length: 50 }, (_, i) => [patients[i % patients.length]!]));
  await prime();
  await clients.call('closeAll', undefined, 300_000);
  await sleep(settleMs);
  const base = await memory();
  console.log(`memory ${label}: before any subscription RSS ${(base.rss / MiB).toFixed(1)} MiB, heap ${(base.heapUsed / MiB).toFixed(1)} MiB`);
  const out: { count: number; rssPer: number; heapPer: number; rss: number }[] = [];
  let open_ = 0;
  for (const count of counts) {
    const filters = Array.from({ length: count - open_ }, (_, i) => [patients[(open_ + i) % patients.length]!]);
    const started = Date.now();
    for (let i = 0; i < filters.length; i += 500) {
      await open(filters.slice(i, i + 500));
      progress(`memory ${label}: opening subscriptions`, open_ + Math.min(filters.length, i + 500), count);
    }
    open_ = count;
    await prime();
    await sleep(settleMs);
    const m = await memory();
    const rssPer = (m.rss - base.rss) / count;
    const heapPer = (m.heapUsed - base.heapUsed) / count;
    console.log(
      `memory ${label}: ${count} idle subscriptions (opened in ${((Date.now() - started) / 1000).toFixed(1)} s): RSS ${(m.rss / MiB).toFixed(1)} MiB ` +
        `(+${((m.rss - base.rss) / MiB).toFixed(1)}, ${(rssPer / KiB).toFixed(1)} KiB each), heap ${(m.heapUsed / MiB).toFixed(1)} MiB (${(heapPer / KiB).toFixed(1)} KiB each), ` +
        `external ${(m.external / MiB).toFixed(1)} MiB`,
    );
    out.push({ count, rssPer, heapPer, rss: m.rss });
  }
  await clients.call('closeAll', undefined, 300_000);
  return out;
}

/** `shared`: a platform started by the caller with `memoryProbe`, used instead of a fresh one and left running. */
export async function runIdleMemory(options: MemoryOptions, shared?: { platform?: Platform }): Promise<IdlePoint[]> {
  const patients = patientIds('mem', options.patients);
  const stoppers: (() => Promise<void>)[] = [];
  const rawChannel = `vigil-bench-raw-memory-${process.pid}:readings`;
  try {
    const platform =
      shared?.platform ??
      (await startPlatform({ name: 'memory', databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, processors: false, memoryProbe: true }));
    if (!shared?.platform) stoppers.push(() => platform.stop());
    await registerPatients(platform, patients);
    const raw = await startChild<RawInfo>('./raw-server.ts', { env: { RAW_REDIS_URL: options.rawRedisUrl, RAW_CHANNEL: rawChannel }, execArgv: ['--expose-gc'] });
    stoppers.push(() => raw.stop());
    const clients: Child<unknown> = await startChild('./clients.ts');
    stoppers.push(() => clients.stop());
    const rawOut = await rawSink(options.rawRedisUrl, rawChannel, new CommitRanges());
    stoppers.push(() => rawOut.close());
    const platformOut = platformSink(platform);

    const platformSource = new ReadingSource(patients);
    const rawSource = new ReadingSource(patients);
    const p = await idleSide(
      clients,
      async (filters) => void (await clients.call('open', { transport: 'graphql-ws', url: platform.url, filters }, 600_000)),
      () => primeUntilReady(clients, 'platform', () => platformOut.send(platformSource.onePerPatient())),
      () => platform.memory(),
      patients,
      options.counts,
      options.settleMs,
      'platform graphql-ws',
    );
    const r = await idleSide(
      clients,
      async (filters) => void (await clients.call('open', { transport: 'raw-ws', url: raw.info.url, filters }, 600_000)),
      () => primeUntilReady(clients, 'raw', () => rawOut.send(rawSource.onePerPatient())),
      () => rawMemory(raw),
      patients,
      options.counts,
      options.settleMs,
      'raw ws',
    );
    return options.counts.map((count, i) => ({ count, platform: p[i]!, raw: r[i]! }));
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch((error: unknown) => console.error(`memory: cleanup failed: ${(error as Error).message}`));
  }
}

/** `shared`: a platform started by the caller with `memoryProbe`, used instead of a fresh one and left running. */
export async function runSteadyMemory(options: MemoryOptions, shared?: { platform?: Platform }): Promise<SteadyResult> {
  const patients = patientIds('steady', options.patients);
  const stoppers: (() => Promise<void>)[] = [];
  const rawChannel = `vigil-bench-raw-steady-${process.pid}:readings`;
  try {
    const platform: Platform =
      shared?.platform ??
      (await startPlatform({ name: 'steady', databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, processors: true, memoryProbe: true }));
    if (!shared?.platform) stoppers.push(() => platform.stop());
    await registerPatients(platform, patients);
    const raw = await startChild<RawInfo>('./raw-server.ts', { env: { RAW_REDIS_URL: options.rawRedisUrl, RAW_CHANNEL: rawChannel }, execArgv: ['--expose-gc'] });
    stoppers.push(() => raw.stop());
    const clients: Child<unknown> = await startChild('./clients.ts');
    stoppers.push(() => clients.stop());
    const rawOut = await rawSink(options.rawRedisUrl, rawChannel, new CommitRanges());
    stoppers.push(() => rawOut.close());
    const sinks: Record<'platform' | 'raw', Sink> = { platform: platformSink(platform), raw: rawOut };

    const filters: (string[] | null)[] = [null, ...Array.from({ length: options.steadySubscribers }, (_, i) => [patients[i % patients.length]!])];
    await clients.call('open', { transport: 'graphql-ws', url: platform.url, filters }, 600_000);
    await clients.call('open', { transport: 'raw-ws', url: raw.info.url, filters }, 600_000);
    // Both fleets are primed together: each path's priming reaches its own subscribers only.
    const primers = { platform: new ReadingSource(patients), raw: new ReadingSource(patients) };
    await primeUntilReady(clients, 'steady run', () =>
      Promise.all([sinks.platform.send(primers.platform.onePerPatient()), sinks.raw.send(primers.raw.onePerPatient())]),
    );

    const total = options.steadyWarmupSeconds + options.steadySeconds;
    const drives = (['platform', 'raw'] as const).map((path) =>
      drive(sinks[path], new ReadingSource(patients), { rate: options.steadyRate, seconds: total + 5, label: `memory steady: ${path} batches sent` }),
    );
    const measureBoth = async () => ({ platform: await platform.memory(), raw: await rawMemory(raw) });
    const watch = (async () => {
      const began = Date.now();
      await sleep(options.steadyWarmupSeconds * 1000);
      const start = await measureBoth();
      const samples = { platform: [] as number[], raw: [] as number[] };
      const endAt = began + total * 1000;
      while (Date.now() < endAt) {
        await sleep(Math.min(10_000, Math.max(0, endAt - Date.now())));
        samples.platform.push(vmRss(platform.pid));
        samples.raw.push(vmRss(raw.info.pid));
        progress(
          `memory steady: seconds (platform RSS ${(samples.platform.at(-1)! / MiB).toFixed(0)} MiB, raw ${(samples.raw.at(-1)! / MiB).toFixed(0)} MiB)`,
          Math.min(total, Math.round((Date.now() - began) / 1000)),
          total,
        );
      }
      const end = await measureBoth();
      return { start, end, samples };
    })();
    const [watched, ...driven] = await Promise.all([watch, ...drives]);
    const c = await clients.call<Counts>('counts');
    if (c.errors.length) throw new Error(`steady run: subscribers failed: ${c.errors.join(' | ')}`);
    await clients.call('closeAll', undefined, 300_000);
    const side = (path: 'platform' | 'raw'): SteadySide => ({ start: watched.start[path], end: watched.end[path], samples: watched.samples[path] });
    const result: SteadyResult = {
      seconds: options.steadySeconds,
      rate: options.steadyRate,
      subscribers: options.steadySubscribers,
      platform: side('platform'),
      raw: side('raw'),
      accepted: { platform: driven[0]!.acceptedRate, raw: driven[1]!.acceptedRate },
    };
    for (const path of ['platform', 'raw'] as const) {
      const s = result[path];
      console.log(
        `memory steady ${path}: RSS ${(s.start.rss / MiB).toFixed(1)} → ${(s.end.rss / MiB).toFixed(1)} MiB, heap ${(s.start.heapUsed / MiB).toFixed(1)} → ${(s.end.heapUsed / MiB).toFixed(1)} MiB, ` +
          `external ${(s.start.external / MiB).toFixed(1)} → ${(s.end.external / MiB).toFixed(1)} MiB; RSS every 10 s (no GC): ${s.samples.map((b) => (b / MiB).toFixed(0)).join(' ')} MiB; ` +
          `accepted ${result.accepted[path].toFixed(0)} of ${options.steadyRate} readings/s`,
      );
    }
    return result;
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch((error: unknown) => console.error(`memory: cleanup failed: ${(error as Error).message}`));
  }
}

export async function runMemory(options: MemoryOptions, shared?: { platform?: Platform }): Promise<MemoryResult> {
  return {
    idle: options.idle === false ? undefined : await runIdleMemory(options, shared),
    steady: options.steady === false ? undefined : await runSteadyMemory(options, shared),
  };
}

export function memoryFigures(result: MemoryResult): Figure[] {
  const figures: Figure[] = [];
  for (const point of result.idle ?? []) {
    figures.push({
      name: `memory per idle graphql-ws subscription (own connection), ${point.count} open: RSS`,
      unit: 'KiB',
      platform: point.platform.rssPer / KiB,
      baseline: point.raw.rssPer / KiB,
      ratio: point.platform.rssPer / point.raw.rssPer,
      target: '≤ 1.5',
    });
    figures.push({
      name: `memory per idle graphql-ws subscription (own connection), ${point.count} open: JS heap`,
      unit: 'KiB',
      platform: point.platform.heapPer / KiB,
      baseline: point.raw.heapPer / KiB,
      ratio: point.platform.heapPer / point.raw.heapPer,
    });
  }
  const s = result.steady;
  if (s) {
    const name = `memory steady ${s.seconds} s (${s.rate} readings/s, ${s.subscribers}+1 subscribers)`;
    const mib = (n: number) => n / MiB;
    const pair = (what: string, platform: number, raw: number, target?: string) =>
      figures.push({ name: `${name}: ${what}`, unit: 'MiB', platform: mib(platform), baseline: mib(raw), ratio: null, target });
    pair('RSS at start', s.platform.start.rss, s.raw.start.rss);
    pair('RSS at end', s.platform.end.rss, s.raw.end.rss);
    pair('RSS growth', s.platform.end.rss - s.platform.start.rss, s.raw.end.rss - s.raw.start.rss, 'no growth');
    pair('JS heap at start', s.platform.start.heapUsed, s.raw.start.heapUsed);
    pair('JS heap at end', s.platform.end.heapUsed, s.raw.end.heapUsed);
    pair('JS heap growth', s.platform.end.heapUsed - s.platform.start.heapUsed, s.raw.end.heapUsed - s.raw.start.heapUsed, 'no growth');
  }
  return figures;
}


export async function benchMemory(): Promise<Figure[]> {
  const d = MEMORY_DEFAULTS;
  const rawRedisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const counts = process.env.BENCH_MEMORY_COUNTS ? process.env.BENCH_MEMORY_COUNTS.split(',').map(Number) : d.counts;
  if (counts.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new Error(`BENCH_MEMORY_COUNTS must be positive integers, got ${process.env.BENCH_MEMORY_COUNTS}`);
  const options: MemoryOptions = {
    counts: [...counts].sort((a, b) => a - b),
    steadySeconds: envNumber('BENCH_STEADY_SECONDS', d.steadySeconds),
    steadyWarmupSeconds: d.steadyWarmupSeconds,
    steadyRate: envNumber('BENCH_STEADY_RATE', d.steadyRate),
    steadySubscribers: envNumber('BENCH_STEADY_SUBSCRIBERS', d.steadySubscribers, { integer: true }),
    patients: d.patients,
    settleMs: d.settleMs,
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    rawRedisUrl,
  };
  console.log(
    `memory: platform ${options.databaseUrl ? 'on DATABASE_URL' : 'embedded (PGlite)'} with ${options.redisUrl ? 'Redis pub/sub' : 'in-process pub/sub'}; ` +
      `raw path through ${rawRedisUrl}${process.env.REDIS_URL ? '' : ' (REDIS_URL unset: used for the raw path only)'}`,
  );
  return memoryFigures(await runMemory(options));
}
