import { z } from 'zod';
import { MAX_MAGNITUDE } from './reading-item.js';
import { itemErrorsFromZod, timeBoundsError, TIME_FORMAT_MESSAGE, type ItemCheck, type TimeBounds, type ItemErrorCode } from './item-errors.js';

/** Exchange tickers, pairs and contract codes: AAPL, BTC-USD, ES.Z26, EUR/USD, XNAS:MSFT. */
export const SYMBOL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$/;
/** What SYMBOL_PATTERN allows, in words. */
export const SYMBOL_RULE = '1-32 characters: letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit';

/** A venue's trade id: exchange sequence numbers, UUIDs, `XNAS-20261204-000123`. */
export const TRADE_ID_PATTERN = /^[A-Za-z0-9._:/-]{1,64}$/;
/** What TRADE_ID_PATTERN allows, in words. */
export const TRADE_ID_RULE = '1-64 characters: letters, digits, ".", "_", ":", "/" or "-"';

const positive = (field: string) =>
  z
    .number({ error: `${field} must be a finite number` })
    .finite(`${field} must be a finite number`)
    .positive(`${field} must be greater than 0`)
    // price × size and their sums (volume, VWAP) must stay finite.
    .max(MAX_MAGNITUDE, `${field} must be at most 1e15`);

const TradeItem = z.object({
  symbol: z
    .string({ error: 'symbol must be a string' })
    .regex(SYMBOL_PATTERN, `symbol must be ${SYMBOL_RULE}`),
  time: z.iso.datetime({ offset: true, error: TIME_FORMAT_MESSAGE }),
  tradeId: z
    .string({ error: 'tradeId must be a string' })
    .regex(TRADE_ID_PATTERN, `tradeId must be ${TRADE_ID_RULE}`)
    .nullish(),
  price: positive('price'),
  size: positive('size'),
});

const FIELD_CODES: Record<string, ItemErrorCode> = {
  symbol: 'INVALID_SYMBOL',
  time: 'INVALID_TIME',
  tradeId: 'INVALID_TRADE_ID',
  price: 'INVALID_PRICE',
  size: 'INVALID_SIZE',
};

export interface ValidTrade {
  symbol: string;
  time: Date;
  /** '' when the client sent none. */
  tradeId: string;
  price: number;
  size: number;
}

/** Checks one submitted trade on its own: shape, positive finite price and size, time bounds. */
export function validateTrade(item: unknown, index: number, bounds: TimeBounds): ItemCheck<ValidTrade> {
  const parsed = TradeItem.safeParse(item);
  if (!parsed.success) return { ok: false, errors: itemErrorsFromZod(parsed.error, item, index, FIELD_CODES, ['symbol', 'tradeId', 'time']) };
  const input = parsed.data;
  const time = new Date(input.time);
  const outOfRange = timeBoundsError(index, input.time, time, bounds);
  if (outOfRange) return { ok: false, errors: [outOfRange] };
  return { ok: true, value: { symbol: input.symbol, time, tradeId: input.tradeId ?? '', price: input.price, size: input.size } };
}
