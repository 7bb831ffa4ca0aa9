import { limitHolder } from '../auth/principal.js';
import { anySignalStoredAfter, fraudResumeBound, lastFraudSeq, listFraudSignals, signalStoredAfter, type StoredFraudSignal } from '../db/fraud.js';
import { ingestTransactions } from '../ingest/ingest-transactions.js';
import { ALL_SOURCES } from '../auth/tenant-scope.js';
import { subjectsAsStored } from '../ingest/transaction-item.js';
import { FRAUD_KINDS, MAX_BURST_TRANSACTIONS, type FraudKind, type FraudSignal } from '../processors/fraud.js';
import { builder, describedValues } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { requestLog, type GraphQLContext } from './context.js';
import { IngestResultRef } from './ingest-result.js';
import { checkFilterSize, emitBatch, filterSet, resumePoint } from './live.js';
import { checkTimeRange, pageSize, parseCursor, positionedConnectionOf, positionIfAsked, toPage } from './pagination.js';
import { LIST_SIZE, pageArgs, type PageBounds } from './cost.js';
import { selectsField } from './selection.js';
import { TransactionRef, transactionsOfSignal } from './transactions.js';
import { authorizeNested } from '../auth/policy.js';

const PAGE: PageBounds = { max: 500, fallback: 50 };

const LocationInput = builder.inputType('LocationInput', {
  description: 'Where a card transaction happened, in decimal degrees; impossible-travel checks measure the distance between two of them.',
  fields: (t) => ({
    lat: t.float({ required: true, description: 'Latitude, -90 to 90.' }),
    lon: t.float({ required: true, description: 'Longitude, -180 to 180.' }),
  }),
});

const TransactionInput = builder.inputType('TransactionInput', {
  description:
    'A card transaction. `id` identifies it: a resent transaction is stored once. Card ids are tokens, never card numbers: an item whose `id`, `cardId` or `merchant` holds one (13-19 digits, grouped or not, that pass the Luhn check and start as issued cards do) is refused.',
  fields: (t) => ({
    id: t.string({ required: true, description: "The partner's transaction id: 1-64 of letters, digits and . _ : -" }),
    cardId: t.string({ required: true, description: 'Card token, 1-64 of letters, digits and . _ : - (never a card number).' }),
    time: t.string({ required: true, description: 'ISO-8601 timestamp with seconds and a time zone (Z or ±hh:mm), kept to the millisecond.' }),
    amount: t.float({ required: true, description: 'Greater than 0, in `currency`.' }),
    currency: t.string({ required: true, description: 'ISO 4217 code, e.g. EUR.' }),
    merchant: t.string({ description: 'The merchant\'s name or id.', required: true }),
    location: t.field({ description: 'Where the purchase happened.', type: LocationInput, required: true }),
    ip: t.string({ required: true, description: 'IPv4 or IPv6 address of the buyer.' }),
  }),
});

builder.mutationField('ingestTransactions', (t) =>
  t.field({
    type: IngestResultRef,
    description: 'Stores a batch of card transactions (at most MAX_BATCH), validated per item like ingestReadings. Idempotent on id.',
    args: { transactions: t.arg({ type: [TransactionInput], required: true, description: 'Card transactions, at most MAX_BATCH; each is stored or rejected on its own.' }) },
    resolve: (_root, args, ctx) => ingestTransactions(ctx.services.ingest, args.transactions, ctx.principal, { log: requestLog(ctx), id: ctx.requestId }),
  }),
);

const FRAUD_KIND_DESCRIPTIONS: Record<FraudKind, string> = {
  CARD_VELOCITY:
    'More than FRAUD_VELOCITY_MAX_COUNT purchases of at least FRAUD_VELOCITY_MIN_AMOUNT (any currency, not converted) from one card within FRAUD_VELOCITY_WINDOW. subject: the card id. The signal keeps its id and grows while the burst lasts; details: count, windowMs, minAmount, maxCount.',
  IP_VELOCITY:
    'The same as CARD_VELOCITY for purchases from one IP address, whatever the cards. subject: the IP (as stored: one spelling per address).',
  IMPOSSIBLE_TRAVEL:
    'Two purchases of one card, next to each other in event time, at least FRAUD_MIN_DISTANCE_KM apart and farther apart than FRAUD_MAX_SPEED_KMH allows in the time between them (or at the same instant). subject: the card id; details: distanceKm, hours, speedKmh.',
  AMOUNT_ANOMALY:
    "An amount unusually large for the card: its z-score against the card's own history of amounts (on a log scale) reaches FRAUD_AMOUNT_Z, once the card has FRAUD_AMOUNT_WARMUP transactions. subject: the card id; details: amount, typicalAmount, zScore and the history's logMean and logStddev.",
};
const FraudKindEnum = builder.enumType('FraudKind', {
  description:
    "The pattern a fraud signal reports. A transaction more than ALLOWED_LATENESS behind its card's newest is in no card signal, one that far behind its IP's newest in no IP_VELOCITY signal (lateEvents lists them).",
  values: describedValues(FRAUD_KINDS, FRAUD_KIND_DESCRIPTIONS),
});

type SignalView = FraudSignal & { seq: string };

const FraudDetailRef = builder.objectRef<{ name: string; value: number }>('FraudDetail').implement({
  description: 'One named figure behind a fraud signal; which names appear depends on the kind (see FraudKind).',
  fields: (t) => ({ name: t.exposeString('name', { description: 'What the figure is, e.g. count, distanceKm, speedKmh or zScore.' }), value: t.exposeFloat('value', { description: 'The figure.' }) }),
});

const FraudSignalRef = builder.objectRef<SignalView>('FraudSignal').implement({
  description: 'A suspicious pattern and the transactions that make it. A velocity burst keeps its id and grows while it lasts.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id; a growing velocity burst keeps it.' }),
    kind: t.field({ description: 'The pattern.', type: FraudKindEnum, resolve: (s) => s.kind }),
    subject: t.exposeString('subject', { description: 'The card id, or the IP for IP_VELOCITY.' }),
    time: t.field({ type: 'DateTime', description: 'Event time of its newest transaction (a late one joining a burst does not move it back).', resolve: (s) => s.time }),
    transactionIds: t.exposeStringList('transactionIds', { description: 'The transactions that make it, by id, in event-time order (a burst: its first MAX_BURST_TRANSACTIONS, 100).' }),
    transactions: t.field({
      type: [TransactionRef],
      description:
        'The transactions that make it, as stored, in the order of transactionIds; one that RETAIN_FOR removed is left out. Read for every signal of a page (or a live batch) at once. Analyst and admin keys only: a read key\'s fraudSignals subscription selecting it is refused (FORBIDDEN).',
      resolve: (s, _args, ctx) => transactionsOfSignal(ctx, s.transactionIds),
      extensions: { [LIST_SIZE]: MAX_BURST_TRANSACTIONS },
    }),
    details: t.field({ description: 'The figures behind it (counts, distance, speed, …).', type: [FraudDetailRef], resolve: (s) => Object.entries(s.details).map(([name, value]) => ({ name, value })) }),
    message: t.exposeString('message', { description: 'What was seen, in words.' }),
    seq: t.exposeString('seq', {
      description:
        'When it was raised or last changed, in the order signals were stored (and committed): a signal that grows gets a new, larger one. Pass the last one received as `after` to resume the fraudSignals subscription.',
    }),
  }),
});

const FraudSignalConnection = positionedConnectionOf<SignalView>('FraudSignal', FraudSignalRef, {
  field: 'lastSignalSeq',
  description:
    "The seq of the last signal raised or changed before this page was read (\"0\": none yet): a position in the platform's one sequence of fraud signals, not this tenant's own. Subscribe to fraudSignals with it as `after` and every signal raised or changed since arrives as an event: read it from the first page, then subscribe, and nothing falls between the read and the subscription.",
});

/** The cards and IPs a request reads signals of, for the audit log ("*": all of the tenant's): a card issuer's record of who read which cards. */
function auditSubjects(ctx: GraphQLContext, subjects: readonly string[] | null | undefined): void {
  for (const subject of subjects?.length ? subjects : [ALL_SOURCES]) ctx.scope.touched.add(subject);
}

builder.queryField('fraudSignals', (t) =>
  t.field({
    type: FraudSignalConnection,
    description:
      'Fraud signals, the most recently raised or changed first: a velocity burst that grows comes first again. A signal that changes while you page through moves to the front, ahead of your first page, so a walk of the pages does not meet it again: read the first page again to see what changed, or follow them live with the fraudSignals subscription. Filters combine with AND.',
    args: {
      kinds: t.arg({ type: [FraudKindEnum], description: 'Only these kinds of signal (default: all).' }),
      subjects: t.arg.stringList({ description: 'Card ids or IPs.' }),
      from: t.arg({ type: 'DateTime', description: 'Only signals whose time (the event time of their newest transaction) is at or after this.' }),
      to: t.arg({ type: 'DateTime', description: 'Only signals whose time is before this: a burst extended past it is not included.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx, info) => {
      checkTimeRange(args.from, args.to);
      const limit = pageSize(args.first, PAGE);
      auditSubjects(ctx, args.subjects);
      // Read before the signals: a signal stored after it is then either in the page or after lastSignalSeq.
      const position = await positionIfAsked(info, 'lastSignalSeq', () => lastFraudSeq(ctx.services.database.db));
      const rows = await listFraudSignals(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        kinds: args.kinds,
        subjects: subjectsAsStored(args.subjects),
        from: args.from,
        to: args.to,
        before: parseCursor(args.after, 'after'),
        limit: limit + 1,
      });
      return { ...toPage<SignalView>(rows, limit, (s) => s.seq, args.after), position };
    },
  }),
);

builder.subscriptionField('fraudSignals', (t) =>
  t.field({
    type: [FraudSignalRef],
    description:
      'Fraud signals once they are stored, as the processors raise (or extend) them, in seq order. With `after` (or an SSE Last-Event-ID, which wins over `after`: a reconnecting EventSource sends both) it first replays every signal raised or changed after that seq, as it stands now, then continues live: no gap, no duplicate. Each SSE event id is the last seq in it.',
    args: {
      kinds: t.arg({ type: [FraudKindEnum], description: 'Only these kinds of signal (default: all).' }),
      subjects: t.arg.stringList({ description: 'Only signals about these subjects (card or IP; default: all).' }),
      after: t.arg.string({
        description:
          'Resume after this seq (FraudSignal.seq): the last one received. One this database never issued (from another history: a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the last stored seq: read the first page of fraudSignals again and resume after that. With a read key, one whose replay would begin more than READ_KEY_REPLAY (1h) back is refused (FORBIDDEN) with `extensions.resumeAfter` too. Its replay of stored rows takes one of the MAX_CONCURRENT_REPLAYS_PER_KEY (4) turns of its key, waiting up to REPLAY_WAIT (30s) for one; past that it ends with TOO_MANY_REPLAYS and `extensions.resumeAfter`: resubscribe there.',
      }),
    },
    subscribe: async (_root, args, ctx, info) => {
      // Refused before it goes live, not at its first signal.
      if (selectsField(info, 'transactions')) authorizeNested('FraudSignal.transactions', ctx.principal);
      checkFilterSize(args.subjects, 'subjects');
      auditSubjects(ctx, args.subjects);
      const { db } = ctx.services.database;
      const kinds = filterSet<string>(args.kinds);
      const subjects = filterSet(subjectsAsStored(args.subjects));
      const { tenantId } = ctx.scope;
      const after = await resumePoint(ctx, args.after, {
        noun: 'fraud signals',
        newest: (seq) => fraudResumeBound(db, seq),
        ahead: (argument, seq, last) => `${argument} ${seq} is ahead of the fraud signals (the last stored seq is ${last}); resume with a seq this API sent`,
        // Where this subscription's replay begins: other tenants' and other subjects' signals are not replayed to it.
        anyStoredAfter: (seq) => anySignalStoredAfter(db, seq),
        storedAfter: (seq) => signalStoredAfter(db, seq, { tenantId, kinds, subjects }),
      });
      return ctx.services.outputs.fraud.subscribe((s) => s.tenantId === tenantId && (!kinds || kinds.has(s.kind)) && (!subjects || subjects.has(s.subject)), after, tenantId, limitHolder(ctx.principal));
    },
    resolve: (batch: StoredFraudSignal[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
