import { and, asc, eq, gt, gte, lt, sql } from 'drizzle-orm';
import type { WindowAggregate } from '../processors/windows.js';
import type { Db } from './client.js';
import { windowAggregates } from './schema.js';
import { upsertAll } from './upsert.js';

export async function upsertWindows(tx: Db, outputs: readonly WindowAggregate[]): Promise<void> {
  const t = windowAggregates;
  await upsertAll(
    tx,
    t,
    outputs.map((w) => ({
      sourceId: w.sourceId,
      metric: w.metric,
      sizeMs: w.sizeMs,
      hopMs: w.hopMs,
      start: new Date(w.start),
      end: new Date(w.end),
      count: w.count,
      min: w.min,
      max: w.max,
      avg: w.avg,
      stddev: w.stddev,
      first: w.first,
      last: w.last,
      closed: w.closed,
      updatedAt: sql`now()` as never,
    })),
    [t.sourceId, t.metric, t.sizeMs, t.hopMs, t.start],
  );
}

export interface WindowQuery {
  sourceId: string;
  metric: string;
  sizeMs: number;
  hopMs: number;
  from: Date;
  to: Date;
  closedOnly: boolean;
  /** Window start to page after. */
  after: Date | null;
  limit: number;
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
        gte(t.start, q.from),
        lt(t.start, q.to),
        q.after ? gt(t.start, q.after) : undefined,
        q.closedOnly ? eq(t.closed, true) : undefined,
      ),
    )
    .orderBy(asc(t.start))
    .limit(q.limit);
}
