import { and, asc, eq, lt, sql } from 'drizzle-orm';
import type { Candle } from '../processors/candles.js';
import type { Db } from './client.js';
import { candles } from './schema.js';
import { startRange, type StartRange } from './processor-outputs.js';

/** One unnest statement per batch, as upsertWindows. */
export async function upsertCandles(tx: Db, outputs: readonly Candle[]): Promise<void> {
  if (outputs.length === 0) return;
  const col = <T>(pick: (c: Candle) => T) => sql.param(outputs.map(pick));
  await tx.execute(sql`
    insert into candles (symbol, interval_ms, start_time, end_time, open, high, low, close, volume, vwap, trades, closed, updated_at)
    select s, i, st::timestamptz, en::timestamptz, o, h, l, c, v, vw, t, cl, now()
    from unnest(${col((c) => c.symbol)}::text[], ${col((c) => c.intervalMs)}::int8[],
      ${col((c) => new Date(c.start).toISOString())}::text[], ${col((c) => new Date(c.end).toISOString())}::text[],
      ${col((c) => c.open)}::float8[], ${col((c) => c.high)}::float8[], ${col((c) => c.low)}::float8[], ${col((c) => c.close)}::float8[],
      ${col((c) => c.volume)}::float8[], ${col((c) => c.vwap)}::float8[], ${col((c) => c.trades)}::int4[], ${col((c) => String(c.closed))}::text[]::bool[])
      as u(s, i, st, en, o, h, l, c, v, vw, t, cl)
    on conflict (symbol, interval_ms, start_time) do update set
      end_time = excluded.end_time, open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
      volume = excluded.volume, vwap = excluded.vwap, trades = excluded.trades, closed = excluded.closed, updated_at = excluded.updated_at
    -- A final output is never reopened (a replay passing through its open states, a stale writer).
    where not candles.closed or excluded.closed`);
}

/** The end of each symbol's latest closed candle stored before `storedBefore`, as closedWindowEnds. */
export async function closedCandleEnds(db: Db, storedBefore: Date): Promise<{ symbol: string; end: Date }[]> {
  const t = candles;
  return db
    .select({ symbol: t.symbol, end: sql<Date>`max(${t.end})`.mapWith(t.end) })
    .from(t)
    .where(and(eq(t.closed, true), lt(t.updatedAt, storedBefore)))
    .groupBy(t.symbol);
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
