import { sql, type SQL } from 'drizzle-orm';
import type { Quality } from './schema.js';
import { float8ArrayLiteral, textArrayLiteral } from './array-literals.js';
import { epochMsToTimestamptz, rows, type Executor } from './client.js';
import { cursorPage, onConflictClause, type OnConflict } from './offsets.js';
import { streamStoredAfter } from './seq-order.js';

export const READINGS_STREAM = 'readings';

/** A stored reading; `cursor` orders readings in commit order. */
export interface Reading {
  cursor: bigint;
  sourceId: string;
  metric: string;
  time: Date;
  value: number;
  unit: string;
  quality: Quality;
  /** The tenant that owns the source. */
  tenantId: string;
  /** Epoch ms its batch arrived (readings stored before migration 0012: undefined). */
  receivedAt?: number;
}

export interface ReadingFilter {
  /** Only this tenant's readings. */
  tenantId?: string | null;
  sourceIds?: readonly string[] | null;
  metrics?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
}

interface ReadingRow {
  cursor: string;
  source_id: string;
  metric: string;
  time_ms: number;
  value: number;
  unit: string;
  quality: Quality;
  tenant_id: string;
  received_ms: number | null;
}

// Times and cursors cross as float8 ms and text so both drivers return the same JS types.
const READING_COLUMNS = sql`seq::text as cursor, source_id, metric,
  (extract(epoch from time) * 1000)::float8 as time_ms, value, unit, quality, tenant_id,
  (extract(epoch from received_at) * 1000)::float8 as received_ms`;

function toReading(row: ReadingRow): Reading {
  return {
    cursor: BigInt(row.cursor),
    sourceId: row.source_id,
    metric: row.metric,
    time: new Date(row.time_ms),
    value: row.value,
    unit: row.unit,
    quality: row.quality,
    tenantId: row.tenant_id,
    ...(row.received_ms === null ? {} : { receivedAt: row.received_ms }),
  };
}

/**
 * The INSERT of `readings` for claimAndInsert (db/offsets.ts): one unnest of
 * column arrays (times travel as epoch ms), numbered `claim.base + n` in
 * array order. A row whose (source, metric, time) is already stored is left
 * untouched: skipped, or (onConflict 'fail') the statement fails and nothing
 * of it is stored (ConflictAwareInserts in db/offsets.ts chooses).
 */
export function insertReadingsSql(readings: readonly Omit<Reading, 'cursor' | 'tenantId' | 'receivedAt'>[], tenantId: string, receivedAt: number, onConflict: OnConflict = 'skip'): SQL {
  const n = readings.length;
  const sourceIds = new Array<string>(n);
  const metrics = new Array<string>(n);
  const times = new Array<number>(n);
  const values = new Array<number>(n);
  const units = new Array<string>(n);
  const qualities = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const r = readings[i]!;
    sourceIds[i] = r.sourceId;
    metrics[i] = r.metric;
    times[i] = r.time.getTime();
    values[i] = r.value;
    units[i] = r.unit;
    qualities[i] = r.quality;
  }
  return sql`insert into readings (source_id, metric, time, value, unit, quality, seq, tenant_id, received_at)
    select r.source_id, r.metric, ${epochMsToTimestamptz(sql`r.time`)}, r.value, r.unit, r.quality, claim.base + r.n, ${tenantId}::text,
      ${epochMsToTimestamptz(sql`${receivedAt}::float8`)}
    from claim, unnest(${textArrayLiteral(sourceIds)}::text[], ${textArrayLiteral(metrics)}::text[], ${float8ArrayLiteral(times)}::float8[],
      ${float8ArrayLiteral(values)}::float8[], ${textArrayLiteral(units)}::text[], ${textArrayLiteral(qualities)}::text[])
      with ordinality as r(source_id, metric, time, value, unit, quality, n)
    ${onConflictClause(onConflict, sql`(source_id, metric, time)`)}
    returning seq`;
}

function filterClause(filter: ReadingFilter): SQL {
  const parts: SQL[] = [];
  if (filter.tenantId) parts.push(sql`tenant_id = ${filter.tenantId}`);
  if (filter.sourceIds?.length) parts.push(sql`source_id = any(${sql.param([...filter.sourceIds])}::text[])`);
  if (filter.metrics?.length) parts.push(sql`metric = any(${sql.param([...filter.metrics])}::text[])`);
  if (filter.from) parts.push(sql`time >= ${filter.from.toISOString()}::timestamptz`);
  if (filter.to) parts.push(sql`time < ${filter.to.toISOString()}::timestamptz`);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}

/**
 * Readings with after < cursor <= upTo (upTo omitted: the committed cursor), in cursor
 * order, at most `limit`. Callers page by passing the last cursor back as `after`.
 */
export async function readingsAfter(
  db: Executor,
  after: bigint,
  options: { upTo?: bigint; limit: number; filter?: ReadingFilter },
): Promise<Reading[]> {
  const found = await rows<ReadingRow>(
    db,
    cursorPage({ stream: READINGS_STREAM, table: sql`readings`, columns: READING_COLUMNS, after, limit: options.limit, upTo: options.upTo, where: filterClause(options.filter ?? {}) }),
  );
  return found.map(toReading);
}

/**
 * When the first reading after `cursor` that `filter` takes was stored (its event time, for a row from before
 * received_at); null if none: where a subscription's replay with that filter begins (seq-order.ts streamStoredAfter).
 */
export function readingStoredAfter(db: Executor, cursor: bigint, filter?: ReadingFilter, scanRows?: number): Promise<Date | null> {
  const scan = { from: sql`readings`, seq: sql`seq`, storedAt: sql`coalesce(received_at, time)`, own: filter && filterClause(filter) };
  return streamStoredAfter(db, scan, cursor, scanRows);
}

/** The newest reading of each (source, metric) pair, one index probe per pair. */
export async function latestReadings(
  db: Executor,
  sourceIds: readonly string[],
  metrics: readonly string[],
): Promise<Reading[]> {
  if (sourceIds.length === 0 || metrics.length === 0) return [];
  const found = await rows<ReadingRow>(
    db,
    sql`select ${READING_COLUMNS}
        from unnest(${sql.param([...sourceIds])}::text[]) as s(id)
        cross join unnest(${sql.param([...metrics])}::text[]) as m(name)
        cross join lateral (
          select * from readings r where r.source_id = s.id and r.metric = m.name
          order by r.time desc limit 1
        ) latest
        order by source_id, metric`,
  );
  return found.map(toReading);
}
