import { and, asc, isNull, sql } from 'drizzle-orm';
import type { News2Score } from '../processors/news2.js';
import type { Db } from './client.js';
import { news2Scores, sources } from './schema.js';
import { currentStay } from './sources.js';
import { upsertAll } from './processor-outputs.js';

/** Stores each patient's score unless a newer one is stored; returns those stored, which are the ones to publish. */
export async function upsertNews2(tx: Db, scores: readonly News2Score[]): Promise<News2Score[]> {
  const written = await upsertAll(
    tx,
    news2Scores,
    scores.map((s) => ({
      sourceId: s.sourceId,
      time: new Date(s.time),
      total: s.total,
      risk: s.risk,
      scores: s.scores,
      values: s.values,
      times: s.times ?? null,
      stay: s.stay === null ? null : new Date(s.stay),
      updatedAt: sql`now()` as never,
    })),
    [news2Scores.sourceId],
    // A patient's current score: never replaced by an older one of its stay (a replay after a restart passes through
    // them), nor by one of an earlier stay; a later stay's replaces it whatever the devices' clocks say.
    sql`(excluded.stay is not distinct from ${news2Scores.stay} and excluded.time >= ${news2Scores.time})
      or coalesce(excluded.stay, '-infinity') > coalesce(${news2Scores.stay}, '-infinity')`,
  );
  if (written.length === 0) return [];
  // Published only if of the patient's current stay: a pipeline behind a discharge or readmission scores readings
  // of the earlier stay after it, and subscribers would take them for the patient's score now.
  const current = await tx
    .select({
      id: sources.id,
      stay: sql<number | null>`(extract(epoch from ${currentStay}) * 1000)::float8`,
    })
    .from(sources)
    .where(and(sql`${sources.id} = any(${sql.param(written)}::text[])`, isNull(sources.retiredAt)));
  const stayOf = new Map(current.map((c) => [c.id, c.stay === null ? null : Number(c.stay)]));
  return scores.filter((s) => stayOf.has(s.sourceId) && stayOf.get(s.sourceId) === s.stay);
}

/**
 * A tenant's current scores ordered by patient id: `sourceIds` only (when given), after `after`, at most `limit`.
 * Current means of this stay: none for a discharged patient (a retired source), and none scored in an earlier stay
 * (the processors start a readmitted patient's vitals afresh, so until all six are measured again the stored score
 * is the earlier stay's, and one may be stored after the readmission by a pipeline that was behind).
 */
export async function listNews2(db: Db, options: { tenantId: string; sourceIds?: readonly string[] | null; after?: string | null; limit: number }) {
  return db
    .select()
    .from(news2Scores)
    .where(
      and(
        sql`exists (select 1 from ${sources} where ${sources.id} = ${news2Scores.sourceId} and ${sources.tenantId} = ${options.tenantId}
          and ${sources.retiredAt} is null and ${news2Scores.stay} is not distinct from ${currentStay})`,
        options.sourceIds?.length ? sql`${news2Scores.sourceId} = any(${sql.param([...options.sourceIds])}::text[])` : undefined,
        options.after ? sql`${news2Scores.sourceId} > ${options.after}` : undefined,
      ),
    )
    .orderBy(asc(news2Scores.sourceId))
    .limit(options.limit);
}
