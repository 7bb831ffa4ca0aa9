import { and, asc, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './client.js';

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

/** When the first row after `after` was stored; null if none. */
export async function storedAfter(db: Db, { table, seq, storedAt }: SeqOrdered, after: bigint): Promise<Date | null> {
  const [row] = await db.select({ at: storedAt }).from(table).where(seqRange(seq, after, null)).orderBy(asc(seq)).limit(1);
  return (row?.at as Date | undefined) ?? null;
}
