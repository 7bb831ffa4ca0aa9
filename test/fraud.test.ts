import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FraudSignalsDocument, IngestTransactionsDocument, LiveFraudSignalsDocument, type TransactionInput } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { upsertFraudSignals, type TenantFraudSignal } from '../src/db/fraud.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { T0 } from './support/fixtures.js';

const MIN = 60_000;
const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const LONDON_EAST = { lat: 51.5155, lon: -0.0922 };

let next = 0;
const tx = (over: Partial<TransactionInput> & { minute: number }): TransactionInput => {
  const { minute, ...rest } = over;
  return {
    id: `tx-${++next}`,
    cardId: 'card-normal',
    time: new Date(T0 + minute * MIN).toISOString(),
    amount: 25 + (next % 7) * 5,
    currency: 'EUR',
    merchant: 'Corner Shop',
    location: LONDON,
    ip: `198.51.100.${next % 200}`,
    ...rest,
  };
};

describe.each(primaryBackends)('fraud detection on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ALLOWED_LATENESS: '5m', FRAUD_VELOCITY_MAX_COUNT: '3', FRAUD_VELOCITY_MIN_AMOUNT: '500', FRAUD_VELOCITY_WINDOW: '10m' } });
  });
  afterAll(() => app?.close());

  const signals = async () => (await app.mutate(FraudSignalsDocument, { first: 100 })).fraudSignals.edges.map((e) => e.node);

  it('flags a card used in two cities minutes apart, an IP buying high-value goods in a burst, a card buying high-value goods in a burst, and an amount far above a card\'s habit — and nothing in the normal traffic around them', async () => {
    const live = await app.subscribeWs(LiveFraudSignalsDocument, {});
    // Normal traffic: many cards, small amounts, one city, spread out.
    const normal = Array.from({ length: 60 }, (_, i) => tx({ minute: i, cardId: `card-${i % 12}`, location: i % 2 ? LONDON : LONDON_EAST }));
    const habit = Array.from({ length: 15 }, (_, i) => tx({ minute: 2 * i, cardId: 'card-habit', amount: 20 + (i % 5) * 8 }));
    const travel = [tx({ minute: 30, cardId: 'card-travel', location: LONDON }), tx({ minute: 42, cardId: 'card-travel', location: NEW_YORK })];
    const burst = [0, 1, 2, 3].map((i) => tx({ minute: 50 + i, cardId: `card-b${i}`, amount: 900 + i, ip: '203.0.113.7', merchant: 'Electronics' }));
    const spike = tx({ minute: 40, cardId: 'card-habit', amount: 4_000, merchant: 'Jeweller' });
    const shopper = [0, 1, 2, 3].map((i) => tx({ minute: 20 + i * 2, cardId: 'card-shopper', amount: 600 + i * 10, merchant: 'Watches' }));
    // Posted as a partner would: in time order, in batches.
    const all = [...normal, ...habit, ...travel, ...burst, spike, ...shopper].sort((a, b) => a.time.localeCompare(b.time));
    const batches = Array.from({ length: Math.ceil(all.length / 20) }, (_, i) => all.slice(i * 20, i * 20 + 20));
    for (const transactions of batches) {
      const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, { transactions });
      expect(ingestTransactions).toMatchObject({ accepted: transactions.length, rejected: 0 });
    }
    await app.settle();

    const found = await signals();
    expect(found.map((s) => [s.kind, s.subject, s.transactionIds]).sort()).toEqual(
      [
        ['AMOUNT_ANOMALY', 'card-habit', [spike.id]],
        ['CARD_VELOCITY', 'card-shopper', shopper.map((t) => t.id)],
        ['IMPOSSIBLE_TRAVEL', 'card-travel', travel.map((t) => t.id)],
        ['IP_VELOCITY', '203.0.113.7', burst.map((t) => t.id)],
      ].sort(),
    );
    const travelSignal = found.find((s) => s.kind === 'IMPOSSIBLE_TRAVEL')!;
    expect(travelSignal.details.find((d) => d.name === 'distanceKm')!.value).toBeGreaterThan(5_500);
    const published = await live.results.until((items) => new Set(items.flatMap((r) => r.data?.fraudSignals ?? []).map((s) => s.id)).size >= 4, 'four signals published');
    expect(new Set(published.flatMap((r) => r.data?.fraudSignals ?? []).map((s) => s.id))).toEqual(new Set(found.map((s) => s.id)));

    // Replaying every batch stores nothing and raises nothing new.
    for (const transactions of batches) {
      const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, { transactions });
      expect(ingestTransactions).toMatchObject({ accepted: 0, duplicates: transactions.length });
    }
    await app.settle();
    expect(await signals()).toEqual(found);
    await live.close();
  });

  it('lists a burst that grows first again, at the time of its newest transaction, and leaves a signal re-stored unchanged where it was', async () => {
    // An address of their own: the shared ones would move other tests' IPs past their bursts.
    const burst = (cardId: string, minutes: number[]) => minutes.map((minute) => tx({ minute, cardId, amount: 700, ip: `192.0.2.${cardId.length}` }));
    const list = async () => (await app.mutate(FraudSignalsDocument, { kinds: ['CARD_VELOCITY'], subjects: ['card-grow', 'card-other'] })).fraudSignals.edges.map((e) => e.node);
    await app.mutate(IngestTransactionsDocument, { transactions: burst('card-grow', [500, 501, 502, 503]) });
    await app.settle();
    await app.mutate(IngestTransactionsDocument, { transactions: burst('card-other', [510, 511, 512, 513]) });
    await app.settle();
    expect((await list()).map((s) => s.subject)).toEqual(['card-other', 'card-grow']);

    // Two more purchases on card-grow, the second a late one from before the burst's newest.
    const [more, late] = burst('card-grow', [504, 502.5]);
    for (const transaction of [more!, late!]) {
      await app.mutate(IngestTransactionsDocument, { transactions: [transaction] });
      await app.settle();
      const [first] = await list();
      expect(first).toMatchObject({ subject: 'card-grow', time: more!.time });
    }
    expect((await list())[0]!.transactionIds).toHaveLength(6);

    // A replay stores the same signal again: it keeps its place and its updatedAt.
    const stored = async () => app.sql<{ id: string; seq: string; updated_at: string }>(sql`select id, seq::text, updated_at::text from fraud_signals where subject = 'card-other'`);
    const before = await stored();
    const [row] = await app.sql<TenantFraudSignal & { details: Record<string, number> }>(
      sql`select id, tenant_id as "tenantId", kind, subject, (extract(epoch from time) * 1000)::float8 as time, transaction_ids as "transactionIds", details, message from fraud_signals where subject = 'card-other'`,
    );
    // Nor is it published again: the store says it wrote nothing.
    expect(await upsertFraudSignals(app.server.services.database.db, [row!])).toEqual([]);
    expect(await stored()).toEqual(before);
    expect((await list()).map((s) => s.subject)).toEqual(['card-grow', 'card-other']);
  });

  it("resumes after the last seq received: signals raised or changed since, as they stand now, then live; never another tenant's", async () => {
    const purchases = (minutes: number[]) => minutes.map((minute) => tx({ minute, cardId: 'card-resume', amount: 800 }));
    const signalsOf = (live: { results: { items: { data?: { fraudSignals: { id: string; seq: string; transactionIds: string[] }[] } | null }[] } }) =>
      live.results.items.flatMap((r) => r.data?.fraudSignals ?? []);
    // A fraud desk's screen reads the first page, and the card's burst is raised before it subscribes.
    const { fraudSignals: page } = await app.mutate(FraudSignalsDocument, { subjects: ['card-resume'] });
    expect(page.edges).toEqual([]);
    expect(page.lastSignalSeq).toMatch(/^\d+$/);
    const burst = purchases([1_000, 1_001, 1_002, 1_003]);
    await app.mutate(IngestTransactionsDocument, { transactions: burst });
    await app.settle();
    // Another tenant's signal about a card of the same id, stored meanwhile: never sent to this tenant.
    await upsertFraudSignals(app.server.services.database.db, [
      { id: 'other-tenant-signal', tenantId: 'other-tenant', kind: 'CARD_VELOCITY', subject: 'card-resume', time: T0, transactionIds: ['x'], details: {}, message: 'not yours' },
    ]);

    const resumed = await app.subscribeWs(LiveFraudSignalsDocument, { subjects: ['card-resume'], after: page.lastSignalSeq });
    await resumed.results.until((items) => items.flatMap((r) => r.data?.fraudSignals ?? []).length === 1, 'the burst raised after the read');
    const [raised] = signalsOf(resumed);
    expect(raised).toMatchObject({ kind: 'CARD_VELOCITY', transactionIds: burst.map((t) => t.id) });
    expect(BigInt(raised!.seq)).toBeGreaterThan(BigInt(page.lastSignalSeq));

    // Then live: the burst grows, and comes again with a new seq.
    const [more] = purchases([1_004]);
    await app.mutate(IngestTransactionsDocument, { transactions: [more!] });
    await resumed.results.until((items) => items.flatMap((r) => r.data?.fraudSignals ?? []).length === 2, 'the burst grown');
    const grown = signalsOf(resumed)[1]!;
    expect(grown).toMatchObject({ id: raised!.id, transactionIds: [...burst, more!].map((t) => t.id) });
    expect(BigInt(grown.seq)).toBeGreaterThan(BigInt(raised!.seq));
    await resumed.close();

    // Resumed after the first event, a screen gets the signal as it stands now, once; over SSE the event id is its
    // seq, and a reconnect's Last-Event-ID wins over `after`.
    const again = await app.subscribeWs(LiveFraudSignalsDocument, { subjects: ['card-resume'], after: raised!.seq });
    await again.results.until((items) => items.flatMap((r) => r.data?.fraudSignals ?? []).length === 1, 'the grown burst, replayed');
    const sse = await app.subscribeSse(LiveFraudSignalsDocument, { subjects: ['card-resume'], after: page.lastSignalSeq }, { lastEventId: raised!.seq });
    // The replay is filtered as live signals are: another kind's subscriber is sent none of it.
    const otherKind = await app.subscribeWs(LiveFraudSignalsDocument, { subjects: ['card-resume'], kinds: ['IMPOSSIBLE_TRAVEL'], after: page.lastSignalSeq });
    await sse.results.until((items) => items.flatMap((r) => r.data?.fraudSignals ?? []).length === 1, 'the grown burst, over SSE');
    expect(sse.lastEventId()).toBe(grown.seq);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(signalsOf(again)).toEqual([grown]);
    expect(signalsOf(sse)).toEqual([grown]);
    expect(otherKind.results.items).toEqual([]);
    await again.close();
    await sse.close();
    await otherKind.close();

    // A seq past the last stored signal (another history's) is refused, naming where to resume.
    const [{ last }] = (await app.sql<{ last: string }>(sql`select coalesce(max(seq), 0)::text as last from fraud_signals`)) as [{ last: string }];
    const ahead = (BigInt(last) + 1_000n).toString();
    const refused = await app.subscribeWs(LiveFraudSignalsDocument, { after: ahead });
    await refused.results.untilComplete();
    expect(refused.results.items.flatMap((r) => r.errors ?? [])[0]).toMatchObject({
      message: `after ${ahead} is ahead of the fraud signals (the last stored seq is ${last}); resume with a seq this API sent`,
      extensions: { code: 'BAD_USER_INPUT', argument: 'after', resumeAfter: last },
    });
    await refused.close();
  });

  it("resumes after a seq whose signal retention has since removed: nothing after it is missed, and it is not taken for another history's", async () => {
    const burst = (cardId: string, from: number) => [0, 1, 2, 3].map((i) => tx({ minute: from + i, cardId, amount: 900 }));
    await app.mutate(IngestTransactionsDocument, { transactions: burst('card-expired', 1_500) });
    await app.settle();
    const [held] = (await signals()).filter((s) => s.subject === 'card-expired');
    // The newest signal, swept as RETAIN_FOR would once nothing followed it within that time.
    const [{ last }] = (await app.sql<{ last: string }>(sql`select max(seq)::text as last from fraud_signals`)) as [{ last: string }];
    expect(last).toBe(held!.seq);
    await app.sql(sql`delete from fraud_signals where seq = ${last}::int8`);

    const resumed = await app.subscribeWs(LiveFraudSignalsDocument, { subjects: ['card-later'], after: held!.seq });
    await app.mutate(IngestTransactionsDocument, { transactions: burst('card-later', 1_600) });
    const [raised] = (await resumed.results.until((items) => items.some((r) => r.data?.fraudSignals.length), 'the next signal')).flatMap((r) => r.data?.fraudSignals ?? []);
    expect(raised).toMatchObject({ subject: 'card-later', kind: 'CARD_VELOCITY' });
    expect(resumed.results.items.flatMap((r) => r.errors ?? [])).toEqual([]);
    await resumed.close();
  });

  // An IPv4 address also comes IPv4-mapped, as dual-stack servers report their clients.
  it.each([
    { buyer: 'an IPv6 buyer', subject: '2001:db8::7', minute: 200, spellings: ['2001:db8::7', '2001:DB8:0:0::7', '2001:0db8:0000:0000:0000:0000:0000:0007', '2001:db8::0:7'] },
    { buyer: 'an IPv4 buyer', subject: '198.51.100.9', minute: 300, spellings: ['198.51.100.9', '::ffff:198.51.100.9', '0:0:0:0:0:ffff:c633:6409', '::FFFF:198.51.100.9'] },
  ])('counts $buyer as one however its address is spelled', async ({ subject, minute, spellings }) => {
    // A filter finds the signal however the address is spelled in it, as ingest stores it.
    const live = await app.subscribeWs(LiveFraudSignalsDocument, { kinds: ['IP_VELOCITY'], subjects: [spellings.at(-1)!] });
    const transactions = spellings.map((ip, i) => tx({ minute: minute + i, cardId: `ip-${minute}-${i}`, ip, amount: 700 }));
    await app.mutate(IngestTransactionsDocument, { transactions });
    await app.settle();
    for (const filter of [subject, ...spellings]) {
      const { fraudSignals } = await app.mutate(FraudSignalsDocument, { kinds: ['IP_VELOCITY'], subjects: [filter] });
      expect(fraudSignals.edges.map((e) => [e.node.subject, e.node.transactionIds])).toEqual([[subject, transactions.map((t) => t.id)]]);
    }
    const published = await live.results.until((items) => items.some((r) => r.data?.fraudSignals.some((s) => s.transactionIds.length === spellings.length)), 'the signal published');
    expect(published.flatMap((r) => r.data?.fraudSignals ?? []).every((s) => s.subject === subject)).toBe(true);
    await live.close();
  });

  it('names what is wrong with each malformed transaction and stores none of them', async () => {
    const before = await app.sql<{ n: number }>(sql`select count(*)::int as n from transactions`);
    const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, {
      transactions: [
        tx({ minute: 100, ip: '999.1.1.1' }),
        tx({ minute: 100, location: { lat: 91, lon: 0 } }),
        tx({ minute: 100, currency: 'euro' }),
        tx({ minute: 100, cardId: '4111111111111111' }),
        tx({ minute: 100, amount: -5 }),
        tx({ minute: 100, id: '' }),
        tx({ minute: 100, merchant: 'Shop\u0000; drop table transactions' }),
        tx({ minute: 100, cardId: '4111-1111-1111-1111' }),
      ],
    });
    expect(ingestTransactions.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [0, 'ip', 'INVALID_IP'],
      [1, 'location', 'INVALID_LOCATION'],
      [2, 'currency', 'INVALID_CURRENCY'],
      [3, 'cardId', 'INVALID_CARD'],
      [4, 'amount', 'INVALID_AMOUNT'],
      [5, 'id', 'INVALID_ID'],
      [6, 'merchant', 'INVALID_MERCHANT'],
      [7, 'cardId', 'INVALID_CARD'],
    ]);
    expect(ingestTransactions.errors[3]!.message).toMatch(/card number/);
    expect(await app.sql<{ n: number }>(sql`select count(*)::int as n from transactions`)).toEqual(before);

    // The dead letters show what was sent, but never a card number: not as cardId, not as id.
    const { ingestTransactions: asId } = await app.mutate(IngestTransactionsDocument, { transactions: [tx({ minute: 101, id: '5500 0000 0000 0004' })] });
    expect(asId.errors.map((e) => [e.field, e.code])).toEqual([['id', 'INVALID_ID']]);
    const stored = await app.sql<{ item: string }>(sql`select item::text as item from dead_letters where stream = 'transactions' order by id desc limit 9`);
    const text = stored.map((r) => r.item).join('\n');
    for (const pan of ['4111111111111111', '4111-1111-1111-1111', '5500 0000 0000 0004']) expect(text).not.toContain(pan);
    expect(text).not.toMatch(/\d{13}/);
    expect(text).toContain('"cardId": "•••• 1111"');
    expect(text).toContain('"id": "•••• 0004"');
    expect(text).toContain('"merchant": "Shop');
  });

  it('refuses a currency code that names no currency, and takes those that do', async () => {
    const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, {
      transactions: [tx({ minute: 104, currency: 'ZZZ' }), tx({ minute: 104, currency: 'CFH' }), tx({ minute: 104, currency: 'CHF' }), tx({ minute: 104, currency: 'JPY' })],
    });
    expect(ingestTransactions.errors.map((e) => [e.index, e.field, e.code, e.message])).toEqual([
      [0, 'currency', 'INVALID_CURRENCY', 'currency must be the ISO 4217 code of a currency in use, such as EUR: this one names none'],
      [1, 'currency', 'INVALID_CURRENCY', 'currency must be the ISO 4217 code of a currency in use, such as EUR: this one names none'],
    ]);
    expect(ingestTransactions.accepted).toBe(2);
  });

  it('quotes no card number back in the error for a transaction GraphQL cannot read', async () => {
    const withUnknownField = { ...tx({ minute: 106, cardId: '4111111111111111' }), channel: 'ecom' } as TransactionInput;
    const unknown = await app.request(IngestTransactionsDocument, { transactions: [withUnknownField] });
    expect(unknown.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(unknown.errors![0]!.message).toMatch(/not to include unknown field "channel", found: \{ id: "tx-\d+", cardId: "•••• 1111",/);
    const asText = await app.request(IngestTransactionsDocument, { transactions: [{ ...tx({ minute: 106 }), amount: '5500 0000 0000 0004' as unknown as number }] });
    expect(asText.errors![0]!.message).toBe('Variable "$transactions" has invalid value at [0].amount: Float cannot represent non numeric value: "•••• 0004"');
    // A literal in the document is quoted by validation, which yoga answers without maskError.
    const literal = await app.request(
      parse('mutation { ingestTransactions(transactions: [{ id: "t-literal", cardId: 4111111111111111, time: "2026-11-20T08:00:00Z", amount: 1, currency: "EUR", merchant: "m", location: { lat: 0, lon: 0 }, ip: "192.0.2.1" }]) { accepted } }') as TypedDocumentNode<unknown, Record<string, never>>,
      {},
    );
    expect(literal.errors![0]!.message).toBe('String cannot represent a non string value: •••• 1111');
    expect(JSON.stringify([unknown, asText, literal])).not.toMatch(/4111111111111111|5500 0000/);
  });

  it('keeps no card number sent as a number (a PAN mapped into amount) in the dead letter', async () => {
    const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, {
      transactions: [tx({ minute: 103, amount: 5500000000000004 }), tx({ minute: 103, amount: 4111111111111111111 }), tx({ minute: 103, amount: 2e12 })],
    });
    expect(ingestTransactions.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [0, 'amount', 'INVALID_AMOUNT'],
      [1, 'amount', 'INVALID_AMOUNT'],
      [2, 'amount', 'INVALID_AMOUNT'],
    ]);
    const stored = await app.sql<{ item: string }>(sql`select item::text as item from dead_letters where stream = 'transactions' order by id desc limit 3`);
    const text = stored.map((r) => r.item).join('\n');
    expect(text).not.toMatch(/550000000|411111111/);
    expect(text).toContain('"amount": "•••• 0004"');
    // An implausible amount that is no card number stays as it was sent.
    expect(text).toContain('"amount": 2000000000000');
  });

  it('refuses a card number anywhere in a transaction, and takes references that only look long', async () => {
    const { ingestTransactions } = await app.mutate(IngestTransactionsDocument, {
      transactions: [
        tx({ minute: 102, cardId: 'tok_4111111111111111' }),
        tx({ minute: 102, merchant: 'Corner shop 5500 0000 0000 0004' }),
        // Beside other digits, in one run of digit groups.
        tx({ minute: 102, id: '20261206-4111111111111111' }),
        tx({ minute: 102, cardId: '4111111111111111-01' }),
        // A shop number before a card number in groups: a chance match across both must not leave the card's digits.
        tx({ minute: 102, merchant: 'Shop 35 5425 2334 3010 9903' }),
        // As card numbers are copied from forms and receipts: doubled spaces, spaced dashes, slashes, an en dash,
        // fullwidth digits from an East Asian input method.
        tx({ minute: 102, merchant: 'Kiosk 4111  1111  1111  1111' }),
        tx({ minute: 102, merchant: 'Kiosk 5500 - 0000 - 0000 - 0004' }),
        tx({ minute: 102, cardId: '4111/1111/1111/1111' }),
        tx({ minute: 102, id: 'ref-4111\u20131111\u20131111\u20131111' }),
        tx({ minute: 102, merchant: 'ストア ４１１１ １１１１ １１１１ １１１１' }),
        // A date-time reference, a 16-digit reference failing the Luhn check, epoch milliseconds: all accepted.
        tx({ minute: 102, id: '20261206-084000' }),
        tx({ minute: 102, id: '8815658961765250' }),
        tx({ minute: 102, id: '1733475600000', cardId: 'tok_1733475600000' }),
        // A date and time with slashes and spaces is not a card number either.
        tx({ minute: 102, merchant: 'Kiosk, 2026/12/06 08:40:00 - 17' }),
      ],
    });
    expect(ingestTransactions.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [0, 'cardId', 'INVALID_CARD'],
      [1, 'merchant', 'INVALID_MERCHANT'],
      [2, 'id', 'INVALID_ID'],
      [3, 'cardId', 'INVALID_CARD'],
      [4, 'merchant', 'INVALID_MERCHANT'],
      [5, 'merchant', 'INVALID_MERCHANT'],
      [6, 'merchant', 'INVALID_MERCHANT'],
      [7, 'cardId', 'INVALID_CARD'],
      [8, 'id', 'INVALID_ID'],
      [9, 'merchant', 'INVALID_MERCHANT'],
    ]);
    expect(ingestTransactions.errors[1]!.message).toBe(
      'merchant holds what looks like a card number (13-19 digits that pass the Luhn check); card numbers must not be stored: send a token instead',
    );
    expect(ingestTransactions.accepted).toBe(4);
    const stored = await app.sql<{ item: string }>(sql`select item::text as item from dead_letters where stream = 'transactions' order by id desc limit 10`);
    const text = stored.map((r) => r.item).join('\n');
    expect(text).toContain('"cardId": "tok_•••• 1111"');
    expect(text).toContain('"merchant": "Corner shop •••• 0004"');
    // The whole run of digit groups goes, the digits beside the number with it.
    expect(text).toContain('"id": "•••• 1111"');
    expect(text).toContain('"cardId": "•••• 1111"');
    expect(text).toContain('"merchant": "Shop •••• 9903"');
    for (const digits of ['5425', '2334', '3010', '4111111111111111']) expect(text).not.toContain(digits);
    expect(text).toContain('"merchant": "Kiosk •••• 0004"');
    expect(text).toContain('"id": "ref-•••• 1111"');
    expect(text).toContain('"merchant": "ストア •••• 1111"');
    expect(text).not.toMatch(/4111\D{1,3}1111|１１１１/);
  });
});
