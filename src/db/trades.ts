import { sql, type SQL } from 'drizzle-orm';
import { float8ArrayLiteral, textArrayLiteral } from './array-literals.js';
import { epochMsToTimestamptz, rows, type Executor } from './client.js';
import { cursorPage, onConflictClause, type OnConflict } from './offsets.js';
import { streamStoredAfter } from './seq-order.js';

export const TRADES_STREAM = 'trades';

/** A stored trade; `cursor` orders trades in commit order. */
export interface Trade {
  cursor: bigint;
  symbol: string;
  time: Date;
  price: number;
  size: number;
  /** The venue's id of the trade; '' when it sent none. */
  tradeId: string;
  /** The tenant whose instrument the symbol is (trades carry no tenant of their own: a symbol has one owner, for ever). */
  tenantId: string;
  /** Epoch ms its batch arrived (trades stored before migration 0012: undefined). */
  receivedAt?: number;
}

export interface TradeFilter {
  /** Only trades of this tenant's instruments. */
  tenantId?: string | null;
  symbols?: readonly string[] | null;
  /** Only trades the venue gave this id ('' : those sent without one). */
  tradeId?: string | null;
  /** Event time at or after. */
  from?: Date | null;
  /** Event time before. */
  to?: Date | null;
}

interface TradeRow {
  cursor: string;
  symbol: string;
  time_ms: number;
  price: number;
  size: number;
  trade_id: string;
  tenant_id: string;
  received_ms: number | null;
}

/**
 * The symbol's owner is looked up per row by the sources primary key, for the rows of a page only (after its limit).
 * Pages of 1,000 trades, 20,200 sources: PostgreSQL 15 1.7 ms (0.5-0.9 without the owner), PGlite 12.1 ms (9.5). A
 * hash join read 0.95 ms on PostgreSQL but 14.9 ms on PGlite, which keeps no statistics and hashed every source for
 * each page: a lookup per row costs the same however many sources there are.
 */
const TRADE_COLUMNS = sql`seq::text as cursor, symbol, (extract(epoch from time) * 1000)::float8 as time_ms, price, size, trade_id,
  coalesce((select owner.tenant_id from sources owner where owner.id = symbol), '') as tenant_id,
  (extract(epoch from received_at) * 1000)::float8 as received_ms`;

const toTrade = (row: TradeRow): Trade => ({
  cursor: BigInt(row.cursor),
  symbol: row.symbol,
  time: new Date(row.time_ms),
  price: row.price,
  size: row.size,
  tradeId: row.trade_id,
  tenantId: row.tenant_id,
  ...(row.received_ms === null ? {} : { receivedAt: row.received_ms }),
});

function filterClause(filter: TradeFilter): SQL {
  const parts: SQL[] = [];
  // Trades have no tenant column: a tenant's trades are those of its instruments.
  if (filter.tenantId) parts.push(sql`symbol in (select s.id from sources s where s.tenant_id = ${filter.tenantId} and s.kind = 'INSTRUMENT')`);
  if (filter.symbols?.length) parts.push(sql`symbol = any(${sql.param([...filter.symbols])}::text[])`);
  if (filter.tradeId !== undefined && filter.tradeId !== null) parts.push(sql`trade_id = ${filter.tradeId}`);
  if (filter.from) parts.push(sql`time >= ${filter.from.toISOString()}::timestamptz`);
  if (filter.to) parts.push(sql`time < ${filter.to.toISOString()}::timestamptz`);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}

/**
 * The INSERT of `trades` for claimAndInsert (see insertReadingsSql); a stored (symbol, time, tradeId) is left
 * untouched (skipped, or the statement fails: see insertReadingsSql). `tradeId` '' when the client sent none.
 */
export function insertTradesSql(trades: readonly Omit<Trade, 'cursor' | 'receivedAt' | 'tenantId'>[], receivedAt: number, onConflict: OnConflict = 'skip'): SQL {
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

/** Trades with after < cursor <= upTo (omitted: the committed cursor) that `filter` takes, in cursor order, at most `limit`. */
export async function tradesAfter(db: Executor, after: bigint, options: { upTo?: bigint; limit: number; filter?: TradeFilter }): Promise<Trade[]> {
  const found = await rows<TradeRow>(
    db,
    cursorPage({
      stream: TRADES_STREAM,
      table: sql`trades`,
      columns: TRADE_COLUMNS,
      after,
      limit: options.limit,
      upTo: options.upTo,
      where: options.filter && filterClause(options.filter),
    }),
  );
  return found.map(toTrade);
}

/** When the first trade after `cursor` (that `filter` takes) was stored; null if none (seq-order.ts streamStoredAfter). */
export function tradeStoredAfter(db: Executor, cursor: bigint, filter?: TradeFilter): Promise<Date | null> {
  return streamStoredAfter(db, { from: sql`trades`, seq: sql`seq`, storedAt: sql`coalesce(received_at, time)`, own: filter && filterClause(filter) }, cursor);
}
