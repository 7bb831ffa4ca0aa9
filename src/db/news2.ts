import { and, asc, sql } from 'drizzle-orm';
import type { News2Score } from '../processors/news2.js';
import { ownedBy } from './sources.js';
import type { Db } from './client.js';
import { news2Scores } from './schema.js';
import { upsertAll } from './processor-outputs.js';

export async function upsertNews2(tx: Db, scores: readonly News2Score[]): Promise<void> {
  await upsertAll(
    tx,
    news2Scores,
    scores.map((s) => ({ sourceId: s.sourceId, time: new Date(s.time), total: s.total, risk: s.risk, scores: s.scores, values: s.values, updatedAt: sql`now()` as never })),
    [news2Scores.sourceId],
  );
}

export async function listNews2(db: Db, tenantId: string, sourceIds: readonly string[] | null | undefined) {
  return db
    .select()
    .from(news2Scores)
    .where(
      and(
        ownedBy(news2Scores.sourceId, tenantId),
        sourceIds?.length ? sql`${news2Scores.sourceId} = any(${sql.param([...sourceIds])}::text[])` : undefined,
      ),
    )
    .orderBy(asc(news2Scores.sourceId));
}
