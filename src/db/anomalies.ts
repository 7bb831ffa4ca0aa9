import { and, asc, gt, gte, lt, sql } from 'drizzle-orm';
import type { AnomalyFlag } from '../processors/anomaly.js';
import { ownedBy } from './sources.js';
import type { Db } from './client.js';
import { anomalies } from './schema.js';

/** Flags are deterministic per reading, so a replayed one is already stored and skipped. */
export async function insertAnomalies(tx: Db, flags: readonly AnomalyFlag[]): Promise<void> {
  for (let i = 0; i < flags.length; i += 2_000) {
    await tx
      .insert(anomalies)
      .values(
        flags.slice(i, i + 2_000).map((f) => ({
          sourceId: f.sourceId,
          metric: f.metric,
          time: new Date(f.time),
          value: f.value,
          cursor: BigInt(f.cursor),
          mean: f.mean,
          stddev: f.stddev,
          zScore: f.zScore,
        })),
      )
      .onConflictDoNothing();
  }
}

/** Stored flags in reading-cursor order, filtered; keyset-paged on the reading's cursor. */
export async function listAnomalies(
  db: Db,
  q: { tenantId: string; sourceIds?: readonly string[] | null; metrics?: readonly string[] | null; from?: Date | null; to?: Date | null; after: bigint | null; limit: number },
) {
  return db
    .select()
    .from(anomalies)
    .where(
      and(
        ownedBy(anomalies.sourceId, q.tenantId),
        q.sourceIds?.length ? sql`${anomalies.sourceId} = any(${sql.param([...q.sourceIds])}::text[])` : undefined,
        q.metrics?.length ? sql`${anomalies.metric} = any(${sql.param([...q.metrics])}::text[])` : undefined,
        q.from ? gte(anomalies.time, q.from) : undefined,
        q.to ? lt(anomalies.time, q.to) : undefined,
        q.after !== null ? gt(anomalies.cursor, q.after) : undefined,
      ),
    )
    .orderBy(asc(anomalies.cursor))
    .limit(q.limit);
}
