import { and, asc, eq, lt, sql } from 'drizzle-orm';
import type { WindowAggregate } from '../processors/windows.js';
import type { Db } from './client.js';
import { windowAggregates } from './schema.js';
import { startRange, type StartRange } from './processor-outputs.js';

/**
 * One unnest statement per batch: drizzle's multi-row VALUES spends more time
 * building 15 parameters a row than PostgreSQL spends running it (measured
 * 140 ms of 230 ms for 800 windows on PGlite; unnest: 50-60 ms). Booleans
 * travel as text: postgres.js cannot send a boolean array parameter.
 */
export async function upsertWindows(tx: Db, outputs: readonly WindowAggregate[]): Promise<void> {
  if (outputs.length === 0) return;
  const col = <T>(pick: (w: WindowAggregate) => T) => sql.param(outputs.map(pick));
  await tx.execute(sql`
    insert into window_aggregates (source_id, metric, size_ms, hop_ms, start_time, end_time, count, min, max, avg, stddev, first, last, closed, updated_at)
    select s, m, sz, hp, st::timestamptz, en::timestamptz, c, mn, mx, av, sd, f, l, cl, now()
    from unnest(${col((w) => w.sourceId)}::text[], ${col((w) => w.metric)}::text[], ${col((w) => w.sizeMs)}::int8[], ${col((w) => w.hopMs)}::int8[],
      ${col((w) => new Date(w.start).toISOString())}::text[], ${col((w) => new Date(w.end).toISOString())}::text[],
      ${col((w) => w.count)}::int4[], ${col((w) => w.min)}::float8[], ${col((w) => w.max)}::float8[], ${col((w) => w.avg)}::float8[],
      ${col((w) => w.stddev)}::float8[], ${col((w) => w.first)}::float8[], ${col((w) => w.last)}::float8[], ${col((w) => String(w.closed))}::text[]::bool[])
      as u(s, m, sz, hp, st, en, c, mn, mx, av, sd, f, l, cl)
    on conflict (source_id, metric, size_ms, hop_ms, start_time) do update set
      end_time = excluded.end_time, count = excluded.count, min = excluded.min, max = excluded.max, avg = excluded.avg,
      stddev = excluded.stddev, first = excluded.first, last = excluded.last, closed = excluded.closed, updated_at = excluded.updated_at
    -- A final output is never reopened (a replay passing through its open states, a stale writer).
    where not window_aggregates.closed or excluded.closed`);
}

/**
 * The end of each series' latest closed window stored before `storedBefore`, whatever its spec: a checkpoint
 * written then had a watermark past it (outputs are stored before the checkpoint that follows them, and those
 * stored after it may be replayed). For checkpoints written before watermarks were kept (processors/runtime.ts
 * restore). One scan of the table, once per such start.
 */
export async function closedWindowEnds(db: Db, storedBefore: Date): Promise<{ sourceId: string; metric: string; end: Date }[]> {
  const t = windowAggregates;
  return db
    .select({ sourceId: t.sourceId, metric: t.metric, end: sql<Date>`max(${t.end})`.mapWith(t.end) })
    .from(t)
    .where(and(eq(t.closed, true), lt(t.updatedAt, storedBefore)))
    .groupBy(t.sourceId, t.metric);
}

export interface WindowQuery extends StartRange {
  sourceId: string;
  metric: string;
  sizeMs: number;
  hopMs: number;
}

/** Stored windows of one series and spec with from <= start < to, oldest first, keyset-paged on start. */
export async function listWindows(db: Db, q: WindowQuery) {
  const t = windowAggregates;
  return db
    .select()
    .from(t)
    .where(
      and(
        eq(t.sourceId, q.sourceId),
        eq(t.metric, q.metric),
        eq(t.sizeMs, q.sizeMs),
        eq(t.hopMs, q.hopMs),
        ...startRange(t, q),
      ),
    )
    .orderBy(asc(t.start))
    .limit(q.limit);
}
