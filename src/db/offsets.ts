import { sql } from 'drizzle-orm';
import { rows, type Executor } from './client.js';

/**
 * Claims `count` cursors for `stream` inside the caller's transaction and
 * returns the cursor just before them: the caller owns (base, base + count].
 * The row lock is held until commit, so writers commit in cursor order, and
 * an aborted transaction gives its range back: cursors never go missing.
 */
export async function claimOffsets(tx: Executor, stream: string, count: number): Promise<bigint> {
  const [row] = await rows<{ base: string }>(
    tx,
    sql`update stream_offsets set last = last + ${count}
        where stream = ${stream} returning (last - ${count})::text as base`,
  );
  if (!row) throw new Error(`stream_offsets has no row for stream "${stream}"`);
  return BigInt(row.base);
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
