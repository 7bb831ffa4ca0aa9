import { sql } from 'drizzle-orm';
import { toInterval } from '../duration.js';
import type { Logger } from '../log.js';
import { rows, type Db, type Executor } from './client.js';
import { lockUntilCommit } from './advisory-lock.js';

export async function hasTimescale(db: Executor): Promise<boolean> {
  const [row] = await rows<{ present: boolean }>(
    db,
    sql`select exists (select 1 from pg_extension where extname = 'timescaledb') as present`,
  );
  return row?.present === true;
}

export interface RetentionSettings {
  compressAfterMs: number;
  retainForMs: number;
}

/** Raw event tables: hypertables on TimescaleDB, each compressed by series. */
export const EVENT_TABLES = [
  { table: 'readings', segmentBy: 'source_id, metric' },
  { table: 'trades', segmentBy: 'symbol' },
] as const;

/**
 * Sets the event tables' compression and retention policies from config,
 * replacing any set before, so a changed setting takes effect at the next
 * start. TimescaleDB only; without it, retention runs in-process (db/retention.ts).
 */
export async function applyTimescalePolicies(database: Db, settings: RetentionSettings, log: Logger) {
  // Nodes starting together take turns: one's remove_…_policy between another's remove and add made that add fail.
  await database.transaction(async (tx) => {
    await lockUntilCommit(tx, 'timescale-policies');
    await setPolicies(tx, settings);
  });
  log.info(
    { compressAfterMs: settings.compressAfterMs, retainForMs: settings.retainForMs, tables: EVENT_TABLES.map((t) => t.table) },
    'timescaledb compression and retention policies set',
  );
}

async function setPolicies(db: Executor, settings: RetentionSettings) {
  for (const { table, segmentBy } of EVENT_TABLES) {
    const [hypertable] = await rows<{ compression_enabled: boolean }>(
      db,
      sql`select compression_enabled from timescaledb_information.hypertables
          where hypertable_name = ${table} and hypertable_schema = current_schema()`,
    );
    if (!hypertable) throw new Error(`${table} is not a hypertable although TimescaleDB is installed`);
    const name = sql.identifier(table);
    if (!hypertable.compression_enabled) {
      await db.execute(
        sql`alter table ${name} set (timescaledb.compress,
            timescaledb.compress_segmentby = ${sql.raw(`'${segmentBy}'`)},
            timescaledb.compress_orderby = 'time')`,
      );
    }
    await db.execute(sql`select remove_compression_policy(${table}::regclass, if_exists => true)`);
    await db.execute(sql`select add_compression_policy(${table}::regclass, compress_after => ${toInterval(settings.compressAfterMs)}::interval)`);
    await db.execute(sql`select remove_retention_policy(${table}::regclass, if_exists => true)`);
    await db.execute(sql`select add_retention_policy(${table}::regclass, drop_after => ${toInterval(settings.retainForMs)}::interval)`);
  }
}
