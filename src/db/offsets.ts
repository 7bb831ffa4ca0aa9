import { sql, type SQL } from 'drizzle-orm';
import { preparedRows, rows, type Executor } from './client.js';

/** What `claimAndInsert` stored: the cursor just before the claimed range, and which cursors were inserted. */
export interface ClaimedInsert {
  /** The claimed cursors are (base, base + count]. */
  base: bigint;
  /** Cursors of the rows inserted; null when every row was (the common case: no set to build). */
  inserted: Set<bigint> | null;
}

/**
 * Claims `count` cursors for `stream` and inserts rows numbered from them, in
 * one statement: `insert` is an INSERT … SELECT that reads the claim as
 * `claim.base` (rows get `claim.base + ordinality`), skips natural-key
 * conflicts and returns `seq`. The stream's row lock is taken by the
 * statement and held until its transaction commits, so writers commit in
 * cursor order, and an aborted statement gives its range back: cursors never
 * go missing. Run alone (autocommit) it is one round trip and the lock is
 * held only while PostgreSQL executes it, never across a client's round trip.
 */
export async function claimAndInsert(db: Executor, stream: string, count: number, insert: SQL): Promise<ClaimedInsert> {
  const [row] = await preparedRows<{ base: string | null; inserted: number; cursors: string | null }>(
    db,
    sql`with claim as (
          update stream_offsets set last = last + ${count}::int8 where stream = ${stream} returning last - ${count}::int8 as base
        ), stored as (${insert}), counted as (select count(*)::int as inserted from stored)
        select (select base from claim)::text as base, inserted,
          case when inserted < ${count}::int then (select string_agg(seq::text, ',') from stored) end as cursors
        from counted`,
  );
  if (!row?.base) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  const inserted = row.inserted === count ? null : new Set((row.cursors ? row.cursors.split(',') : []).map(BigInt));
  return { base: BigInt(row.base), inserted };
}

/** The last cursor of `stream` whose transaction has committed: everything up to it is final. */
export async function committedOffset(db: Executor, stream: string): Promise<bigint> {
  const [row] = await rows<{ last: string }>(
    db,
    sql`select last::text as last from stream_offsets where stream = ${stream}`,
  );
  if (!row) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  return BigInt(row.last);
}
