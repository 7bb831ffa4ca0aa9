import type { IngestResult } from '../ingest/ingest-batch.js';
import { ITEM_ERROR_CODES, type ItemError, type ItemErrorCode } from '../ingest/item-errors.js';
import { builder, describedValues } from './builder.js';

const CARD_NUMBER = 'holds what looks like a card number (13-19 digits, grouped or not, that pass the Luhn check and start as issued cards do)';

/** When each code is given: reading-item.ts, trade-item.ts, transaction-item.ts, item-errors.ts and the ingest-*.ts admit steps. */
const ITEM_ERROR_DESCRIPTIONS: Record<ItemErrorCode, string> = {
  INVALID_SOURCE_ID: 'Readings: sourceId is not a valid source id (1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit).',
  UNKNOWN_SOURCE:
    'Readings: sourceId is not a patient or device registered to your tenant (registerSources first; an instrument takes trades, not readings). Trades: symbol is not an instrument of your tenant: another tenant trades it, or it is one of your patients or devices. A symbol no tenant holds yet becomes your instrument with your first trade of it.',
  UNKNOWN_METRIC: 'Readings: metric is not in the catalog (query metrics for the list), or is longer than 64 characters.',
  INVALID_TIME:
    'time is not an ISO-8601 timestamp with seconds and a time zone written Z or ±hh:mm (RFC 3339) that names a real date and time, e.g. 2026-01-01T12:00:00Z (a date alone, a missing zone, an offset without its colon, 24:00, 30 February, epoch milliseconds: all refused).',
  TIME_OUT_OF_RANGE:
    "time is well formed but outside the accepted range: before 2000-01-01T00:00:00Z, older than RETAIN_FOR keeps data, or more than MAX_FUTURE_SKEW ahead of the server's clock. Usually a sender whose clock is wrong.",
  INVALID_VALUE:
    "Readings: value is not a finite number between -1e15 and 1e15. A value outside the metric's plausible range is not refused: it is stored with quality SUSPECT.",
  UNIT_MISMATCH: "Readings: unit is given and is not the metric's catalog unit (or is longer than 32 characters). Send the value in the catalog's unit, or leave unit out.",
  INVALID_QUALITY:
    'Readings: quality is not GOOD, SUSPECT or BAD. Not given through this API today: the Quality enum of ReadingInput refuses such a value before items are checked.',
  INVALID_SYMBOL: 'Trades: symbol is not 1-32 letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit.',
  INVALID_PRICE: 'Trades: price is not a finite number greater than 0 and at most 1e15.',
  INVALID_SIZE: 'Trades: size is not a finite number greater than 0 and at most 1e15.',
  INVALID_TRADE_ID: 'Trades: tradeId is given and is not 1-64 letters, digits, ".", "_", ":", "/" or "-".',
  INVALID_ID: `Transactions: id is not 1-64 letters, digits, ".", "_", ":" or "-" starting with a letter or digit, or ${CARD_NUMBER}.`,
  INVALID_CARD: `Transactions: cardId is not 1-64 letters, digits, ".", "_", ":" or "-" starting with a letter or digit, or ${CARD_NUMBER}: send a card token, never the number.`,
  INVALID_AMOUNT: 'Transactions: amount is not a finite number greater than 0 and at most 1e12 (refunds and zero-amount checks are not taken).',
  INVALID_CURRENCY:
    "Transactions: currency is not the ISO 4217 code of a currency in use (e.g. EUR), as Node's list of currencies has them: three capital letters that name none (ZZZ, a transposed CFH) are refused, and so are codes such as XAU (gold) and XXX (no currency).",
  INVALID_MERCHANT: `Transactions: merchant is empty or only spaces, longer than 128 characters, or ${CARD_NUMBER}.`,
  INVALID_LOCATION: 'Transactions: location.lat is not between -90 and 90, or location.lon not between -180 and 180.',
  INVALID_IP: 'Transactions: ip is not an IPv4 or IPv6 address.',
  INVALID_ITEM:
    'The item is not an object at all (field is null). Not given through this API today: the typed inputs (ReadingInput, TradeInput, TransactionInput) refuse such an item before items are checked.',
};

const ItemErrorCodeEnum = builder.enumType('IngestErrorCode', {
  description:
    'Why an ingest mutation refused one item (IngestError.code). Stable: clients may switch on it, and a code is never renamed. The refused item is kept as a dead letter (deadLetters); the valid items of the batch are stored.',
  values: describedValues(ITEM_ERROR_CODES, ITEM_ERROR_DESCRIPTIONS),
});

const IngestErrorRef = builder.objectRef<ItemError>('IngestError').implement({
  description: 'Why one submitted item was rejected. Other items of the batch are unaffected.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the item in the submitted list, from 0.' }),
    field: t.exposeString('field', { description: 'The item\'s field at fault; null when the item as a whole is.', nullable: true }),
    code: t.field({ description: 'What kind of problem.', type: ItemErrorCodeEnum, resolve: (e) => e.code }),
    message: t.exposeString('message', { description: 'What is wrong, naming the value.' }),
  }),
});

/** The answer of every batch ingest mutation. */
export const IngestResultRef = builder.objectRef<IngestResult>('IngestResult').implement({
  description: 'Returned only after the accepted rows are committed.',
  fields: (t) => ({
    accepted: t.exposeInt('accepted', { description: 'Items newly stored.' }),
    duplicates: t.exposeInt('duplicates', { description: 'Items already stored (same natural key: source, metric and time for readings; symbol, time and tradeId for trades; id for transactions); the stored one is kept.' }),
    rejected: t.exposeInt('rejected', { description: 'Items rejected; each has at least one entry in errors and is kept as a dead letter.' }),
    errors: t.field({ description: 'One entry per problem of each rejected item.', type: [IngestErrorRef], resolve: (r) => r.errors }),
    lastCursor: t.string({ nullable: true, description: 'Stream cursor of the last item stored by this batch.', resolve: (r) => r.lastCursor?.toString() ?? null }),
  }),
});

