/**
 * Ingest throughput: readings/s through the GraphQL batch mutation (server in
 * its own process) against a raw multi-row insert (unnest) of the same rows
 * into the same table layout, in the same run. Embedded by default; with
 * DATABASE_URL (and REDIS_URL) against the real servers.
 *
 * Both sides keep `--concurrency` batches in flight (as an ingest partner
 * with several senders does; postgres.js gets as many connections) and both
 * build their batches before the clock starts, so the figures are the
 * platform's and the database's, not the load generator's JSON building.
 * Each side first ingests a few unmeasured batches (a running server is
 * warm; so is the raw side's connection and table), then the two sides take
 * turns `--repeats` times on fresh rows and each side's best run counts, so
 * a burst of other work on a shared machine is less likely to land on one
 * side only. The ingest path is measured with the processors off (the raw
 * side computes nothing), then the largest batches again with them on.
 *
 * A measured run is `--readings` readings, at most MAX_BATCHES_PER_RUN
 * batches: 100,000 in batches of 1,000 (1-2 s a side here). Runs of 20,000
 * (a third of a second) read the raw side 15-30% low: on the servers 69-92k
 * readings/s against 93-105k over 100,000, the platform's 54-59k either way.
 *
 *   npm run bench -- ingest [--readings 100000] [--sizes 1000,10] [--concurrency 4] [--repeats 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import { print } from 'graphql';
import postgres from 'postgres';
import { IngestReadingsDocument, RegisterSourcesDocument, type ReadingInput } from '../src/generated/graphql.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { drizzle } from 'drizzle-orm/pglite';
import type { Db } from '../src/db/client.js';
import { progress, type Figure } from './report.js';
import { cpuSeconds, startPlatform, type Platform } from './support/platform.js';

export interface IngestOptions {
  /** Readings per measured run. */
  readings: number;
  sizes: number[];
  concurrency: number;
  /** Measured runs of each side per size, taking turns; each side's best counts. */
  repeats: number;
  /** Unset: embedded PGlite. */
  databaseUrl?: string;
  redisUrl?: string;
}

function postJson(agent: Agent, url: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends batches 0..batches-1 of `size` readings with at most `concurrency` in flight, a progress line as they finish; readings/s. */
async function pipelined(concurrency: number, batches: number, size: number, label: string, send: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batches) }, async () => {
      while (next < batches) {
        await send(next++);
        progress(label, ++done, batches);
      }
    }),
  );
  return (batches * size) / ((performance.now() - started) / 1000);
}
const PATIENTS = 100;
const METRICS = ['heart_rate', 'spo2', 'resp_rate', 'temperature', 'bp_systolic', 'bp_diastolic'];

/**
 * Batch `batch` of `size` readings: reading g = batch × size + i is series g mod 600 (100 patients × 6 metrics)
 * at second ⌊g / 600⌋, so time moves on steadily, batches committed a few out of order stay well inside the
 * processors' allowed lateness (as concurrent senders' do), and no two readings share a natural key.
 */
function makeReadings(size: number, batch: number, offsetSeconds: number): ReadingInput[] {
  const start = Date.parse('2025-01-01T00:00:00Z') + offsetSeconds * 1000;
  const series = PATIENTS * METRICS.length;
  return Array.from({ length: size }, (_, i) => {
    const g = batch * size + i;
    return {
      sourceId: `bench-${g % PATIENTS}`,
      metric: METRICS[Math.floor(g / PATIENTS) % METRICS.length]!,
      time: new Date(start + Math.floor(g / series) * 1000).toISOString(),
      value: 60 + (g % 40),
    };
  });
}

const INSERT = `insert into readings (source_id, metric, time, value, unit, quality, seq)
  select * from unnest($1::text[], $2::text[], $3::text[]::timestamptz[], $4::float8[], $5::text[], $6::text[], $7::text[]::int8[])
  on conflict (source_id, metric, time) do nothing`;
const columns = (rows: ReadingInput[], base: number) => [
  rows.map((r) => r.sourceId),
  rows.map((r) => r.metric),
  rows.map((r) => r.time),
  rows.map((r) => r.value),
  rows.map(() => '/min'),
  rows.map(() => 'GOOD'),
  rows.map((_, i) => String(base + i + 1)),
];

interface Run {
  readingsPerSecond: number;
  /** The server process's CPU (all threads) per reading, µs; platform runs only. */
  serverCpuMicros?: number;
}

interface Side {
  /** Sends `batches` of `size` readings starting at `offset` seconds. */
  run(size: number, batches: number, offset: number, label: string): Promise<Run>;
  close(): Promise<void>;
}

/** The raw baseline: its own schema (servers) or on-disk PGlite (embedded) with the platform's tables. */
async function openRaw(options: IngestOptions): Promise<Side> {
  let insert: (rows: ReadingInput[], base: number) => Promise<unknown>;
  let close: () => Promise<void>;
  if (options.databaseUrl) {
    const schema = `bench_raw_${process.pid}`;
    const admin = postgres(options.databaseUrl, { max: 1, onnotice: () => undefined });
    await admin.unsafe(`drop schema if exists ${schema} cascade; create schema ${schema}`);
    await admin.end();
    const client = postgres(options.databaseUrl, { max: options.concurrency, onnotice: () => undefined, connection: { search_path: schema } });
    const { drizzle: drizzlePg } = await import('drizzle-orm/postgres-js');
    await migrateDatabase(drizzlePg(client) as unknown as Db, schema);
    insert = (rows, base) => client.unsafe(INSERT, columns(rows, base) as never);
    close = async () => {
      await client.unsafe(`drop schema ${schema} cascade`);
      await client.end();
    };
  } else {
    // On disk like the server's, so both sides pay the same storage.
    const rawDir = mkdtempSync(join(tmpdir(), 'vigil-bench-raw-'));
    const pg = await PGlite.create({ dataDir: rawDir, extensions: { timescaledb } });
    await pg.exec(`load 'timescaledb'`);
    await migrateDatabase(drizzle(pg) as unknown as Db, 'public');
    insert = (rows, base) => pg.query(INSERT, columns(rows, base));
    close = async () => {
      await pg.close();
      rmSync(rawDir, { recursive: true, force: true });
    };
  }
  let cursor = 0;
  return {
    async run(size, batches, offset, label) {
      const prepared = Array.from({ length: batches }, (_, b) => makeReadings(size, b, offset));
      const base = cursor;
      cursor += batches * size;
      return { readingsPerSecond: await pipelined(options.concurrency, batches, size, label, async (b) => void (await insert(prepared[b]!, base + b * size))) };
    },
    close,
  };
}

/** The platform: GraphQL ingestReadings against a server process, over its own keep-alive connections per run. */
function platformSide(server: Platform, concurrency: number): Side {
  const query = print(IngestReadingsDocument);
  return {
    async run(size, batches, offset, label) {
      const bodies = Array.from({ length: batches }, (_, b) => JSON.stringify({ query, variables: { readings: makeReadings(size, b, offset) } }));
      // Its own keep-alive connections: one left idle from an earlier phase may be closed by the server as it is reused.
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      try {
        const cpuBefore = cpuSeconds(server.pid);
        const readingsPerSecond = await pipelined(concurrency, batches, size, label, async (b) => {
          const answer = (await postJson(agent, server.url, bodies[b]!)) as { data?: { ingestReadings: { accepted: number } }; errors?: unknown };
          if (!answer.data || answer.data.ingestReadings.accepted !== size) throw new Error(`ingest failed: ${JSON.stringify(answer).slice(0, 300)}`);
        });
        return { readingsPerSecond, serverCpuMicros: ((cpuSeconds(server.pid) - cpuBefore) * 1e6) / (batches * size) };
      } finally {
        agent.destroy();
      }
    },
    close: async () => undefined,
  };
}

/** Event times (seconds from the data's start) 11.6 days apart per run (a run of 100,000 readings spans 167 s), so no two runs' readings share a natural key. */
let nextOffset = 0;
const freshOffset = () => (nextOffset += 1_000_000);

/** Small batches are slow (batches of 10: ~5k readings/s); 2,000 of them is a run of several seconds. */
const MAX_BATCHES_PER_RUN = 2_000;

/** Warm-up, then `repeats` measured runs of each side in turns; each side's best readings/s. */
async function bestOf(options: IngestOptions, sides: { platform: Side; raw?: Side }, size: number): Promise<{ platform: Run; raw?: number }> {
  const batches = Math.max(1, Math.min(MAX_BATCHES_PER_RUN, Math.ceil(options.readings / size)));
  const warmup = Math.max(1, Math.min(batches, Math.ceil(batches / 10)));
  await sides.platform.run(size, warmup, freshOffset(), `GraphQL ingestReadings, batches of ${size}, warm-up`);
  await sides.raw?.run(size, warmup, freshOffset(), `raw insert, batches of ${size}, warm-up`);
  let platform: Run = { readingsPerSecond: 0 };
  let raw = 0;
  for (let r = 1; r <= options.repeats; r++) {
    const of = `run ${r}/${options.repeats}`;
    const run = await sides.platform.run(size, batches, freshOffset(), `GraphQL ingestReadings, batches of ${size}, ${of}`);
    if (run.readingsPerSecond > platform.readingsPerSecond) platform = run;
    if (sides.raw) raw = Math.max(raw, (await sides.raw.run(size, batches, freshOffset(), `raw insert, batches of ${size}, ${of}`)).readingsPerSecond);
  }
  return { platform, raw: sides.raw ? raw : undefined };
}

/** A fresh platform (bench/support/platform.ts: own data directory or schema) with the bench sources registered; stopped and dropped after `use`. */
async function withServer<T>(options: IngestOptions, mode: { processors: boolean; parallel?: boolean }, use: (platform: Platform) => Promise<T>): Promise<T> {
  const platform = await startPlatform({
    name: `ingest${mode.parallel ? '_par' : ''}${mode.processors ? '_p' : ''}`,
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    processors: mode.processors,
    env: { PARALLEL_INGEST: mode.parallel ? 'on' : 'off' },
  });
  try {
    await platform.gql(RegisterSourcesDocument, {
      sources: Array.from({ length: PATIENTS }, (_, i) => ({ id: `bench-${i}`, kind: 'PATIENT' as const, name: `Bench ${i}` })),
    });
    return await use(platform);
  } finally {
    await platform.stop();
  }
}

/**
 * The ingest path against the raw insert with the processors off (the raw side processes nothing), then
 * the largest batches again with the processors on: what the node accepts while it also computes windows,
 * anomalies, NEWS2 and alert rules from what it stores (on the embedded default they share its PGlite).
 * On the servers, the largest batches also with PARALLEL_INGEST=on (db/offsets.ts), processors off and on.
 */
export async function runIngest(options: IngestOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  const rawRates = new Map<number, number>();
  const largest = Math.max(...options.sizes);
  const raw = await openRaw(options);
  try {
    await withServer(options, { processors: false }, async (server) => {
      const platform = platformSide(server, options.concurrency);
      for (const size of options.sizes) {
        const best = await bestOf(options, { platform, raw }, size);
        rawRates.set(size, best.raw!);
        figures.push({
          name: `ingest, batches of ${size}, ${options.concurrency} in flight`,
          unit: 'readings/s',
          platform: best.platform.readingsPerSecond,
          baseline: best.raw!,
          ratio: best.platform.readingsPerSecond / best.raw!,
          target: size >= 1000 ? '≥ 0.7' : undefined,
        });
        figures.push({ name: `ingest, batches of ${size}: server CPU per reading (all threads)`, unit: 'µs', platform: best.platform.serverCpuMicros!, baseline: null, ratio: null });
      }
    });
    if (options.databaseUrl) {
      await withServer(options, { processors: false, parallel: true }, async (server) => {
        const best = await bestOf(options, { platform: platformSide(server, options.concurrency), raw }, largest);
        const rate = best.platform.readingsPerSecond;
        figures.push({ name: `ingest with PARALLEL_INGEST=on, batches of ${largest}, ${options.concurrency} in flight`, unit: 'readings/s', platform: rate, baseline: best.raw!, ratio: rate / best.raw! });
      });
    }
  } finally {
    await raw.close();
  }
  const baseline = rawRates.get(largest)!;
  for (const parallel of options.databaseUrl ? [false, true] : [false]) {
    await withServer(options, { processors: true, parallel }, async (server) => {
      const best = await bestOf(options, { platform: platformSide(server, options.concurrency) }, largest);
      const rate = best.platform.readingsPerSecond;
      const name = `ingest with processors on${parallel ? ' and PARALLEL_INGEST=on' : ''}, batches of ${largest}, ${options.concurrency} in flight`;
      figures.push({ name, unit: 'readings/s', platform: rate, baseline, ratio: rate / baseline });
    });
  }
  return figures;
}

export async function benchIngest(): Promise<Figure[]> {
  // Not strict: the other benchmarks' names share argv (`npm run bench -- ingest live`).
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: false,
    allowPositionals: true,
    options: {
      readings: { type: 'string', default: '100000' },
      sizes: { type: 'string', default: '1000,10' },
      concurrency: { type: 'string', default: '4' },
      repeats: { type: 'string', default: '2' },
    },
  });
  const positive = (name: string, raw: unknown) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, got ${JSON.stringify(raw)}`);
    return n;
  };
  return runIngest({
    readings: positive('readings', values.readings),
    sizes: String(values.sizes).split(',').map((size) => positive('sizes', size)),
    concurrency: positive('concurrency', values.concurrency),
    repeats: positive('repeats', values.repeats),
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
  });
}
