import { and, eq, sql } from 'drizzle-orm';
import { rows, type Db, type Executor } from './client.js';
import { ownedBy } from './sources.js';
import { lateEvents, processorCheckpoints, processorLeases } from './schema.js';

export interface Checkpoint {
  partition: number;
  partitions: number;
  cursor: bigint;
  state: unknown;
}

export async function loadCheckpoints(db: Db, pipeline: string): Promise<Checkpoint[]> {
  return db
    .select({
      partition: processorCheckpoints.partition,
      partitions: processorCheckpoints.partitions,
      cursor: processorCheckpoints.cursor,
      state: processorCheckpoints.state,
    })
    .from(processorCheckpoints)
    .where(eq(processorCheckpoints.pipeline, pipeline))
    .orderBy(processorCheckpoints.partition);
}

/** Every partition at one cursor, in one transaction: a restart never sees partitions at different positions. */
export async function saveCheckpoints(db: Db, pipeline: string, cursor: bigint, states: readonly unknown[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(processorCheckpoints).where(eq(processorCheckpoints.pipeline, pipeline));
    await tx.insert(processorCheckpoints).values(
      states.map((state, partition) => ({ pipeline, partition, partitions: states.length, cursor, state })),
    );
  });
}

export interface LateEvent {
  cursor: bigint;
  series: string;
  eventTime: Date;
  watermark: Date;
}

export async function recordLateEvents(tx: Pick<Db, 'insert'>, pipeline: string, events: readonly LateEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) {
    await tx
      .insert(lateEvents)
      .values(events.slice(i, i + 2_000).map((e) => ({ pipeline, ...e })))
      .onConflictDoNothing();
  }
}

/**
 * A tenant's late events of a pipeline. Series keys name a source first
 * (`source/metric`, a symbol, a patient) or, for card transactions, the tenant (`tenant/card`).
 */
export async function listLateEvents(db: Db, options: { tenantId: string; pipeline: string; after: bigint | null; limit: number }) {
  const tenantKeyed = options.pipeline.startsWith('transactions');
  const mine = tenantKeyed
    ? sql`split_part(${lateEvents.series}, '/', 1) = ${options.tenantId}`
    : ownedBy(sql`split_part(${lateEvents.series}, '/', 1)`, options.tenantId);
  return db
    .select()
    .from(lateEvents)
    .where(and(eq(lateEvents.pipeline, options.pipeline), mine, options.after !== null ? sql`${lateEvents.cursor} > ${options.after}` : undefined))
    .orderBy(lateEvents.cursor)
    .limit(options.limit);
}

/**
 * Takes or renews the pipeline's lease for `owner` until now + leaseMs.
 * Succeeds when no one holds it, `owner` already does, or the holder's lease
 * lapsed. The database clock decides, so node clocks may disagree.
 */
export async function acquireLease(db: Executor, pipeline: string, owner: string, leaseMs: number): Promise<boolean> {
  const returned = await rows<{ owner: string }>(
    db,
    sql`insert into processor_leases (pipeline, owner, expires_at)
        values (${pipeline}, ${owner}, now() + ${leaseMs} * interval '1 millisecond')
        on conflict (pipeline) do update set owner = excluded.owner, expires_at = excluded.expires_at
        where processor_leases.owner = excluded.owner or processor_leases.expires_at < now()
        returning owner`,
  );
  return returned.length === 1;
}

export async function releaseLease(db: Db, pipeline: string, owner: string): Promise<void> {
  await db.delete(processorLeases).where(and(eq(processorLeases.pipeline, pipeline), eq(processorLeases.owner, owner)));
}
