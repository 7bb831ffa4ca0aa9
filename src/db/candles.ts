import { and, asc, eq, sql } from 'drizzle-orm';
import type { Candle } from '../processors/candles.js';
import type { Db } from './client.js';
import { candles } from './schema.js';
import { startRange, upsertAll, type StartRange } from './processor-outputs.js';

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
  q: StartRange & { symbol: string; intervalMs: number },
) {
  return db
    .select()
    .from(candles)
    .where(
      and(
        eq(candles.symbol, q.symbol),
        eq(candles.intervalMs, q.intervalMs),
        ...startRange(candles, q),
      ),
    )
    .orderBy(asc(candles.start))
    .limit(q.limit);
}
