import { and, asc, sql } from 'drizzle-orm';
import type { News2Score } from '../processors/news2.js';
import { ownedBy } from './sources.js';
import type { Db } from './client.js';
import { news2Scores } from './schema.js';
import { upsertAll } from './processor-outputs.js';

/** Stores each patient's score unless a newer one is stored; returns those stored, which are the ones to publish. */
export async function upsertNews2(tx: Db, scores: readonly News2Score[]): Promise<News2Score[]> {
  const written = await upsertAll(
    tx,
    news2Scores,
    scores.map((s) => ({ sourceId: s.sourceId, time: new Date(s.time), total: s.total, risk: s.risk, scores: s.scores, values: s.values, updatedAt: sql`now()` as never })),
    [news2Scores.sourceId],
    // A patient's current score: never replaced by an older one (a replay after a restart passes through them).
    sql`excluded.time >= ${news2Scores.time}`,
  );
  const stored = new Set(written);
  return scores.filter((s) => stored.has(s.sourceId));
}

/** A tenant's current scores ordered by patient id: `sourceIds` only (when given), after `after`, at most `limit`. */
export async function listNews2(db: Db, options: { tenantId: string; sourceIds?: readonly string[] | null; after?: string | null; limit: number }) {
  return db
    .select()
    .from(news2Scores)
    .where(
      and(
        ownedBy(news2Scores.sourceId, options.tenantId),
        options.sourceIds?.length ? sql`${news2Scores.sourceId} = any(${sql.param([...options.sourceIds])}::text[])` : undefined,
        options.after ? sql`${news2Scores.sourceId} > ${options.after}` : undefined,
      ),
    )
    .orderBy(asc(news2Scores.sourceId))
    .limit(options.limit);
}
