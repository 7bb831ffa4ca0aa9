import { and, asc, desc, inArray, lt, sql } from 'drizzle-orm';
import type { FraudSignal } from '../processors/fraud.js';
import type { Db } from './client.js';
import { fraudSignals } from './schema.js';
import { upsertAll } from './processor-outputs.js';
import { lockUntilCommit } from './advisory-lock.js';
import { lastSeq, ownStoredAfter, resumeBound, seqRange, storedAfter, type SeqOrdered } from './seq-order.js';

/** A signal as the pipelines store and publish it: stamped with its tenant (processors/tenant-scope.ts). */
export type TenantFraudSignal = FraudSignal & { tenantId: string };

/** A signal as stored, with the seq it was raised or last changed at (as text, as subscribers get it). */
export type StoredFraudSignal = TenantFraudSignal & { seq: string };

/**
 * Serialises the writers of fraud signals (the card and IP pipelines, each on whichever node holds its lease) until
 * commit, so seq order is commit order: once a signal is visible, every signal with a smaller seq that will ever be
 * visible already is, and a live feed reading `seq > position` skips none (as lockAlertTransitions does for alerts).
 */
async function lockFraudSignals(tx: Db): Promise<void> {
  await lockUntilCommit(tx, 'fraud-signals');
}

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
  if (rows.length === 0) return [];
  await lockFraudSignals(tx);
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

function toStoredSignal(r: typeof fraudSignals.$inferSelect): StoredFraudSignal {
  return {
    id: r.id,
    tenantId: r.tenantId,
    kind: r.kind as FraudSignal['kind'],
    subject: r.subject,
    time: r.time.getTime(),
    transactionIds: r.transactionIds,
    details: r.details as Record<string, number>,
    message: r.message,
    seq: r.seq.toString(),
  };
}

export async function listFraudSignals(
  db: Db,
  q: { tenantId: string; kinds?: readonly string[] | null; subjects?: readonly string[] | null; from?: Date | null; to?: Date | null; before: bigint | null; limit: number },
): Promise<StoredFraudSignal[]> {
  const t = fraudSignals;
  const rows = await db
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
  return rows.map(toStoredSignal);
}

/** Signals raised or changed with after < seq (<= upTo, unless null), in seq order; with `tenantId`, only its own. */
export async function fraudSignalsAfter(db: Db, after: bigint, upTo: bigint | null, limit: number, tenantId?: string): Promise<StoredFraudSignal[]> {
  const t = fraudSignals;
  const rows = await db
    .select()
    .from(t)
    .where(
      and(
        seqRange(t.seq, after, upTo),
        tenantId === undefined ? undefined : sql`${t.tenantId} = ${tenantId}`,
      ),
    )
    .orderBy(asc(t.seq))
    .limit(limit);
  return rows.map(toStoredSignal);
}

const SIGNALS: SeqOrdered = { table: fraudSignals, seq: fraudSignals.seq, storedAt: fraudSignals.updatedAt };

/** When the first signal raised or changed after `seq` was stored, whoever's; null if none. */
export const anySignalStoredAfter = (db: Db, seq: bigint): Promise<Date | null> => storedAfter(db, SIGNALS, seq);

/** When the first of the tenant's signals (of `kinds` and `subjects`, when given) raised or changed after `seq` was stored; null if none. */
export const signalStoredAfter = (
  db: Db,
  seq: bigint,
  filter: { tenantId: string; kinds?: ReadonlySet<string>; subjects?: ReadonlySet<string> },
  scanRows?: number,
): Promise<Date | null> =>
  ownStoredAfter(
    db,
    {
      from: sql`${fraudSignals}`,
      seq: sql`${fraudSignals.seq}`,
      storedAt: sql`${fraudSignals.updatedAt}`,
      own: and(
        sql`${fraudSignals.tenantId} = ${filter.tenantId}`,
        filter.kinds ? inArray(fraudSignals.kind, [...filter.kinds]) : undefined,
        filter.subjects ? inArray(fraudSignals.subject, [...filter.subjects]) : undefined,
      )!,
    },
    seq,
    scanRows,
  );

/** The seq of the signal raised or changed last (0 if none). */
export const lastFraudSeq = (db: Db): Promise<bigint> => lastSeq(db, SIGNALS);

/** Where a client holding `seq` may resume (seq-order.ts resumeBound). */
export const fraudResumeBound = (db: Db, seq: bigint): Promise<bigint> => resumeBound(db, SIGNALS, seq);
