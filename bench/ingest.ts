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
 * The ingest path is measured with the processors off (the raw side computes
 * nothing), then the largest batches again with them on.
 *
 *   npm run bench -- ingest [--readings 20000] [--sizes 1000,10] [--concurrency 4]
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
import { startPlatform } from './support/platform.js';

// Not strict: the other benchmarks' names share argv (`npm run bench -- ingest live`).
const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: false,
  allowPositionals: true,
  options: { readings: { type: 'string', default: '20000' }, sizes: { type: 'string', default: '1000,10' }, concurrency: { type: 'string', default: '4' } },
});
const total = Number(values.readings);
const sizes = String(values.sizes).split(',').map(Number);
const concurrency = Math.max(1, Number(values.concurrency));

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

/** Runs send(0..count-1) with at most `concurrency` in flight; calls onDone after each. */
async function pipelined(count: number, send: (i: number) => Promise<void>, onDone: (done: number) => void) {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        await send(next++);
        onDone(++done);
      }
    }),
  );
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

async function rawInsert(size: number, offset: number): Promise<number> {
  const batches = Math.ceil(total / size);
  let insert: (rows: ReadingInput[], base: number) => Promise<unknown>;
  let close: () => Promise<void>;
  if (process.env.DATABASE_URL) {
    const schema = `bench_raw_${process.pid}`;
    const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => undefined });
    await admin.unsafe(`drop schema if exists ${schema} cascade; create schema ${schema}`);
    await admin.end();
    const client = postgres(process.env.DATABASE_URL, { max: concurrency, onnotice: () => undefined, connection: { search_path: schema } });
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
  const prepared = Array.from({ length: batches }, (_, b) => makeReadings(size, b, offset));
  const started = performance.now();
  await pipelined(
    batches,
    async (b) => void (await insert(prepared[b]!, b * size)),
    (done) => progress(`raw insert, batches of ${size}`, done, batches),
  );
  const seconds = (performance.now() - started) / 1000;
  await close();
  return (batches * size) / seconds;
}

async function viaGraphql(url: string, size: number, offset: number): Promise<number> {
  const batches = Math.ceil(total / size);
  const query = print(IngestReadingsDocument);
  const bodies = Array.from({ length: batches }, (_, b) => JSON.stringify({ query, variables: { readings: makeReadings(size, b, offset) } }));
  // Its own keep-alive connections: one left idle from an earlier phase may be closed by the server as it is reused.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const started = performance.now();
  await pipelined(
    batches,
    async (b) => {
      const answer = (await postJson(agent, url, bodies[b]!)) as { data?: { ingestReadings: { accepted: number } }; errors?: unknown };
      if (!answer.data || answer.data.ingestReadings.accepted !== size) throw new Error(`ingest failed: ${JSON.stringify(answer).slice(0, 300)}`);
    },
    (done) => progress(`GraphQL ingestReadings, batches of ${size}`, done, batches),
  );
  agent.destroy();
  return (batches * size) / ((performance.now() - started) / 1000);
}

/** A fresh platform (bench/support/platform.ts: own data directory or schema) with the bench sources registered; stopped and dropped after `use`. */
async function withServer<T>(processors: boolean, use: (url: string) => Promise<T>): Promise<T> {
  const platform = await startPlatform({
    name: processors ? 'ingest_p' : 'ingest',
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    processors,
  });
  try {
    await platform.gql(RegisterSourcesDocument, {
      sources: Array.from({ length: PATIENTS }, (_, i) => ({ id: `bench-${i}`, kind: 'PATIENT' as const, name: `Bench ${i}` })),
    });
    return await use(platform.url);
  } finally {
    await platform.stop();
  }
}

/**
 * The ingest path against the raw insert with the processors off (the raw side processes nothing), then
 * the largest batches again with the processors on: what the node accepts while it also computes windows,
 * anomalies, NEWS2 and alert rules from what it stores (on the embedded default they share its PGlite).
 */
export async function benchIngest(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const raw = new Map<number, number>();
  await withServer(false, async (url) => {
    for (const [i, size] of sizes.entries()) {
      const platform = await viaGraphql(url, size, i * 10_000_000);
      raw.set(size, await rawInsert(size, i * 10_000_000));
      figures.push({ name: `ingest, batches of ${size}, ${concurrency} in flight`, unit: 'readings/s', platform, baseline: raw.get(size)!, ratio: platform / raw.get(size)!, target: size >= 1000 ? '≥ 0.7' : undefined });
    }
  });
  const largest = Math.max(...sizes);
  await withServer(true, async (url) => {
    const platform = await viaGraphql(url, largest, 50_000_000);
    figures.push({ name: `ingest with processors on, batches of ${largest}, ${concurrency} in flight`, unit: 'readings/s', platform, baseline: raw.get(largest)!, ratio: platform / raw.get(largest)! });
  });
  return figures;
}
