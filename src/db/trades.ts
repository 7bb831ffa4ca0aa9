import { sql, type SQL } from 'drizzle-orm';
import { float8ArrayLiteral, textArrayLiteral } from './array-literals.js';
import { epochMsToTimestamptz, rows, type Executor } from './client.js';
import { cursorPage, onConflictClause, type OnConflict } from './offsets.js';

export const TRADES_STREAM = 'trades';

/** A stored trade; `cursor` orders trades in commit order. */
export interface Trade {
  cursor: bigint;
  symbol: string;
  time: Date;
  price: number;
  size: number;
  /** Epoch ms its batch arrived (trades stored before migration 0012: undefined). */
  receivedAt?: number;
}

interface TradeRow {
  cursor: string;
  symbol: string;
  time_ms: number;
  price: number;
  size: number;
  received_ms: number | null;
}

const TRADE_COLUMNS = sql`seq::text as cursor, symbol, (extract(epoch from time) * 1000)::float8 as time_ms, price, size,
  (extract(epoch from received_at) * 1000)::float8 as received_ms`;

const toTrade = (row: TradeRow): Trade => ({
  cursor: BigInt(row.cursor),
  symbol: row.symbol,
  time: new Date(row.time_ms),
  price: row.price,
  size: row.size,
  ...(row.received_ms === null ? {} : { receivedAt: row.received_ms }),
});

/**
 * The INSERT of `trades` for claimAndInsert (see insertReadingsSql); a stored (symbol, time, tradeId) is left
 * untouched (skipped, or the statement fails: see insertReadingsSql). `tradeId` '' when the client sent none.
 */
export function insertTradesSql(trades: readonly (Omit<Trade, 'cursor' | 'receivedAt'> & { tradeId: string })[], receivedAt: number, onConflict: OnConflict = 'skip'): SQL {
  return sql`insert into trades (symbol, time, trade_id, price, size, seq, received_at)
    select t.symbol, ${epochMsToTimestamptz(sql`t.time`)}, t.trade_id, t.price, t.size, claim.base + t.n, ${epochMsToTimestamptz(sql`${receivedAt}::float8`)}
    from claim, unnest(
      ${textArrayLiteral(trades.map((t) => t.symbol))}::text[],
      ${float8ArrayLiteral(trades.map((t) => t.time.getTime()))}::float8[],
      ${textArrayLiteral(trades.map((t) => t.tradeId))}::text[],
      ${float8ArrayLiteral(trades.map((t) => t.price))}::float8[],
      ${float8ArrayLiteral(trades.map((t) => t.size))}::float8[]) with ordinality as t(symbol, time, trade_id, price, size, n)
    ${onConflictClause(onConflict, sql`(symbol, time, trade_id)`)}
    returning seq`;
}

/** Trades with after < cursor <= upTo (omitted: the committed cursor), in cursor order, at most `limit`. */
export async function tradesAfter(db: Executor, after: bigint, options: { upTo?: bigint; limit: number }): Promise<Trade[]> {
  const found = await rows<TradeRow>(
    db,
    cursorPage({ stream: TRADES_STREAM, table: sql`trades`, columns: TRADE_COLUMNS, after, limit: options.limit, upTo: options.upTo }),
  );
  return found.map(toTrade);
}
