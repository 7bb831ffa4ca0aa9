/**
 * Live delivery latency: a reading's commit → its arrival at a subscriber,
 * through the platform (ingestReadings → pub/sub → stream tail → feed →
 * graphql-ws / SSE) beside a raw path carrying the same payloads with the
 * same filtering (Redis PUBLISH of the message the platform publishes → a
 * plain `ws` / SSE server, bench/support/raw-server.ts), in the same run:
 *
 *   (a)   one graphql-ws subscriber to everything at RATE readings/s; also over SSE;
 *   (ax)  (a) across two nodes (servers only): ingest on one platform node, the
 *         subscriber on a second node of the same database and Redis, so every
 *         batch crosses Redis as the raw path's do (a node serves its own
 *         batches to its own subscribers in process: live/publisher.ts);
 *   (b)   SUBSCRIBERS graphql-ws subscribers, each filtered to one of PATIENTS
 *         patients, at RATE readings/s (RATE × SUBSCRIBERS / PATIENTS deliveries/s);
 *   (c)   the (b) subscribers with the rate stepped up (START_RATE × FACTOR^k,
 *         at most MAX_STEPS steps; down by FACTOR instead if the first step
 *         fails), then REFINE steps bisecting between the last rate that passed
 *         and the first that failed: the highest delivery rate measured in a
 *         step whose p99 stays under 100 ms with no reading lost (≤ 0.1%), no
 *         client error, and at least 90% of the offered rate accepted; a failed
 *         step is measured once more before it counts. The batch interval stays
 *         50 ms, so a higher rate means bigger batches, not more messages. A
 *         path that passes all MAX_STEPS steps has a lower bound for a figure:
 *         the ratio is then printed as a bound (≤ or ≥), with a note.
 *
 * Commit times: the platform's, from the server's own 'batch stored' debug
 * line (cursor range and committedAt: Date.now() as the store returns,
 * before the batch's events are built, encoded, published or fanned out to
 * the node's own subscribers); the raw path's, Date.now() right before the batch is encoded
 * and PUBLISHed. Arrival: the client's wall clock (sub-ms) when the
 * message is handed to the client code. Every process is on 127.0.0.1 and
 * this machine's clock. Readings committed during the first WARMUP seconds
 * of each run are left out.
 *
 * Processes: the platform server (startServerProcess; PROCESSORS=off unless
 * BENCH_LIVE_PROCESSORS=on, so the figures are the live path's), the raw
 * server, the client fleet (bench/support/clients.ts), and this process as
 * the load generator. Batches go out every 50 ms (RATE/20 readings each), at
 * most 8 in flight. Both paths' subscribers stay open together and the two
 * paths' runs alternate (REPEATS runs each in (a) and (b), the one with the
 * lowest p99 counts; (c) steps in turns), so a burst of other work on a
 * shared machine is less likely to land on one side only.
 *
 * Embedded by default (PGlite + in-process pub/sub); with DATABASE_URL and
 * REDIS_URL against the servers. The raw path always needs Redis: REDIS_URL,
 * else redis://127.0.0.1:6379.
 *
 *   npm run bench -- live
 *   BENCH_LIVE_SECONDS=20 BENCH_LIVE_RATE=2000 BENCH_LIVE_SUBSCRIBERS=1000 BENCH_LIVE_PATIENTS=100
 *   BENCH_LIVE_SHAPES=a,ax,sse,b,c BENCH_LIVE_STEP_SECONDS=5 BENCH_LIVE_START_RATE=1000 BENCH_LIVE_STEP_FACTOR=1.5
 *   BENCH_LIVE_MAX_STEPS=14 BENCH_LIVE_REFINE_STEPS=3 BENCH_LIVE_WARMUP=2 BENCH_LIVE_REPEATS=2 BENCH_LIVE_PROCESSORS=off
 */
import type { Figure } from './report.js';
import { envNumber } from './support/env.js';
import { startChild, type Child } from './support/child.js';
import type { Collected, Counts, Transport } from './support/clients.js';
import { drive, patientIds, platformSink, primeUntilReady, rawSink, ReadingSource, registerPatients, type Generated, type Sink } from './support/load.js';
import { CommitRanges, startPlatform, type Platform } from './support/platform.js';
import { sleep, type Percentiles } from './support/stats.js';

export type Shape = 'a' | 'ax' | 'sse' | 'b' | 'c';
type Path = 'platform' | 'raw';

export interface LiveOptions {
  shapes: Shape[];
  /** Offered readings/s in (a) and (b). */
  rate: number;
  /** Measured seconds per run in (a) and (b). */
  seconds: number;
  warmupSeconds: number;
  patients: number;
  subscribers: number;
  steps: { startRate: number; factor: number; maxSteps: number; refine: number; seconds: number; p99LimitMs: number };
  processors: boolean;
  /** Pause after closing a set of subscribers, so the servers are idle before the next run. */
  pauseMs: number;
  /** Runs of each path per shape in (a) and (b), alternating; the one with the lowest p99 counts. */
  repeats: number;
  /** Unset: embedded platform. */
  databaseUrl?: string;
  /** Unset: in-process pub/sub on the platform. */
  redisUrl?: string;
  /** The raw path's Redis. */
  rawRedisUrl: string;
}

export interface Measured {
  path: Path;
  label: string;
  offered: number;
  acceptedRate: number;
  deliveriesPerSecond: number;
  latency: Percentiles;
  expected: number;
  delivered: number;
  lost: number;
  /** Ingest (platform) or PUBLISH (raw) round trip seen by the load generator. */
  roundTrip: Percentiles;
  errors: string[];
}

export interface Step extends Measured {
  pass: boolean;
}

export interface LiveResult {
  mode: 'embedded' | 'servers';
  options: LiveOptions;
  a?: Record<Path, Measured>;
  ax?: Record<Path, Measured>;
  sse?: Record<Path, Measured>;
  b?: Record<Path, Measured>;
  /** `crossed`: the climb found a rate that failed; without, `best` is only a lower bound of the path's limit. */
  c?: Record<Path, { steps: Step[]; best: number; crossed: boolean }>;
}

export const LIVE_DEFAULTS: Omit<LiveOptions, 'rawRedisUrl'> = {
  shapes: ['a', 'ax', 'sse', 'b', 'c'],
  rate: 2_000,
  // 20 batches/s: 20 s puts p99 at the 4th-worst batch of 400, not the 2nd of 200 (one GC pause or scheduler hiccup).
  seconds: 20,
  warmupSeconds: 2,
  patients: 100,
  subscribers: 1_000,
  steps: { startRate: 1_000, factor: 1.5, maxSteps: 14, refine: 3, seconds: 5, p99LimitMs: 100 },
  processors: false,
  pauseMs: 1_000,
  repeats: 2,
};

const fmt = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) : String(n));

function describe(m: Measured): string {
  return (
    `${m.label}: latency p50 ${fmt(m.latency.p50)} p95 ${fmt(m.latency.p95)} p99 ${fmt(m.latency.p99)} max ${fmt(m.latency.max)} ms; ` +
    `${m.delivered}/${m.expected} deliveries in the window (${fmt(m.deliveriesPerSecond)}/s), accepted ${fmt(m.acceptedRate)} of ${m.offered} readings/s; ` +
    `${m.path === 'platform' ? 'ingest' : 'PUBLISH'} round trip p50 ${fmt(m.roundTrip.p50)} p99 ${fmt(m.roundTrip.p99)} ms` +
    (m.errors.length ? `; client errors: ${m.errors.join(' | ')}` : '')
  );
}

/**
 * Runs the shapes in `options`. `shared`: a platform started by the caller (it must have been
 * started with `commitTimes`), used instead of a fresh one and left running.
 */
export async function runLive(options: LiveOptions, shared?: { platform?: Platform }): Promise<LiveResult> {
  const patients = patientIds('live', options.patients);
  const result: LiveResult = { mode: options.databaseUrl ? 'servers' : 'embedded', options };
  const rawRanges = new CommitRanges();
  const rawChannel = `vigil-bench-raw-${process.pid}:readings`;
  const stoppers: (() => Promise<void>)[] = [];
  try {
    const platform =
      shared?.platform ??
      (await startPlatform({ name: 'live', databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, processors: options.processors, commitTimes: true }));
    if (!shared?.platform) stoppers.push(() => platform.stop());
    await registerPatients(platform, patients);
    // (ax): a second node on the same schema and channel prefix (the same name and this pid), subscribers only.
    const crossNode = options.shapes.includes('ax') && options.databaseUrl && options.redisUrl;
    const relay = crossNode
      ? await startPlatform({ name: 'live', databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, processors: false, existing: { schema: platform.schema! } })
      : undefined;
    if (relay) stoppers.push(() => relay.stop());
    const raw = await startChild<{ url: string }>('./raw-server.ts', { env: { RAW_REDIS_URL: options.rawRedisUrl, RAW_CHANNEL: rawChannel } });
    stoppers.push(() => raw.stop());
    const clients: Child<unknown> = await startChild('./clients.ts');
    stoppers.push(() => clients.stop());
    // The raw path's cursors start far above the platform's, so the two fleets' receipts never mix.
    const rawOut = await rawSink(options.rawRedisUrl, rawChannel, rawRanges, 1e12);
    stoppers.push(() => rawOut.close());

    const paths: Record<Path, { sink: Sink; ranges: CommitRanges; source: ReadingSource; url: string; ws: Transport; sse: Transport; fanout: Map<string, number>; fanoutAll: number }> = {
      platform: { sink: platformSink(platform), ranges: platform.ranges, source: new ReadingSource(patients), url: platform.url, ws: 'graphql-ws', sse: 'sse', fanout: new Map(), fanoutAll: 0 },
      raw: { sink: rawOut, ranges: rawRanges, source: new ReadingSource(patients), url: raw.info.url, ws: 'raw-ws', sse: 'raw-sse', fanout: new Map(), fanoutAll: 0 },
    };
    const PATHS = ['platform', 'raw'] as const;

    /**
     * Opens one subscriber per filter on each path (both fleets stay open, so the two paths' runs can
     * alternate) and waits until every one has received a priming reading.
     */
    const open = async (transport: 'ws' | 'sse', filters: (string[] | null)[], platformUrl = paths.platform.url) => {
      for (const path of PATHS) {
        const p = paths[path];
        await clients.call('open', { transport: p[transport], url: path === 'platform' ? platformUrl : p.url, filters }, 600_000);
        p.fanout = new Map();
        p.fanoutAll = 0;
        for (const filter of filters) {
          if (!filter) p.fanoutAll++;
          else for (const id of filter) p.fanout.set(id, (p.fanout.get(id) ?? 0) + 1);
        }
      }
      await primeUntilReady(clients, 'platform and raw', () => Promise.all(PATHS.map((path) => paths[path].sink.send(paths[path].source.onePerPatient()))));
    };

    const close = async () => {
      await clients.call('closeAll', undefined, 300_000);
      await sleep(options.pauseMs);
    };

    /**
     * Drives `rate` readings/s through `path` for warm-up + `seconds`, then collects the latencies of
     * this run's readings committed after the warm-up. Only this run's batches count (their cursor
     * ranges as the load generator sent them), so other traffic on the same server or fleet does not.
     */
    const measure = async (path: Path, label: string, rate: number, seconds: number): Promise<Measured> => {
      const p = paths[path];
      await clients.call('reset');
      p.ranges.clear();
      const sent: { from: number; to: number; expected: number }[] = [];
      let expectedTotal = 0;
      const windowFrom = Date.now() + options.warmupSeconds * 1000;
      const drove = await drive(p.sink, p.source, {
        rate,
        seconds: options.warmupSeconds + seconds,
        label: `${label}: batches sent`,
        onSent: (lastCursor: number, batch: Generated[]) => {
          let expected = 0;
          for (const r of batch) expected += p.fanoutAll + (p.fanout.get(r.sourceId) ?? 0);
          sent.push({ from: lastCursor - batch.length, to: lastCursor, expected });
          expectedTotal += expected;
        },
      });
      const windowTo = Date.now();
      sent.sort((x, y) => x.from - y.from);
      const own = { from: sent.map((b) => b.from), to: sent.map((b) => b.to) };
      // Let every delivery land (bounded: 15 s, or 2 s without progress).
      const settleBy = Date.now() + 15_000;
      let last = -1;
      let stableSince = Date.now();
      for (;;) {
        const c = await clients.call<Counts>('counts', own);
        if (c.received >= expectedTotal || Date.now() > settleBy) break;
        if (c.received !== last) {
          last = c.received;
          stableSince = Date.now();
        } else if (Date.now() - stableSince > 2_000) break;
        await sleep(200);
      }
      // The server's log lines come over another pipe than the clients' answers: wait for the last ones (bounded).
      let committedAt = p.ranges.committedAtOf();
      for (const waitUntil = Date.now() + 10_000; sent.some((b) => !committedAt.has(b.to)) && Date.now() < waitUntil; ) {
        await sleep(50);
        committedAt = p.ranges.committedAtOf();
      }
      let expected = 0;
      const times: number[] = [];
      for (const b of sent) {
        const at = committedAt.get(b.to);
        if (at === undefined) throw new Error(`${path}: no commit time for the batch ending at cursor ${b.to}`);
        times.push(at);
        if (at >= windowFrom && at < windowTo) expected += b.expected;
      }
      if (expected === 0) {
        // Nothing to measure: every batch committed before the warm-up ended (or none was sent), because the
        // schedule slipped past its deadline. Say so rather than report a run of no deliveries.
        throw new Error(
          `${label}: no batch committed inside the measured window (${sent.length} batches sent; they went out up to ${Math.round(drove.maxLagMs)} ms behind schedule, ` +
            `so this process's event loop or the server stalled)`,
        );
      }
      const collected = await clients.call<Collected>('collect', { ...own, committedAt: times, windowFrom, windowTo }, 300_000);
      if (collected.dropped) throw new Error(`the client fleet dropped ${collected.dropped} receipts (buffer full)`);
      const measured: Measured = {
        path,
        label,
        offered: rate,
        acceptedRate: drove.acceptedRate,
        deliveriesPerSecond: collected.delivered / ((windowTo - windowFrom) / 1000),
        latency: collected.latency,
        expected,
        delivered: collected.delivered,
        lost: Math.max(0, expected - collected.delivered),
        roundTrip: drove.roundTrip,
        errors: collected.errors,
      };
      console.log(describe(measured));
      return measured;
    };

    /** `repeats` runs of each path, alternating; each path's run with the lowest p99 (the least disturbed). */
    const alternate = async (shape: string, transport: 'ws' | 'sse', rate: number) => {
      const runs: Record<Path, Measured[]> = { platform: [], raw: [] };
      for (let r = 0; r < options.repeats; r++) {
        for (const path of PATHS) {
          runs[path].push(await measure(path, `live ${shape} ${path} ${paths[path][transport]} run ${r + 1}/${options.repeats}`, rate, options.seconds));
        }
      }
      const best = (list: Measured[]) => list.reduce((a, b) => (b.latency.p99 < a.latency.p99 ? b : a));
      return { platform: best(runs.platform), raw: best(runs.raw) };
    };

    const everything = [null];
    for (const [shape, transport] of [
      ['a', 'ws'],
      ['sse', 'sse'],
    ] as const) {
      if (!options.shapes.includes(shape)) continue;
      await open(transport, everything);
      result[shape] = await alternate('(a)', transport, options.rate);
      await close();
    }
    if (relay) {
      await open('ws', everything, relay.url);
      result.ax = await alternate('(a) across nodes', 'ws', options.rate);
      await close();
    } else if (options.shapes.includes('ax')) console.log('live (ax): skipped (needs DATABASE_URL and REDIS_URL: two nodes share a database and Redis)');
    if (options.shapes.includes('b') || options.shapes.includes('c')) {
      await open('ws', Array.from({ length: options.subscribers }, (_, i) => [patients[i % patients.length]!]));
      if (options.shapes.includes('b')) result.b = await alternate(`(b) ×${options.subscribers}`, 'ws', options.rate);
      if (options.shapes.includes('c')) {
        // Per path: up by `factor` from startRate while a step passes; if its very first step fails, down by
        // `factor` until one passes. At most maxSteps rates per path, a failed one measured once more. Then
        // `refine` steps bisect (geometrically) between the last rate that passed and the first that failed, so
        // the figure is within factor^(1/2^refine) of the limit instead of a whole factor. The paths take turns
        // at each step, so both climb under the same conditions.
        const { startRate, factor, maxSteps, refine, seconds, p99LimitMs } = options.steps;
        const passes = (m: Measured, rate: number) => m.latency.p99 < p99LimitMs && m.lost <= m.expected * 0.001 && m.acceptedRate >= rate * 0.9 && m.errors.length === 0;
        interface Climb {
          rate: number;
          direction?: 'up' | 'down';
          /** Rates measured while climbing (refining steps not counted). */
          climbed: number;
          /** The climb's rate before this one. */
          previous?: number;
          /** Set once the climb has crossed the limit: the highest rate that passed, the lowest that failed. */
          bracket?: { pass: number; fail: number };
          refined: number;
          done: boolean;
          steps: Step[];
        }
        const climb = Object.fromEntries(PATHS.map((path): [Path, Climb] => [path, { rate: startRate, climbed: 0, refined: 0, done: false, steps: [] }])) as Record<Path, Climb>;
        const finish = (path: Path, state: Climb, last: Measured) => {
          state.done = true;
          const where = state.bracket ? `limit between ${state.bracket.pass} (passed) and ${state.bracket.fail} readings/s` : `no limit crossed by ${state.rate} readings/s`;
          console.log(`live (c) ${path}: ${where} (last step p99 ${fmt(last.latency.p99)} ms, lost ${last.lost}, accepted ${fmt(last.acceptedRate)}/s)`);
        };
        for (let k = 0; k < maxSteps + refine && PATHS.some((path) => !climb[path].done); k++) {
          for (const path of PATHS) {
            const state = climb[path];
            if (state.done) continue;
            const label = `live (c) ${path} ×${options.subscribers} step ${k + 1} at ${state.rate} readings/s${state.bracket ? ' (refining)' : ''}`;
            let m = await measure(path, label, state.rate, seconds);
            let pass = passes(m, state.rate);
            if (!pass && m.errors.length === 0) {
              // Once more before giving up on a rate: a shared machine's hiccup should not end the climb.
              state.steps.push({ ...m, pass });
              m = await measure(path, `${label} (again)`, state.rate, seconds);
              pass = passes(m, state.rate);
            }
            state.steps.push({ ...m, pass });
            if (state.bracket) {
              state.bracket[pass ? 'pass' : 'fail'] = state.rate;
              state.refined++;
            } else {
              state.climbed++;
              state.direction ??= pass ? 'up' : 'down';
              if (state.direction === 'up' && !pass) state.bracket = { pass: state.previous!, fail: state.rate };
              else if (state.direction === 'down' && pass) state.bracket = { pass: state.rate, fail: state.previous! };
              else if (state.climbed >= maxSteps) {
                finish(path, state, m);
                continue;
              } else {
                state.previous = state.rate;
                state.rate = Math.max(1, Math.round(state.direction === 'up' ? state.rate * factor : state.rate / factor));
                continue;
              }
            }
            const middle = Math.round(Math.sqrt(state.bracket.pass * state.bracket.fail));
            if (state.refined >= refine || middle === state.bracket.pass || middle === state.bracket.fail) finish(path, state, m);
            else state.rate = middle;
          }
        }
        result.c = Object.fromEntries(
          PATHS.map((path) => [
            path,
            { steps: climb[path].steps, best: Math.max(0, ...climb[path].steps.filter((s) => s.pass).map((s) => s.deliveriesPerSecond)), crossed: climb[path].bracket !== undefined },
          ]),
        ) as Record<Path, { steps: Step[]; best: number; crossed: boolean }>;
      }
      await close();
    }
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch((error: unknown) => console.error(`live: cleanup failed: ${(error as Error).message}`));
  }
  return result;
}

export function liveFigures(result: LiveResult): Figure[] {
  const { options } = result;
  const figures: Figure[] = [];
  const latency = (name: string, pair: Record<Path, Measured> | undefined, target: string) => {
    if (!pair) return;
    for (const key of ['p50', 'p95', 'p99', 'max'] as const) {
      const platform = pair.platform.latency[key];
      const baseline = pair.raw.latency[key];
      figures.push({ name: `${name}: ${key}`, unit: 'ms', platform, baseline, ratio: platform / baseline, target: key === 'p99' ? target : undefined });
    }
  };
  latency(`live (a) graphql-ws, 1 subscriber to all, ${options.rate} readings/s`, result.a, '≤ 1.5');
  latency(`live (a) across nodes (ingest on one, subscriber on another: through Redis), graphql-ws, ${options.rate} readings/s`, result.ax, '≤ 1.5');
  latency(`live (a) SSE, 1 subscriber to all, ${options.rate} readings/s`, result.sse, '≤ 1.5');
  const perPatient = options.subscribers / options.patients;
  const bName = `live (b) graphql-ws, ${options.subscribers} subscribers × 1 of ${options.patients} patients, ${options.rate} readings/s (${Math.round(options.rate * perPatient)} deliveries/s)`;
  latency(bName, result.b, '≤ 1.5');
  if (result.b) {
    // The latencies above are at the rate the path actually took: an overloaded server accepts less.
    const { platform, raw } = result.b;
    figures.push({ name: `${bName}: deliveries measured`, unit: 'deliveries/s', platform: platform.deliveriesPerSecond, baseline: raw.deliveriesPerSecond, ratio: platform.deliveriesPerSecond / raw.deliveriesPerSecond });
  }
  if (result.c) {
    const { platform, raw } = result.c;
    // A climb that ran out of steps before a rate failed found only a lower bound of its path's limit: the ratio is
    // then a bound too, and the figure says so instead of passing for a measurement.
    const uncrossed = (['platform', 'raw'] as const).filter((path) => !result.c![path].crossed);
    const bound = uncrossed.length === 1 ? (uncrossed[0] === 'raw' ? 'at most' : 'at least') : undefined;
    figures.push({
      name: `live (c) graphql-ws, ${options.subscribers} subscribers: highest delivery rate with p99 < ${options.steps.p99LimitMs} ms`,
      unit: 'deliveries/s',
      platform: platform.best,
      baseline: raw.best,
      ratio: raw.best > 0 && uncrossed.length < 2 ? platform.best / raw.best : null,
      ...(bound ? { ratioBound: bound } : {}),
      ...(uncrossed.length
        ? { note: `${uncrossed.map((path) => (path === 'raw' ? 'the raw path' : 'the platform')).join(' and ')}: no rate failed within BENCH_LIVE_MAX_STEPS=${options.steps.maxSteps}, so its figure is a lower bound of its limit` }
        : {}),
      target: '≥ 0.5',
    });
  }
  return figures;
}


export async function benchLive(): Promise<Figure[]> {
  const d = LIVE_DEFAULTS;
  const rawRedisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const options: LiveOptions = {
    shapes: (process.env.BENCH_LIVE_SHAPES?.split(',').filter(Boolean) as Shape[] | undefined) ?? d.shapes,
    rate: envNumber('BENCH_LIVE_RATE', d.rate),
    seconds: envNumber('BENCH_LIVE_SECONDS', d.seconds),
    warmupSeconds: envNumber('BENCH_LIVE_WARMUP', d.warmupSeconds, { zero: true }),
    patients: envNumber('BENCH_LIVE_PATIENTS', d.patients, { integer: true }),
    subscribers: envNumber('BENCH_LIVE_SUBSCRIBERS', d.subscribers, { integer: true }),
    steps: {
      startRate: envNumber('BENCH_LIVE_START_RATE', d.steps.startRate),
      factor: envNumber('BENCH_LIVE_STEP_FACTOR', d.steps.factor),
      maxSteps: envNumber('BENCH_LIVE_MAX_STEPS', d.steps.maxSteps, { integer: true }),
      refine: envNumber('BENCH_LIVE_REFINE_STEPS', d.steps.refine, { integer: true, zero: true }),
      seconds: envNumber('BENCH_LIVE_STEP_SECONDS', d.steps.seconds),
      p99LimitMs: d.steps.p99LimitMs,
    },
    processors: process.env.BENCH_LIVE_PROCESSORS === 'on',
    pauseMs: d.pauseMs,
    repeats: envNumber('BENCH_LIVE_REPEATS', d.repeats, { integer: true }),
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    rawRedisUrl,
  };
  for (const shape of options.shapes) if (!['a', 'ax', 'sse', 'b', 'c'].includes(shape)) throw new Error(`BENCH_LIVE_SHAPES: unknown shape ${shape}`);
  console.log(
    `live: platform ${options.databaseUrl ? 'on DATABASE_URL' : 'embedded (PGlite)'} with ${options.redisUrl ? 'Redis pub/sub' : 'in-process pub/sub'}, PROCESSORS=${options.processors ? 'on' : 'off'}; ` +
      `raw path through ${rawRedisUrl}${process.env.REDIS_URL ? '' : ' (REDIS_URL unset: used for the raw path only)'}`,
  );
  return liveFigures(await runLive(options));
}
