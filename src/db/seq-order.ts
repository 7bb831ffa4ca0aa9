import { and, asc, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { rows, type Db, type Executor } from './client.js';

/** A table whose rows take a seq in commit order (their writers hold an advisory lock): alert transitions, fraud signals. */
export interface SeqOrdered {
  table: PgTable;
  seq: PgColumn;
  /** When a row was stored (with its seq). */
  storedAt: PgColumn;
}

/** Rows with after < seq (<= upTo, unless null). */
export function seqRange(seq: PgColumn, after: bigint, upTo: bigint | null): SQL | undefined {
  return and(sql`${seq} > ${after.toString()}::int8`, upTo === null ? undefined : sql`${seq} <= ${upTo.toString()}::int8`);
}

/** The largest seq stored (0 if none). */
export async function lastSeq(db: Db, { table, seq }: SeqOrdered): Promise<bigint> {
  const [row] = await db.select({ seq: sql<string>`coalesce(max(${seq}), 0)::text` }).from(table);
  return BigInt(row!.seq);
}

/**
 * The newest position a client may resume after, given the one it holds (resumePoint's `newest`), for a table
 * retention sweeps (fraud signals): the last seq stored, or the one it holds if this database ever issued it.
 * Retention removes old rows, the newest among them when nothing followed it, and a seq it took is still this
 * history's: resuming after it misses nothing. Only a seq never issued (another history's: a database restored from
 * an older backup) is ahead; an upsert that changed nothing takes a seq too, so a restored history's seqs a little
 * past its last stored one are not told apart. What is returned to resume after is always a stored one: an issued
 * seq may be a transaction's still to commit.
 */
export async function resumeBound(db: Db, ordered: SeqOrdered, held: bigint): Promise<bigint> {
  const last = await lastSeq(db, ordered);
  if (held <= last) return last;
  const [row] = await rows<{ issued: string | null }>(
    db,
    sql`select pg_sequence_last_value(pg_get_serial_sequence(${getTableName(ordered.table)}, ${ordered.seq.name})::regclass)::text as issued`,
  );
  const issued = row?.issued == null ? 0n : BigInt(row.issued);
  return held <= issued ? held : last;
}

/** When the first row after `after` (of those `where` takes) was stored; null if none. */
export async function storedAfter(db: Db, { table, seq, storedAt }: SeqOrdered, after: bigint, where?: SQL): Promise<Date | null> {
  const [row] = await db.select({ at: storedAt }).from(table).where(and(seqRange(seq, after, null), where)).orderBy(asc(seq)).limit(1);
  return (row?.at as Date | undefined) ?? null;
}

/** Rows a resume check reads past a cursor at most (resumePoint): a read key's reconnection must not scan a table. */
const RESUME_SCAN_ROWS = 10_000;

/**
 * When the first row after `after` that `own` takes was stored (null: none), reading at most `scanRows` rows in seq
 * order from `after` on. When none of those is its own, the last of them stands in: its own first row comes later
 * and, seqs following commit order, was stored no earlier. So a subscription far behind (another tenant's many rows
 * after its cursor) may be refused a replay a full scan would allow, never allowed one it would refuse; and a
 * read key cannot have the database scan the whole stored stream with each reconnection (tenant-wide readings
 * after cursor 1: 462 ms over 3 million rows on PostgreSQL, for every subscribe).
 */
export async function ownStoredAfter(
  db: Executor,
  scan: { from: SQL; seq: SQL; storedAt: SQL; where?: SQL; own: SQL },
  after: bigint,
  scanRows = RESUME_SCAN_ROWS,
): Promise<Date | null> {
  const [found] = await rows<{ at: number | string | null }>(
    db,
    sql`with scanned as (
          select ${scan.seq} as seq, extract(epoch from ${scan.storedAt}) * 1000 as at, (${scan.own}) as own
          from ${scan.from}
          where ${scan.seq} > ${after.toString()}::int8${scan.where ? sql` and ${scan.where}` : sql``}
          order by ${scan.seq} limit ${scanRows}
        )
        select coalesce(
          (select at from scanned where own order by seq limit 1),
          (select at from scanned order by seq offset ${scanRows - 1} limit 1)
        )::float8 as at`,
  );
  return found?.at == null ? null : new Date(Number(found.at));
}

/**
 * When the first row of a stream table after `cursor` was stored (null: none), of those `own` takes when given:
 * where a subscription's replay with that filter begins. Without `own`, one index step; with it, a bounded scan
 * (ownStoredAfter).
 */
export async function streamStoredAfter(
  db: Executor,
  scan: { from: SQL; seq: SQL; storedAt: SQL; own?: SQL },
  cursor: bigint,
  scanRows?: number,
): Promise<Date | null> {
  if (scan.own !== undefined) return ownStoredAfter(db, { ...scan, own: scan.own }, cursor, scanRows);
  const [found] = await rows<{ at: string }>(
    db,
    sql`select extract(epoch from ${scan.storedAt}) * 1000 as at from ${scan.from} where ${scan.seq} > ${cursor.toString()}::int8 order by ${scan.seq} limit 1`,
  );
  return found ? new Date(Number(found.at)) : null;
}
