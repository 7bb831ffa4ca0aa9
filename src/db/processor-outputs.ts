import { eq, getTableColumns, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './client.js';

const CHUNK_ROWS = 2_000;

/**
 * Insert-or-replace by `target` (the table's natural key), in chunks that stay
 * under PostgreSQL's 65,535 parameters per statement. Every other column the
 * rows carry takes the new value (processors re-emit an output whole, by id);
 * columns they leave out (a serial, a creation time) keep the stored one.
 */
/**
 * Inserts `rows`, or updates them where `target` matches and `setWhere` (if given) holds. With `setWhere`, returns
 * the `target[0]` values of the rows it wrote (inserted, or updated because the condition held); without, none.
 */
export async function upsertAll<T extends PgTable>(tx: Db, table: T, rows: T['$inferInsert'][], target: PgColumn[], setWhere?: SQL): Promise<unknown[]> {
  if (rows.length === 0) return [];
  const keyNames = new Set(target.map((c) => c.name));
  const set: Record<string, SQL> = {};
  const columns = getTableColumns(table);
  for (const property of Object.keys(rows[0]!)) {
    const column = columns[property]!;
    if (!keyNames.has(column.name)) set[property] = sql.raw(`excluded."${column.name}"`);
  }
  const written: unknown[] = [];
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    const insert = tx
      .insert(table)
      .values(rows.slice(i, i + CHUNK_ROWS) as never)
      .onConflictDoUpdate({ target, set: set as never, setWhere });
    // Only when it decides anything: windows and candles (no condition) are written whole.
    if (setWhere) for (const row of await insert.returning({ key: target[0]! })) written.push(row.key);
    else await insert;
  }
  return written;
}

/** A page of stored processor outputs (windows, candles) by window start. */
export interface StartRange {
  from: Date;
  to: Date;
  /** Only final outputs. */
  closedOnly: boolean;
  /** Window start to page after. */
  after: Date | null;
  limit: number;
}

/** from <= start < to, after the page cursor, closed if asked. */
export function startRange(table: { start: PgColumn; closed: PgColumn }, q: StartRange): (SQL | undefined)[] {
  return [
    gte(table.start, q.from),
    lt(table.start, q.to),
    q.after ? gt(table.start, q.after) : undefined,
    q.closedOnly ? eq(table.closed, true) : undefined,
  ];
}
