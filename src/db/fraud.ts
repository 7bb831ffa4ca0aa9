import { and, desc, lt, sql } from 'drizzle-orm';
import type { FraudSignal } from '../processors/fraud.js';
import type { Db } from './client.js';
import { fraudSignals } from './schema.js';
import { upsertAll } from './processor-outputs.js';

/** A signal as the pipelines store and publish it: stamped with its tenant (processors/tenant-scope.ts). */
export type TenantFraudSignal = FraudSignal & { tenantId: string };

/**
 * A velocity burst grows while it lasts: the same id is re-emitted with more transactions. Returns the signals
 * stored new or changed, which are the ones to publish (a replay re-emits unchanged ones).
 */
export async function upsertFraudSignals(tx: Db, signals: readonly TenantFraudSignal[]): Promise<TenantFraudSignal[]> {
  const t = fraudSignals;
  const rows = signals.map((s) => ({
    id: s.id,
    tenantId: s.tenantId,
    kind: s.kind,
    subject: s.subject,
    time: new Date(s.time),
    transactionIds: s.transactionIds,
    details: s.details,
    message: s.message,
    updatedAt: sql`now()` as never,
    // A fresh number each time the signal changes, so the newest-first list puts a burst that grew first.
    seq: sql`default` as never,
  }));
  // A signal re-emitted as it was (a replay after a restart) keeps its place and its updatedAt.
  const written = await upsertAll(
    tx,
    t,
    rows,
    [t.id],
    sql`(${t.time}, ${t.transactionIds}, ${t.details}, ${t.message}) is distinct from (excluded.time, excluded.transaction_ids, excluded.details, excluded.message)`,
  );
  const stored = new Set(written);
  return signals.filter((s) => stored.has(s.id));
}

export async function listFraudSignals(
  db: Db,
  q: { tenantId: string; kinds?: readonly string[] | null; subjects?: readonly string[] | null; from?: Date | null; to?: Date | null; before: bigint | null; limit: number },
) {
  const t = fraudSignals;
  return db
    .select()
    .from(t)
    .where(
      and(
        sql`${t.tenantId} = ${q.tenantId}`,
        q.kinds?.length ? sql`${t.kind} = any(${sql.param([...q.kinds])}::text[])` : undefined,
        q.subjects?.length ? sql`${t.subject} = any(${sql.param([...q.subjects])}::text[])` : undefined,
        q.from ? sql`${t.time} >= ${q.from.toISOString()}::timestamptz` : undefined,
        q.to ? sql`${t.time} < ${q.to.toISOString()}::timestamptz` : undefined,
        q.before !== null ? lt(t.seq, q.before) : undefined,
      ),
    )
    .orderBy(desc(t.seq))
    .limit(q.limit);
}
