import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { migrateDatabase } from './migrate.js';
import * as schema from './schema.js';
import { hasTimescale } from './timescale.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** Anything that runs SQL: the database or an open transaction. */
export type Executor = Pick<Db, 'execute'>;

export interface Database {
  readonly db: Db;
  readonly driver: 'pglite' | 'postgres';
  /** True when the TimescaleDB extension is installed in this database. */
  readonly timescale: boolean;
  /** Round trip to the server; rejects when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Rows of a raw query, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
export async function rows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * Opens the configured database and applies migrations.
 * `pglite`: embedded PostgreSQL with TimescaleDB, data in `dataDir`
 * (`memory://` keeps nothing). `postgres`: a server through postgres.js,
 * tables in `schema` (created if missing). Throws if the server is
 * unreachable or a migration fails; nothing is left open then.
 */
export async function openDatabase(config: Config['database'], log: Logger): Promise<Database> {
  const opened = config.driver === 'pglite' ? await openPglite(config.dataDir) : await openPostgres(config);
  try {
    await migrateDatabase(opened.db, config.driver === 'postgres' ? config.schema : 'public');
    const timescale = await hasTimescale(opened.db);
    log.info(
      {
        driver: opened.driver,
        where: config.driver === 'pglite' ? config.dataDir : redact(config.url),
        timescale,
      },
      timescale
        ? 'database ready: TimescaleDB hypertables, time_bucket and gapfill in use'
        : 'database ready: plain PostgreSQL (no TimescaleDB extension): plain tables, date_bin bucketing, in-process retention',
    );
    return { ...opened, timescale };
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}

async function openPglite(dataDir: string): Promise<Omit<Database, 'timescale'>> {
  const inMemory = dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create({ dataDir: inMemory ? undefined : dataDir, extensions: { timescaledb } });
  // PGlite cannot preload libraries. Without this, a reopened data directory
  // refuses inserts into hypertables ("extension has not been preloaded") and
  // loses TimescaleDB's community-licensed functions.
  await client.exec(`load 'timescaledb'`);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    driver: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}

async function openPostgres(
  config: Extract<Config['database'], { driver: 'postgres' }>,
): Promise<Omit<Database, 'timescale'>> {
  const ensureSchema = postgres(config.url, { max: 1, onnotice: () => undefined });
  try {
    await ensureSchema.unsafe(`create schema if not exists "${config.schema}"`);
  } finally {
    await ensureSchema.end();
  }
  const client = postgres(config.url, {
    max: config.poolSize,
    onnotice: () => undefined,
    connection: { search_path: config.schema, application_name: 'vigil' },
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  return {
    db,
    driver: 'postgres',
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
