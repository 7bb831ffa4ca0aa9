import { sql } from 'drizzle-orm';
import { toInterval } from '../duration.js';
import type { Logger } from '../log.js';
import { rows, type Executor } from './client.js';

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

/**
 * Sets readings' compression and retention policies from config, replacing
 * any set before, so a changed setting takes effect at the next start.
 * TimescaleDB only; without it, retention runs in-process (db/retention.ts).
 */
export async function applyTimescalePolicies(db: Executor, settings: RetentionSettings, log: Logger) {
  const [hypertable] = await rows<{ compression_enabled: boolean }>(
    db,
    sql`select compression_enabled from timescaledb_information.hypertables
        where hypertable_name = 'readings' and hypertable_schema = current_schema()`,
  );
  if (!hypertable) throw new Error('readings is not a hypertable although TimescaleDB is installed');
  if (!hypertable.compression_enabled) {
    await db.execute(
      sql`alter table readings set (timescaledb.compress,
          timescaledb.compress_segmentby = 'source_id, metric',
          timescaledb.compress_orderby = 'time')`,
    );
  }
  await db.execute(sql`select remove_compression_policy('readings', if_exists => true)`);
  await db.execute(
    sql`select add_compression_policy('readings', compress_after => ${toInterval(settings.compressAfterMs)}::interval)`,
  );
  await db.execute(sql`select remove_retention_policy('readings', if_exists => true)`);
  await db.execute(
    sql`select add_retention_policy('readings', drop_after => ${toInterval(settings.retainForMs)}::interval)`,
  );
  log.info(
    { compressAfterMs: settings.compressAfterMs, retainForMs: settings.retainForMs },
    'timescaledb compression and retention policies set on readings',
  );
}
