import { and, asc, eq, sql } from 'drizzle-orm';
import type { WindowAggregate } from '../processors/windows.js';
import type { Db } from './client.js';
import { windowAggregates } from './schema.js';
import { startRange, upsertAll, type StartRange } from './processor-outputs.js';

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
