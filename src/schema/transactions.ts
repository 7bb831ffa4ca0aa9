import { authorizeNested } from '../auth/policy.js';
import { minorDigits, formatMoney } from '../currency.js';
import { listTransactions, type TimePosition, type Transaction } from '../db/transactions.js';
import { ValidationError } from '../errors.js';
import { referenceProblem } from '../ingest/transaction-item.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';
import { pageArgs, type PageBounds } from './cost.js';
import { checkTimeRange, connectionOf, idCursor, pageSize, toPage } from './pagination.js';
import { requestBatch } from './request-batch.js';

const PAGE: PageBounds = { max: 500, fallback: 50 };
/** Transactions one `transactions` query may name by id: five fraud signals' worth (a signal names at most 100). */
export const MAX_TRANSACTION_IDS = 500;

const ROLE_NOTE =
  'Card data (amounts, merchants, places, buyers\' IP addresses) is for fraud analysts: analyst and admin keys may read it, as they may the fraudSignals query; a read key (an app watching signals live) may not. Reads are in the audit log, with the cards they read.';

const LocationRef = builder.objectRef<{ lat: number; lon: number }>('Location').implement({
  description: 'Where a card transaction happened, in decimal degrees, as posted (LocationInput).',
  fields: (t) => ({
    lat: t.exposeFloat('lat', { description: 'Latitude, -90 to 90.' }),
    lon: t.exposeFloat('lon', { description: 'Longitude, -180 to 180.' }),
  }),
});

export const TransactionRef = builder.objectRef<Transaction>('Transaction').implement({
  description: `A stored card transaction, every field as posted with ingestTransactions (the IP as stored: one spelling per address). ${ROLE_NOTE}`,
  fields: (t) => ({
    id: t.exposeString('id', { description: "The partner's transaction id (unique within your tenant)." }),
    cardId: t.exposeString('cardId', { description: 'The card token.' }),
    time: t.field({ type: 'DateTime', description: 'When the purchase happened (event time), to the millisecond.', resolve: (x) => x.time }),
    amount: t.exposeFloat('amount', { description: 'The amount as posted, in `currency` (not rounded: amountText is).' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code, e.g. EUR.' }),
    minorDigits: t.int({
      description: "The currency's minor digits (ISO 4217 minor unit): 0 for JPY, 2 for EUR, 3 for BHD. Show `amount` with this many decimals, as amountText does.",
      resolve: (x) => minorDigits(x.currency),
    }),
    amountText: t.string({
      description: 'The amount as a statement shows it, with its currency\'s minor digits and the code, as fraud signal messages do: "5,200 JPY", "1.235 BHD", "42.50 EUR".',
      resolve: (x) => formatMoney(x.amount, x.currency),
    }),
    merchant: t.exposeString('merchant', { description: "The merchant's name or id." }),
    location: t.field({ type: LocationRef, description: 'Where the purchase happened.', resolve: (x) => ({ lat: x.lat, lon: x.lon }) }),
    ip: t.exposeString('ip', { description: "The buyer's IPv4 or IPv6 address, as stored (2001:db8::1 for 2001:DB8:0:0::1, 9.9.9.9 for ::ffff:9.9.9.9)." }),
    receivedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When its batch arrived (server time); null for one stored before migration 0012 kept it.',
      resolve: (x) => x.receivedAt ?? null,
    }),
    seq: t.string({ description: 'Its position in the transactions stream, in commit order: ties of `time` are listed in this order.', resolve: (x) => x.cursor.toString() }),
  }),
});

const TransactionConnection = connectionOf('Transaction', TransactionRef);

/** A page cursor: the transaction's event time (epoch ms) and its seq, so the next page starts after it in (time, seq) order. */
const cursorOf = (x: Transaction): string => `${x.time.getTime()}:${x.cursor}`;

function parseTimePosition(given: string | null | undefined): TimePosition | null {
  const cursor = idCursor(given, 'after');
  if (cursor === null) return null;
  const match = /^(-?\d{1,16}):(\d{1,19})$/.exec(cursor);
  // Not quoted back: an `after` holding a card number would be echoed into the caller's logs.
  if (!match || BigInt(match[2]!) > 9_223_372_036_854_775_807n) {
    throw new ValidationError('after must be an endCursor returned by the transactions query (<epoch ms>:<seq>)', { argument: 'after' });
  }
  return { timeMs: Number(match[1]), cursor: BigInt(match[2]!) };
}

/**
 * A transaction or card id to look up, refused when ingest could never have stored it. Named by its place, never
 * quoted: one holding a card number would be echoed into the caller's logs, which masking elsewhere keeps it out of.
 */
function checkReference(value: string, argument: string, what: string): void {
  const problem = referenceProblem(value);
  if (problem === 'card number') {
    throw new ValidationError(
      `${argument} holds what looks like a card number (13-19 digits that pass the Luhn check): ${what}s are tokens, never card numbers, so none is stored under it`,
      { argument },
    );
  }
  if (problem === 'shape') {
    throw new ValidationError(`${argument} is not a ${what}: those are 1-64 characters (letters, digits, ".", "_", ":" or "-", starting with a letter or digit)`, { argument });
  }
}

/** The ids asked for; an empty list never gets here (query-limits.ts refuses empty filters). */
function checkIds(ids: readonly string[]): void {
  if (ids.length > MAX_TRANSACTION_IDS) {
    throw new ValidationError(`ids may name at most ${MAX_TRANSACTION_IDS} transactions, got ${ids.length}: ask in parts`, { argument: 'ids', max: MAX_TRANSACTION_IDS });
  }
  ids.forEach((id, index) => checkReference(id, `ids[${index}]`, 'transaction id'));
}

builder.queryField('transactions', (t) =>
  t.field({
    type: TransactionConnection,
    description: `Stored card transactions of your tenant, by id (a fraud signal's transactionIds) or of one card, oldest first by event time (ties in seq order). Filters combine with AND; ids or cardId is required. An id that is not stored (another tenant's, or one that RETAIN_FOR removed) is simply absent. A transaction stored after you paged past its time is not on a later page: read the range again. ${ROLE_NOTE}`,
    args: {
      ids: t.arg.stringList({ description: `Only these transactions: 1-${MAX_TRANSACTION_IDS} ids, e.g. a fraud signal's transactionIds.` }),
      cardId: t.arg.string({ description: 'Only transactions of this card (its token).' }),
      from: t.arg({ type: 'DateTime', description: 'Only transactions at or after this time (event time).' }),
      to: t.arg({ type: 'DateTime', description: 'Only transactions before this time; must be after `from`.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      if (args.ids == null && args.cardId == null) {
        throw new ValidationError("name the transactions to read: ids (e.g. a fraud signal's transactionIds) or cardId", { argument: 'ids' });
      }
      if (args.ids != null) checkIds(args.ids);
      if (args.cardId != null) checkReference(args.cardId, 'cardId', 'card id');
      checkTimeRange(args.from, args.to);
      const limit = pageSize(args.first, PAGE);
      const found = await listTransactions(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        ids: args.ids,
        cardId: args.cardId,
        from: args.from,
        to: args.to,
        after: parseTimePosition(args.after),
        limit: limit + 1,
      });
      const page = toPage(found, limit, cursorOf, args.after);
      // The audit log's record of who read which cards: the one asked for, and those of the transactions answered.
      ctx.scope.touch([...(args.cardId != null ? [args.cardId] : []), ...page.edges.map((e) => e.node.cardId)]);
      return page;
    },
  }),
);

/** The caller's tenant's transactions among `ids`, read with every other id the operation asks for in the same pass. */
const storedTransaction = requestBatch(async (ctx, ids: string[]) => {
  const found = await listTransactions(ctx.services.database.db, { tenantId: ctx.scope.tenantId, ids, after: null, limit: ids.length });
  return new Map(found.map((x) => [x.id, x]));
});

/** A fraud signal's transactions, in the order it names them; those no longer stored (RETAIN_FOR) are left out. */
export async function transactionsOfSignal(ctx: GraphQLContext, transactionIds: readonly string[]): Promise<Transaction[]> {
  authorizeNested('FraudSignal.transactions', ctx.principal);
  const found = (await Promise.all(transactionIds.map((id) => storedTransaction(ctx, id)))).filter((x) => x !== undefined);
  ctx.scope.touch(found.map((x) => x.cardId));
  return found;
}
