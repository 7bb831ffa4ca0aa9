import { limitHolder } from '../auth/principal.js';
import { tradesAfter, tradeStoredAfter, TRADES_STREAM, type Trade } from '../db/trades.js';
import { ValidationError } from '../errors.js';
import { TRADE_ID_PATTERN, TRADE_ID_RULE } from '../ingest/trade-item.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';
import { pageArgs, type PageBounds } from './cost.js';
import { checkFilterSize, emitBatch, resumePoint, tailedStream } from './live.js';
import { checkInstruments } from './markets.js';
import { checkTimeRange, connectionOf, pageSize, parseCursor, toPage } from './pagination.js';
import { PLAIN_LIST } from './plain-list.js';
import { refuseCursorAhead } from './readings.js';

/** The trade blotter: stored trades as a cursor connection, and live trades resumable from a cursor. */

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

const NOT_AN_INSTRUMENT = 'only instruments have trades';

export const TradeRef = builder.objectRef<Trade>('Trade').implement({
  description: 'One stored trade, as the venue sent it through ingestTrades.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Position in the trades stream (commit order). Pass as `after` to resume the `trades` subscription or page on.',
      resolve: (trade) => trade.cursor.toString(),
    }),
    symbol: t.exposeString('symbol', { description: 'The instrument.' }),
    time: t.field({ type: 'DateTime', description: 'When it was executed (event time, to the millisecond).', resolve: (trade) => trade.time }),
    price: t.exposeFloat('price', { description: 'Price per unit, greater than 0.' }),
    size: t.exposeFloat('size', { description: 'Quantity traded, greater than 0.' }),
    tradeId: t.string({
      nullable: true,
      description: "The venue's id of the trade; null when it sent none.",
      resolve: (trade) => (trade.tradeId === '' ? null : trade.tradeId),
    }),
    receivedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the platform received its batch; null for trades stored before migration 0012.',
      resolve: (trade) => trade.receivedAt ?? null,
    }),
  }),
});

const TradeConnection = connectionOf('Trade', TradeRef);

/** The named symbols, each the tenant's and an instrument; null (all the tenant's) when none are named. */
async function instrumentSymbols(ctx: GraphQLContext, symbols: readonly string[] | null | undefined): Promise<string[] | null> {
  const named = await ctx.scope.sources(symbols, 'symbols');
  if (named) await checkInstruments(ctx, named, 'symbols', NOT_AN_INSTRUMENT);
  return named;
}

/** A tradeId filter that no stored trade can have is refused, not answered with nothing for ever. */
function checkTradeId(tradeId: string | null | undefined): void {
  if (tradeId === null || tradeId === undefined || TRADE_ID_PATTERN.test(tradeId)) return;
  throw new ValidationError(`tradeId must be ${TRADE_ID_RULE} (as ingestTrades takes it), got ${JSON.stringify(tradeId)}`, { argument: 'tradeId' });
}

builder.queryField('trades', (t) =>
  t.field({
    type: TradeConnection,
    description:
      'Stored trades in cursor (commit) order: the blotter, and what candles are made of. Filters combine with AND. Subscribe to `trades` with `after` set to the last page\'s endCursor to continue live. An `after` ahead of the stored stream (a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the newest committed cursor.',
    args: {
      symbols: t.arg.stringList({ description: "Only these instruments (default: all of the tenant's). A patient or device is refused." }),
      tradeId: t.arg.string({ description: "Only trades the venue gave this id (a venue's ids are per symbol: name the symbol too)." }),
      from: t.arg({ type: 'DateTime', description: 'Executed at or after (event time).' }),
      to: t.arg({ type: 'DateTime', description: 'Executed before (event time).' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      checkTimeRange(args.from, args.to);
      checkTradeId(args.tradeId);
      const limit = pageSize(args.first, PAGE);
      const symbols = await instrumentSymbols(ctx, args.symbols);
      const after = parseCursor(args.after, 'after');
      const { db } = ctx.services.database;
      const found = await tradesAfter(db, after ?? 0n, {
        limit: limit + 1,
        filter: { tenantId: ctx.scope.tenantId, symbols, tradeId: args.tradeId, from: args.from, to: args.to },
      });
      if (found.length === 0) await refuseCursorAhead(db, after, TRADES_STREAM);
      return toPage(found, limit, (trade) => trade.cursor.toString(), args.after);
    },
  }),
);

builder.subscriptionField('trades', (t) =>
  t.field({
    type: [TradeRef],
    description:
      'Committed trades as they arrive, in cursor order, batched. With `after` (or an SSE Last-Event-ID, which wins over `after`) it first replays every stored trade after that cursor, then continues live: no gap, no duplicate. Each SSE event id is the last cursor in it.',
    args: {
      symbols: t.arg.stringList({ description: "Only these instruments; all of the tenant's when omitted. A patient or device is refused." }),
      after: t.arg.string({
        description:
          'Resume after this cursor. One ahead of the stored stream is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the newest committed cursor. With a read key, one whose replay would begin more than READ_KEY_REPLAY (1h) back is refused (FORBIDDEN) with `extensions.resumeAfter` too. Its replay of stored rows takes one of the MAX_CONCURRENT_REPLAYS_PER_KEY (4) turns of its key, waiting up to REPLAY_WAIT (30s) for one; past that it ends with TOO_MANY_REPLAYS and `extensions.resumeAfter`: resubscribe there.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.symbols, 'symbols');
      const { tradesTail, tradesFeed, database } = ctx.services;
      const symbols = await instrumentSymbols(ctx, args.symbols);
      const filter = { tenantId: ctx.scope.tenantId, symbols };
      // Where this subscription's replay begins: other tenants' and other symbols' trades are not replayed to it.
      const stream = tailedStream(ctx, tradesTail, 'trades', (cursor, own) => tradeStoredAfter(database.db, cursor, own ? filter : undefined));
      const after = await resumePoint(ctx, args.after, stream);
      return tradesFeed.subscribe({ tenantId: ctx.scope.tenantId, sourceIds: symbols, after, holder: limitHolder(ctx.principal) });
    },
    // The SSE event id (the batch's last cursor) is noted per subscriber by noteStreamCursor: this may run once for many.
    resolve: (batch: Trade[] | Error) => emitBatch(batch),
    // This resolver and Trade's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
