import { sql, type SQL } from 'drizzle-orm';
import { autocommit, DEADLOCK_DETECTED, isPool, preparedRows, rows, sqlStateOf, type Executor } from './client.js';

/**
 * Stream cursors. Each stream's `stream_offsets.last` is the last cursor
 * handed out. A writer takes a range (base, base + count] and numbers its
 * rows from it. Readers must never see a cursor before one that may still
 * appear, so they read a stream up to its committed cursor: `last`, or, while
 * a claim in `stream_claims` is open, that claim's base.
 *
 * Two ways to write, which may run side by side:
 * - claimAndInsert (the default): claim and insert in one statement under
 *   the stream's row lock, held to commit, so batches of a stream commit one
 *   at a time, in cursor order.
 * - With PARALLEL_INGEST=on, on the PostgreSQL pool: claimCursors, then
 *   insertClaimed. The lock is held only for the claim's tiny statement, so
 *   batches of one stream insert in parallel and may commit out of cursor
 *   order; the open claim keeps readers below the gap. Against the local
 *   PostgreSQL 15 on 2 cores, batches of 1,000 four at a time with no server
 *   in between reached 0.75-0.82× a plain insert's rate under the lock and
 *   0.95-1.06× claimed first. Through the platform on that same machine it
 *   gained ~7% with processors off and lost 7-20% with them on: PostgreSQL
 *   then takes the CPU the server needs. It pays where PostgreSQL has cores
 *   of its own (docs/operations.md). Every node must read `stream_claims`
 *   (this version or later) before any node turns it on.
 */
/** What a store wrote: the cursor just before the claimed range, and which cursors were inserted. */
export interface ClaimedInsert {
  /** The claimed cursors are (base, base + count]. */
  base: bigint;
  /** Cursors of the rows inserted; null when every row was (the common case: no set to build). */
  inserted: Set<bigint> | null;
}

/**
 * `insert` numbered from the base that `claim` returns, in one statement:
 * `insert` is an INSERT … SELECT that reads `claim.base` (rows get
 * `claim.base + ordinality`), fails or skips natural-key conflicts
 * (OnConflict) and returns `seq`.
 * Null when `claim` returned no row.
 */
async function insertUnder(db: Executor, claim: SQL, count: number, insert: SQL): Promise<ClaimedInsert | null> {
  const [row] = await preparedRows<{ base: string | null; inserted: number; cursors: string | null }>(
    db,
    sql`with claim as (${claim}), stored as (${insert}), counted as (select count(*)::int as inserted from stored)
        select (select base from claim)::text as base, inserted,
          case when inserted < ${count}::int then (select string_agg(seq::text, ',') from stored) end as cursors
        from counted`,
  );
  if (!row?.base) return null;
  const inserted = row.inserted === count ? null : new Set((row.cursors ? row.cursors.split(',') : []).map(BigInt));
  return { base: BigInt(row.base), inserted };
}

const bump = (stream: string, count: number) =>
  sql`update stream_offsets set last = last + ${count}::int8 where stream = ${stream} returning last - ${count}::int8 as base`;

/**
 * Claims `count` cursors for `stream` and inserts rows numbered from them, in
 * one statement. The stream's row lock is taken by the statement and held
 * until its transaction commits, so writers commit in cursor order, and an
 * aborted statement gives its range back: cursors never go missing. Run
 * alone (autocommit) it is one round trip and the lock is held only while
 * PostgreSQL executes it, never across a client's round trip.
 */
export async function claimAndInsert(db: Executor, stream: string, count: number, insert: SQL): Promise<ClaimedInsert> {
  const stored = await insertUnder(db, bump(stream, count), count, insert);
  if (!stored) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  return stored;
}

/**
 * Claims `count` cursors for `stream` in a statement of its own (autocommit
 * on `db`) and records the open claim with the claiming backend's pid.
 * Returns the base: the claim is (base, base + count].
 */
export async function claimCursors(db: Executor, stream: string, count: number): Promise<bigint> {
  const [row] = await preparedRows<{ base: string }>(
    db,
    sql`with claim as (${bump(stream, count)})
        insert into stream_claims (stream, base, count, pid) select ${stream}, base, ${count}::int, pg_backend_pid() from claim
        returning base::text`,
    { asyncCommit: true },
  );
  if (!row) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  return BigInt(row.base);
}

/**
 * Inserts rows numbered from the open claim at `base` and closes the claim,
 * in one statement. Null, inserting nothing, when the claim is no longer
 * open (abandonDeadClaims took it): its cursors are gone for good.
 */
export function insertClaimed(db: Executor, stream: string, base: bigint, count: number, insert: SQL): Promise<ClaimedInsert | null> {
  return insertUnder(db, sql`delete from stream_claims where stream = ${stream} and base = ${base.toString()}::int8 returning base`, count, insert);
}

/** Closes an open claim without storing anything (its insert failed): readers move past its cursors. */
export async function releaseClaim(db: Executor, stream: string, base: bigint): Promise<void> {
  await db.execute(sql`delete from stream_claims where stream = ${stream} and base = ${base.toString()}::int8`);
}

/**
 * Batches this large claim first. A smaller one inserts in well under a
 * millisecond, so the lock costs it little, and a second statement costs the
 * server more: batches of 10, four in flight, stored 7.9k readings/s claiming
 * first against 8.4k under the lock.
 */
export const CLAIM_FIRST_FROM = 100;

/** How a batch's INSERT meets a row already stored under its natural key: the statement fails, or the row is skipped. */
export type OnConflict = 'fail' | 'skip';

/** `on conflict <target> do nothing` when conflicts are skipped; nothing when they fail the statement. */
export const onConflictClause = (onConflict: OnConflict, target: SQL): SQL => (onConflict === 'skip' ? sql`on conflict ${target} do nothing` : sql``);

const UNIQUE_VIOLATION = '23505';

/**
 * Runs `write` again when PostgreSQL aborted it to break a deadlock: batches inserting in parallel (PARALLEL_INGEST)
 * that carry the same new rows in different orders wait for each other's rows, and one is aborted, storing nothing.
 * Without this its client would get an internal error for a batch that stores cleanly a moment later. It waits first
 * (50, 100, 200 ms, with jitter): the other is still mid-statement, and retried at once this one would meet it again
 * on the rows it has not reached yet.
 */
export async function retryingDeadlocks<T>(write: () => Promise<T>, retries = 3): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt === retries || sqlStateOf(error) !== DEADLOCK_DETECTED) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

/** Batches a stream inserts skipping conflicts after one that repeated stored rows. */
export const SKIP_AFTER_CONFLICT = 32;

/**
 * Inserts batches plainly while they bring only new rows, and skipping
 * stored rows (ON CONFLICT DO NOTHING) after one did not. Skipping costs
 * PostgreSQL ~25% more a row (speculative insertion checks the unique index
 * before and after the row goes in), and batches of a stream insert one at a
 * time under its lock, so that is the default path's bound: on the local
 * PostgreSQL 15, batches of 1,000 stored 111-113k readings/s skipping and
 * 140-153k plainly (the raw insert 182-191k). A batch that repeats a stored
 * row fails as a whole, changing nothing, and is written again skipping
 * them; the stream then skips for its next SKIP_AFTER_CONFLICT batches, so
 * a client that keeps resending overlapping data pays for one failed try
 * per that many batches, not one per batch. One per node, shared by its
 * streams.
 */
export class ConflictAwareInserts {
  private readonly skipping = new Map<string, number>();
  /** Batches stored by a second try, skipping, after their plain INSERT met stored rows; by stream, since start. */
  readonly rewritten = new Map<string, number>();

  async write<T>(stream: string, once: (onConflict: OnConflict) => Promise<T>): Promise<T> {
    const insert = (onConflict: OnConflict) => retryingDeadlocks(() => once(onConflict));
    const left = this.skipping.get(stream) ?? 0;
    if (left > 0) {
      if (left === 1) this.skipping.delete(stream);
      else this.skipping.set(stream, left - 1);
      return insert('skip');
    }
    try {
      return await insert('fail');
    } catch (error) {
      // The statement failed before commit: nothing of it is stored (a claim it made is given back; one made
      // before it, claiming first, stays open for the second try).
      if (sqlStateOf(error) !== UNIQUE_VIOLATION) throw error;
      this.skipping.set(stream, SKIP_AFTER_CONFLICT);
      const stored = await insert('skip');
      this.rewritten.set(stream, (this.rewritten.get(stream) ?? 0) + 1);
      return stored;
    }
  }
}

/**
 * Stores a batch whose rows `insert` numbers from `claim.base` (see
 * insertUnder), as one autocommit write: a connection lost while it may have
 * committed becomes CommitOutcomeUnknownError (db/client.ts autocommit).
 * `inserts` chooses whether stored rows fail the INSERT or are skipped. On
 * the PostgreSQL pool with `parallel` (PARALLEL_INGEST=on), a batch of
 * CLAIM_FIRST_FROM or more claims first, so batches of a stream insert in
 * parallel; if its claim is abandoned meanwhile, it stores under the lock.
 */
export async function storeBatch(
  db: Executor,
  stream: string,
  count: number,
  insert: (onConflict: OnConflict) => SQL,
  options: { parallel: boolean; inserts: ConflictAwareInserts },
): Promise<ClaimedInsert> {
  const { inserts } = options;
  if (!options.parallel || !isPool(db) || count < CLAIM_FIRST_FROM) {
    return inserts.write(stream, (onConflict) => autocommit(() => claimAndInsert(db, stream, count, insert(onConflict))));
  }
  // Nothing is stored by the claim: a failure here is "not stored" and passes unchanged.
  const base = await claimCursors(db, stream, count);
  let stored: ClaimedInsert | null;
  try {
    // A plain INSERT that fails leaves the claim open, for the second try to close.
    stored = await inserts.write(stream, (onConflict) => autocommit(() => insertClaimed(db, stream, base, count, insert(onConflict))));
  } catch (error) {
    // Stored or not, the claim must not hold readers back; if this fails too, abandonDeadClaims will.
    await releaseClaim(db, stream, base).catch(() => undefined);
    throw error;
  }
  return stored ?? autocommit(() => claimAndInsert(db, stream, count, insert('skip')));
}

/**
 * The committed cursor of `stream` as an SQL expression: every cursor up to
 * it is final (stored, or never to be). Evaluated in the reading statement's
 * own snapshot, so rows read with `seq <=` it are all there are.
 */
export const committedCursorSql = (stream: string): SQL =>
  sql`(select coalesce((select min(c.base) from stream_claims c where c.stream = ${stream}), o.last) from stream_offsets o where o.stream = ${stream})`;

/**
 * A page of `table`'s rows of `stream` (`columns`, those matching `where`)
 * with after < seq <= upTo, or, without upTo, up to the committed cursor: in
 * cursor order, at most `limit`. A page shorter than `limit` reached the bound.
 *
 * The bound filters the first `limit` rows after `after` rather than
 * narrowing the index range: a two-sided range on a table without statistics
 * (PGlite never analyzes on its own; PostgreSQL not yet, after a bulk load)
 * is estimated at a handful of rows, so each page read and sorted every row
 * after `after`. The embedded runtime caught up 12.7k events/s that way
 * against 21.6k.
 */
export function cursorPage(page: { stream: string; table: SQL; columns: SQL; after: bigint; limit: number; upTo?: bigint; where?: SQL }): SQL {
  const bound = page.upTo === undefined ? committedCursorSql(page.stream) : sql`${page.upTo.toString()}::int8`;
  // `columns` and `where` name the table's columns unqualified: they read the same from the subquery.
  return sql`select ${page.columns} from (
      select * from ${page.table}
      where seq > ${page.after.toString()}::int8 and ${page.where ?? sql`true`} order by seq limit ${page.limit}
    ) page where page.seq <= ${bound} order by page.seq`;
}

/** The last cursor of `stream` that is final: everything up to it is committed (or abandoned, never to appear). */
export async function committedOffset(db: Executor, stream: string): Promise<bigint> {
  const [row] = await rows<{ last: string | null }>(db, sql`select ${committedCursorSql(stream)}::text as last`);
  if (!row?.last) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  return BigInt(row.last);
}

export interface AbandonedClaim {
  stream: string;
  base: bigint;
  count: number;
  /** Why: its backend is gone, or it was open longer than allowed. */
  reason: 'writer gone' | 'expired';
}

/**
 * Abandons open claims whose writer can no longer store them: the backend
 * that claimed has exited (the writer's process or connection died), or the
 * claim is older than `maxAgeMs` (a writer cut off without its backend
 * noticing). A writer that stores later finds its claim gone and stores
 * nothing under it (insertClaimed). Its cursors are skipped, as a
 * duplicate's are.
 */
export async function abandonDeadClaims(db: Executor, maxAgeMs: number): Promise<AbandonedClaim[]> {
  const found = await rows<{ stream: string; base: string; count: number; expired: boolean }>(
    db,
    sql`delete from stream_claims c
        where c.claimed_at < now() - ${maxAgeMs}::float8 * interval '1 ms'
           or not exists (select 1 from pg_stat_activity a where a.pid = c.pid)
        returning c.stream, c.base::text as base, c.count, c.claimed_at < now() - ${maxAgeMs}::float8 * interval '1 ms' as expired`,
  );
  return found.map((r) => ({ stream: r.stream, base: BigInt(r.base), count: r.count, reason: r.expired ? 'expired' : 'writer gone' }));
}
