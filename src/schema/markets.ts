import { listCandles } from '../db/candles.js';
import { DURATION_HINT, formatDuration, looksLikeDuration, parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { ingestTrades } from '../ingest/ingest-trades.js';
import type { Candle } from '../processors/candles.js';
import { builder } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { requestLog, type GraphQLContext } from './context.js';
import { IngestResultRef } from './ingest-result.js';
import { checkFilterSize, emitBatch, filterSet, parseStartCursor } from './live.js';
import { checkTimeRange, connectionOf, pageSize, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

const TradeInput = builder.inputType('TradeInput', {
  description:
    'An executed trade. (symbol, time, tradeId) identifies it: a resent trade is stored once. Without a tradeId, trades of one symbol in the same millisecond are one trade: send the venue\'s id wherever it has one.',
  fields: (t) => ({
    symbol: t.string({ required: true, description: 'Ticker, pair or contract code: 1-32 of letters, digits and . _ : / -' }),
    time: t.string({ required: true, description: 'ISO-8601 timestamp with seconds and a time zone (Z or ±hh:mm), the event time, kept to the millisecond.' }),
    tradeId: t.string({ description: "The venue's id of the trade: 1-64 of letters, digits and . _ : / -. Tells apart trades of one symbol in one millisecond." }),
    price: t.float({ required: true, description: 'Greater than 0.' }),
    size: t.float({ required: true, description: 'Quantity traded, greater than 0.' }),
  }),
});

builder.mutationField('ingestTrades', (t) =>
  t.field({
    type: IngestResultRef,
    description: 'Stores a batch of trades (at most MAX_BATCH), validated per item like ingestReadings. Idempotent on (symbol, time, tradeId).',
    args: { trades: t.arg({ type: [TradeInput], required: true, description: 'Trades, at most MAX_BATCH; each is stored or rejected on its own, and a retried trade is stored once.' }) },
    resolve: (_root, args, ctx) => ingestTrades(ctx.services.ingest, args.trades, ctx.principal, { log: requestLog(ctx), id: ctx.requestId }),
  }),
);

type CandleView = Omit<Candle, 'id'>;

const CandleRef = builder.objectRef<CandleView>('Candle').implement({
  description:
    'OHLCV of one symbol over [start, end) in event time. closed: false while forming (re-emitted on every trade); closed: true once the watermark passed its end: final.',
  fields: (t) => ({
    symbol: t.exposeString('symbol', { description: 'The instrument.' }),
    interval: t.string({ description: 'e.g. "1s", "1m", "5m", "1h".', resolve: (c) => formatDuration(c.intervalMs) }),
    start: t.field({ description: 'Start of the interval (inclusive).', type: 'DateTime', resolve: (c) => c.start }),
    end: t.field({ description: 'End of the interval (exclusive).', type: 'DateTime', resolve: (c) => c.end }),
    open: t.exposeFloat('open', { description: 'Price of the earliest trade by event time (of trades in one millisecond, the one stored first).' }),
    high: t.exposeFloat('high', { description: 'Highest price.' }),
    low: t.exposeFloat('low', { description: 'Lowest price.' }),
    close: t.exposeFloat('close', { description: 'Price of the latest trade by event time (of trades in one millisecond, the one stored last).' }),
    volume: t.exposeFloat('volume', { description: 'Sum of sizes, added exactly as the decimals they were sent as: the same whatever order the trades came in (three of 0.1 make 0.3).' }),
    vwap: t.exposeFloat('vwap', { nullable: true, description: 'sum(price × size) / sum(size), both sums exact as volume is, rounded once in the division (and kept within [low, high]).' }),
    trades: t.exposeInt('trades', { description: 'Number of trades.' }),
    closed: t.exposeBoolean('closed', { description: 'True once final.' }),
  }),
});

function configuredInterval(text: string, configured: readonly number[], argument: string): number {
  const ms = parseDuration(text);
  // "0m" or "999999999d" is written as a duration, just not one computed here: saying so beats repeating the format it follows.
  if (ms === undefined && !looksLikeDuration(text)) throw new ValidationError(`${argument} must be ${DURATION_HINT}, got ${JSON.stringify(text)}`, { argument });
  if (!ms || !configured.includes(ms)) {
    throw new ValidationError(`${argument} ${JSON.stringify(text)} is not computed here; configured: ${configured.map(formatDuration).join(', ')}`, { argument });
  }
  return ms;
}

const CandleConnection = connectionOf('Candle', CandleRef);

/**
 * Refuses, by name, a symbol of the tenant's that is a patient or device: it has no trades or candles, and never
 * will. `why` ends the message, in the words of what was asked for.
 */
export async function checkInstruments(ctx: GraphQLContext, symbols: readonly string[], argument: string, why = 'candles are made from trades'): Promise<void> {
  const instruments = await ctx.services.registry.instrumentsAmong(symbols);
  const other = symbols.find((s) => !instruments.has(s));
  if (other !== undefined) throw new ValidationError(`${argument}: ${JSON.stringify(other)} is a patient or device, not an instrument: ${why}`, { argument });
}

builder.queryField('candles', (t) =>
  t.field({
    type: CandleConnection,
    description:
      'Stored candles of one symbol and interval with from <= start < to, oldest first. A forming candle is stored at most every FORMING_FLUSH_INTERVAL (1 s by default); the `candles` subscription has every version at once.',
    args: {
      symbol: t.arg.string({ required: true, description: 'The instrument, e.g. ACME.' }),
      interval: t.arg.string({ required: true, description: 'A configured interval (CANDLE_INTERVALS), e.g. "1m".' }),
      from: t.arg({ type: 'DateTime', required: true, description: 'Candles starting at or after this time.' }),
      to: t.arg({ type: 'DateTime', required: true, description: 'Candles starting before this time.' }),
      closedOnly: t.arg.boolean({ defaultValue: true, description: 'Only final candles (default); false adds the forming one.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      const intervalMs = configuredInterval(args.interval, ctx.services.config.processors.candleIntervalsMs, 'interval');
      checkTimeRange(args.from, args.to);
      await ctx.scope.source(args.symbol, 'symbol');
      await checkInstruments(ctx, [args.symbol], 'symbol');
      const limit = pageSize(args.first, PAGE);
      const rows = await listCandles(ctx.services.database.db, {
        symbol: args.symbol,
        intervalMs,
        from: args.from,
        to: args.to,
        closedOnly: args.closedOnly ?? true,
        after: parseStartCursor(args.after),
        limit: limit + 1,
      });
      const views: CandleView[] = rows.map((r) => ({ ...r, start: r.start.getTime(), end: r.end.getTime() }));
      return toPage(views, limit, (c) => String(c.start), args.after);
    },
  }),
);

builder.subscriptionField('candles', (t) =>
  t.field({
    type: [CandleRef],
    description: 'Live candles: the forming candle on every trade (closed: false) and each candle as it closes (closed: true).',
    args: {
      symbols: t.arg.stringList({ description: 'Only these symbols; all when omitted.' }),
      intervals: t.arg.stringList({ description: 'Only these intervals, e.g. ["1m"]; all when omitted.' }),
      closedOnly: t.arg.boolean({ defaultValue: false, description: 'Only closed candles, not the forming one.' }),
    },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.symbols, 'symbols');
      const configured = ctx.services.config.processors.candleIntervalsMs;
      const intervals = filterSet(args.intervals?.map((i) => configuredInterval(i, configured, 'intervals')));
      const symbols = filterSet(await ctx.scope.sources(args.symbols, 'symbols'));
      if (symbols) await checkInstruments(ctx, [...symbols], 'symbols');
      const closedOnly = args.closedOnly ?? false;
      return ctx.services.outputs.candles.subscribe(
        (c) => (symbols ? symbols.has(c.symbol) : ctx.scope.owns(c.symbol)) && (!intervals || intervals.has(c.intervalMs)) && (!closedOnly || c.closed),
      );
    },
    resolve: (batch: Candle[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
