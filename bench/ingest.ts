/**
 * Ingest throughput: readings/s through the GraphQL batch mutation (server in
 * its own process) against a raw multi-row insert (unnest) of the same rows
 * into the same table layout, in the same run. Embedded by default; with
 * DATABASE_URL (and REDIS_URL) against the real servers.
 *
 *   npm run bench -- ingest [--readings 20000] [--sizes 1000,10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
import { startServerProcess } from '../test/support/server-process.js';
import { progress, type Figure } from './report.js';

// Not strict: the other benchmarks' names share argv (`npm run bench -- ingest live`).
const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: false,
  allowPositionals: true,
  options: { readings: { type: 'string', default: '20000' }, sizes: { type: 'string', default: '1000,10' } },
});
const total = Number(values.readings);
const sizes = String(values.sizes).split(',').map(Number);
const PATIENTS = 100;
const METRICS = ['heart_rate', 'spo2', 'resp_rate', 'temperature', 'bp_systolic', 'bp_diastolic'];

function makeReadings(count: number, offsetSeconds: number): ReadingInput[] {
  const start = Date.parse('2025-01-01T00:00:00Z') + offsetSeconds * 1000;
  return Array.from({ length: count }, (_, i) => ({
    sourceId: `bench-${i % PATIENTS}`,
    metric: METRICS[Math.floor(i / PATIENTS) % METRICS.length]!,
    time: new Date(start + Math.floor(i / (PATIENTS * METRICS.length)) * 1000).toISOString(),
    value: 60 + (i % 40),
  }));
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
    const client = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => undefined, connection: { search_path: schema } });
    const { drizzle: drizzlePg } = await import('drizzle-orm/postgres-js');
    await migrateDatabase(drizzlePg(client) as unknown as Db, schema);
    insert = (rows, base) => client.unsafe(INSERT, columns(rows, base) as never);
    close = async () => {
      await client.unsafe(`drop schema ${schema} cascade`);
      await client.end();
    };
  } else {
    const pg = await PGlite.create({ extensions: { timescaledb } });
    await pg.exec(`load 'timescaledb'`);
    await migrateDatabase(drizzle(pg) as unknown as Db, 'public');
    insert = (rows, base) => pg.query(INSERT, columns(rows, base));
    close = () => pg.close();
  }
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    await insert(makeReadings(size, offset + b * 1_000), b * size);
    progress(`raw insert, batches of ${size}`, b + 1, batches);
  }
  const seconds = (performance.now() - started) / 1000;
  await close();
  return (batches * size) / seconds;
}

async function viaGraphql(url: string, size: number, offset: number): Promise<number> {
  const batches = Math.ceil(total / size);
  const query = print(IngestReadingsDocument);
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables: { readings: makeReadings(size, offset + b * 1_000) } }),
    });
    const body = (await response.json()) as { data?: { ingestReadings: { accepted: number } }; errors?: unknown };
    if (!body.data || body.data.ingestReadings.accepted !== size) throw new Error(`ingest failed: ${JSON.stringify(body).slice(0, 300)}`);
    progress(`GraphQL ingestReadings, batches of ${size}`, b + 1, batches);
  }
  return (batches * size) / ((performance.now() - started) / 1000);
}

export async function benchIngest(): Promise<Figure[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const env: Record<string, string> = process.env.DATABASE_URL
    ? { DATABASE_SCHEMA: `bench_${process.pid}` }
    : { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
  const server = await startServerProcess(env);
  const figures: Figure[] = [];
  try {
    await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: print(RegisterSourcesDocument),
        variables: { sources: Array.from({ length: PATIENTS }, (_, i) => ({ id: `bench-${i}`, kind: 'PATIENT', name: `Bench ${i}` })) },
      }),
    });
    for (const [i, size] of sizes.entries()) {
      const platform = await viaGraphql(server.url, size, i * 10_000_000);
      const raw = await rawInsert(size, i * 10_000_000);
      figures.push({ name: `ingest, batches of ${size}`, unit: 'readings/s', platform, baseline: raw, ratio: platform / raw, target: size >= 1000 ? '≥ 0.7' : undefined });
    }
  } finally {
    await server.stop();
    if (process.env.DATABASE_URL) {
      const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => undefined });
      await admin.unsafe(`drop schema if exists bench_${process.pid} cascade`);
      await admin.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
