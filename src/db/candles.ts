import { and, asc, eq, gt, gte, lt, sql } from 'drizzle-orm';
import type { Candle } from '../processors/candles.js';
import type { Db } from './client.js';
import { candles } from './schema.js';
import { upsertAll } from './upsert.js';

export async function upsertCandles(tx: Db, outputs: readonly Candle[]): Promise<void> {
  await upsertAll(
    tx,
    candles,
    outputs.map((c) => ({
      symbol: c.symbol,
      intervalMs: c.intervalMs,
      start: new Date(c.start),
      end: new Date(c.end),
      open: c.open,
      high: c.high,
      low: c.low,
      close: c.close,
      volume: c.volume,
      vwap: c.vwap,
      trades: c.trades,
      closed: c.closed,
      updatedAt: sql`now()` as never,
    })),
    [candles.symbol, candles.intervalMs, candles.start],
  );
}

/** Stored candles of one symbol and interval with from <= start < to, oldest first, keyset-paged on start. */
export async function listCandles(
  db: Db,
  q: { symbol: string; intervalMs: number; from: Date; to: Date; closedOnly: boolean; after: Date | null; limit: number },
) {
  return db
    .select()
    .from(candles)
    .where(
      and(
        eq(candles.symbol, q.symbol),
        eq(candles.intervalMs, q.intervalMs),
        gte(candles.start, q.from),
        lt(candles.start, q.to),
        q.after ? gt(candles.start, q.after) : undefined,
        q.closedOnly ? eq(candles.closed, true) : undefined,
      ),
    )
    .orderBy(asc(candles.start))
    .limit(q.limit);
}
