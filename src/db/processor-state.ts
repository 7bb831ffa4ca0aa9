import { and, eq, sql } from 'drizzle-orm';
import { rows, type Db, type Executor } from './client.js';
import { ownedBy } from './sources.js';
import { lateEvents, processorCheckpoints, processorLeases, processorSeriesStates } from './schema.js';
import { TRADES_STREAM } from './trades.js';

export interface Checkpoint {
  partition: number;
  partitions: number;
  cursor: bigint;
  state: unknown;
  /** When it was written (the database's clock as its transaction began). */
  writtenAt: Date;
}

/**
 * A pipeline's checkpoint: its per-partition headers (cursor, partition
 * count; the whole state in the format before series rows) and its series
 * rows, read in one snapshot, so both are of the same checkpoint.
 */
export async function loadCheckpoint(db: Db, pipeline: string): Promise<{ headers: Checkpoint[]; series: StoredSeriesState[] }> {
  return db.transaction(
    async (tx) => ({
      headers: await tx
        .select({
          partition: processorCheckpoints.partition,
          partitions: processorCheckpoints.partitions,
          cursor: processorCheckpoints.cursor,
          state: processorCheckpoints.state,
          writtenAt: processorCheckpoints.updatedAt,
        })
        .from(processorCheckpoints)
        .where(eq(processorCheckpoints.pipeline, pipeline))
        .orderBy(processorCheckpoints.partition),
      series: await tx
        .select({
          partition: processorSeriesStates.partition,
          series: processorSeriesStates.series,
          clock: processorSeriesStates.clock,
          watermark: processorSeriesStates.watermark,
          state: processorSeriesStates.state,
        })
        .from(processorSeriesStates)
        .where(eq(processorSeriesStates.pipeline, pipeline)),
    }),
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** Pipelines whose checkpoint was written with a partition count other than `partitions`, with that count. */
export async function checkpointsWithOtherPartitions(db: Db, partitions: number): Promise<{ pipeline: string; partitions: number }[]> {
  return db
    .selectDistinct({ pipeline: processorCheckpoints.pipeline, partitions: processorCheckpoints.partitions })
    .from(processorCheckpoints)
    .where(sql`${processorCheckpoints.partitions} <> ${partitions}`)
    .orderBy(processorCheckpoints.pipeline);
}

/** One series' state as a checkpoint writes it: `state` already serialised (JSON text). */
export interface SeriesCheckpoint {
  partition: number;
  series: string;
  clock: number;
  watermark: number | null;
  state: string;
}

/** One series' stored state (as of its checkpoint's cursor). */
export interface StoredSeriesState {
  partition: number;
  series: string;
  clock: number;
  watermark: number | null;
  state: unknown;
}

/** A checkpoint was refused because `owner` no longer holds the pipeline's lease (another node may own it). */
export class LeaseLostError extends Error {
  constructor(pipeline: string, owner: string) {
    super(`pipeline ${pipeline}: ${owner} no longer holds the processor lease; nothing written`);
    this.name = 'LeaseLostError';
  }
}

/** Series per statement: a card's state is ~300 B of JSON, a series of readings' windows ~2 KB. */
const SERIES_CHUNK = 1_000;

/**
 * Goes on, in transaction `tx`, only while the lease row names `owner`, and keeps the row from changing hands until
 * the commit; throws LeaseLostError otherwise. What a pipeline writes (checkpoints, outputs) is fenced by it: a node
 * that lost its lease while its writes failed and were retried must not store them over the new owner's.
 */
export async function holdLease(tx: Db, pipeline: string, owner: string): Promise<void> {
  const held = await rows(tx, sql`select 1 from processor_leases where pipeline = ${pipeline} and owner = ${owner} for share`);
  if (held.length === 0) throw new LeaseLostError(pipeline, owner);
}

/**
 * A checkpoint at `cursor` by `owner`, in one transaction: a restart never
 * sees partitions or series at different positions. Written only while the
 * lease row names `owner`, locked until the commit: a node whose renewals
 * failed while another took over cannot write an older cursor under the new
 * owner's series rows, which it would leave mixed (LeaseLostError). A lease
 * that merely expired still names its owner (a late renewal takes it back):
 * a node taking it over changes the row, so it waits for this commit and
 * then restores from it. `series` holds the series
 * whose state changed since the last checkpoint (the others' rows are
 * already their state at `cursor`); `replace`: they are all of the
 * pipeline's series, and any other stored row goes (a pipeline rebuilt from
 * the stream, or moving off the old whole-partition format).
 */
export async function saveCheckpoints(
  db: Db,
  pipeline: string,
  owner: string,
  cursor: bigint,
  partitions: number,
  series: readonly SeriesCheckpoint[],
  options: { replace: boolean },
): Promise<void> {
  await db.transaction(async (tx) => {
    await holdLease(tx as unknown as Db, pipeline, owner);
    await tx.delete(processorCheckpoints).where(eq(processorCheckpoints.pipeline, pipeline));
    await tx.insert(processorCheckpoints).values(
      Array.from({ length: partitions }, (_, partition) => ({ pipeline, partition, partitions, cursor, state: {} })),
    );
    if (options.replace) await tx.delete(processorSeriesStates).where(eq(processorSeriesStates.pipeline, pipeline));
    for (let i = 0; i < series.length; i += SERIES_CHUNK) {
      // One JSON document of the rows, the states spliced in as they were serialised (as a text[] parameter
      // every quote in them is escaped by the driver and unescaped by the server: ~3x slower). OFFSET 0 keeps
      // the planner from parsing the document while it plans; json_array_elements with ->> took 20 ms for
      // 5,000 cards where json_to_recordset took 110.
      const rows = series.slice(i, i + SERIES_CHUNK).map((c) => `{"series":${JSON.stringify(c.series)},"partition":${c.partition},"clock":${c.clock},"watermark":${c.watermark},"state":${c.state}}`);
      await tx.execute(sql`insert into processor_series_states (pipeline, series, partition, clock, watermark, state, cursor)
        select ${pipeline}, e->>'series', (e->>'partition')::int, (e->>'clock')::float8, (e->>'watermark')::float8, e->'state', ${cursor.toString()}::int8
        from (select ${`[${rows.join(',')}]`}::text as doc offset 0) d, json_array_elements(d.doc::json) e
        on conflict (pipeline, series) do update
          set partition = excluded.partition, clock = excluded.clock, watermark = excluded.watermark, state = excluded.state, cursor = excluded.cursor`);
    }
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
 * A tenant's late events of a pipeline. Series keys name the owner: a reading's `source/metric` its source (a
 * source id holds no "/"), a trade's its symbol whole (`EUR/USD`: the text before a "/" may be another tenant's
 * source), a patient's the patient, and card and IP series the tenant (`tenant/card`).
 */
export async function listLateEvents(db: Db, options: { tenantId: string; pipeline: string; after: bigint | null; limit: number }) {
  const head = sql`split_part(${lateEvents.series}, '/', 1)`;
  const mine = options.pipeline.startsWith('transactions')
    ? sql`${head} = ${options.tenantId}`
    : ownedBy(options.pipeline === TRADES_STREAM ? sql`${lateEvents.series}` : head, options.tenantId);
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
