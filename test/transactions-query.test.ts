import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/key-admin.js';
import type { Role } from '../src/db/schema.js';
import {
  FraudSignalsWithTransactionsDocument,
  IngestTransactionsDocument,
  LiveFraudSignalsWithTransactionsDocument,
  TransactionsDocument,
  type TransactionInput,
} from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type GraphQLResponse, type TestApp } from './support/app.js';
import { T0 } from './support/fixtures.js';
import { openWs } from './support/keyed-client.js';
import { waitFor } from './support/live.js';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

const MIN = 60_000;
const LONDON = { lat: 51.5074, lon: -0.1278 };
const at = (minute: number) => new Date(T0 + minute * MIN).toISOString();

let next = 0;
const tx = (over: Partial<TransactionInput> & { minute: number }): TransactionInput => {
  const { minute, ...rest } = over;
  return { id: `txq-${++next}`, cardId: 'card-plain', time: at(minute), amount: 25, currency: 'EUR', merchant: 'Corner Shop', location: LONDON, ip: '198.51.100.20', ...rest };
};

describe.each(primaryBackends)('reading card transactions on $name', (backend) => {
  let app: TestApp;
  const keys = {} as Record<'a' | 'b', Record<Role, string>>;

  /** Runs a typed operation with tenant `tenant`'s key of `role`. */
  const as = <R, V>(tenant: 'a' | 'b', role: Role, document: TypedDocumentNode<R, V>, variables: V): Promise<GraphQLResponse<R>> =>
    app.request(document, variables, { authorization: `Bearer ${keys[tenant][role]}` });
  const ingest = async (tenant: 'a' | 'b', transactions: TransactionInput[]) => {
    const { data, errors } = await as(tenant, 'ingest', IngestTransactionsDocument, { transactions });
    expect(errors).toBeUndefined();
    expect(data!.ingestTransactions).toMatchObject({ accepted: transactions.length, rejected: 0 });
  };
  const analyst = <R, V>(document: TypedDocumentNode<R, V>, variables: V) => as('a', 'analyst', document, variables);

  beforeAll(async () => {
    app = await startTestApp(backend, {
      env: { AUTH: 'on', ALLOWED_LATENESS: '5m', FRAUD_VELOCITY_MAX_COUNT: '3', FRAUD_VELOCITY_MIN_AMOUNT: '500', FRAUD_VELOCITY_WINDOW: '10m' },
    });
    for (const tenant of ['a', 'b'] as const) {
      keys[tenant] = {} as Record<Role, string>;
      for (const role of ['ingest', 'read', 'analyst', 'admin'] as const) {
        const created = await createApiKey(app.server.services.database.db, { tenantId: `txq-${tenant}`, role, name: role, expiresAt: null, createdBy: 'test' }, { createTenant: '' });
        keys[tenant][role] = created.key;
      }
    }
  });
  afterAll(() => app?.close());

  it("reads the transactions a fraud signal names, every field as posted, by their ids and through the signal's transactions field, in one read for a page of signals", async () => {
    const burst = (cardId: string, from: number, over: Partial<TransactionInput> = {}) =>
      [0, 1, 2, 3].map((i) => tx({ minute: from + i, cardId, amount: 900 + i, merchant: `Electronics ${i}`, location: { lat: 48.8566 + i / 100, lon: 2.3522 }, ...over }));
    const eur = burst('card-eur', 10, { ip: '2001:DB8:0:0::7' });
    const jpy = burst('card-jpy', 30, { currency: 'JPY', amount: 52_000 });
    const bhd = burst('card-bhd', 50, { currency: 'BHD', amount: 4_000.125 });
    await ingest('a', [...eur, ...jpy, ...bhd]);
    await app.settle();

    // Counts the reads of transactions by id while the page of signals resolves.
    const db = app.server.services.database.db as unknown as { execute: (query: unknown) => Promise<unknown>; dialect: { sqlToQuery(q: unknown): { sql: string } } };
    const execute = db.execute.bind(db);
    let reads = 0;
    db.execute = (query) => {
      if (/from transactions where tenant_id/.test(db.dialect.sqlToQuery(query).sql)) reads++;
      return execute(query);
    };
    const withTransactions = await analyst(FraudSignalsWithTransactionsDocument, { subjects: ['card-eur', 'card-jpy', 'card-bhd'] }).finally(() => (db.execute = execute));
    expect(withTransactions.errors).toBeUndefined();
    const signals = withTransactions.data!.fraudSignals.edges.map((e) => e.node);
    expect(signals.map((s) => s.subject).sort()).toEqual(['card-bhd', 'card-eur', 'card-jpy']);
    expect(reads).toBe(1);

    for (const signal of signals) {
      expect(signal.transactions.map((x) => x.id)).toEqual(signal.transactionIds);
      const { data, errors } = await analyst(TransactionsDocument, { ids: signal.transactionIds });
      expect(errors).toBeUndefined();
      expect(data!.transactions.edges.map((e) => e.node)).toEqual(signal.transactions);
    }
    const posted = eur[1]!;
    const [stored] = (await analyst(TransactionsDocument, { ids: [posted.id] })).data!.transactions.edges.map((e) => e.node);
    expect(stored).toMatchObject({
      id: posted.id,
      cardId: 'card-eur',
      time: posted.time,
      amount: 901,
      currency: 'EUR',
      minorDigits: 2,
      amountText: '901.00 EUR',
      merchant: 'Electronics 1',
      location: posted.location,
      // As stored: one spelling per address.
      ip: '2001:db8::7',
    });
    expect(Date.parse(stored!.receivedAt!)).toBeGreaterThan(Date.parse(posted.time));
    const text = async (ids: string[]) => (await analyst(TransactionsDocument, { ids })).data!.transactions.edges.map((e) => [e.node.amount, e.node.minorDigits, e.node.amountText]);
    expect(await text([jpy[0]!.id, bhd[0]!.id])).toEqual([
      [52_000, 0, '52,000 JPY'],
      [4_000.125, 3, '4,000.125 BHD'],
    ]);
    // The audit log names the cards behind an IP's signal, not only the IP the read asked for.
    const { data: ofIp } = await analyst(FraudSignalsWithTransactionsDocument, { subjects: ['2001:db8::7'] });
    expect(ofIp!.fraudSignals.edges.map((e) => [e.node.kind, e.node.transactions.map((x) => x.id)])).toEqual([['IP_VELOCITY', eur.map((x) => x.id)]]);
    await app.server.services.auth.audit.flush();
    const [entry] = await app.sql<{ source_ids: string[] }>(sql`select source_ids from audit_log where operation_name = 'FraudSignalsWithTransactions' order by id desc limit 1`);
    expect(entry!.source_ids.sort()).toEqual(['2001:db8::7', 'card-eur']);
  });

  it("pages through one card's transactions with from <= time < to, oldest first, ties in the order they were stored", async () => {
    const card = 'card-pages';
    const inRange = [tx({ minute: 100, cardId: card }), tx({ minute: 101, cardId: card }), tx({ minute: 101, cardId: card }), tx({ minute: 103, cardId: card }), tx({ minute: 104, cardId: card })];
    const outside = [tx({ minute: 99, cardId: card }), tx({ minute: 105, cardId: card }), tx({ minute: 102, cardId: 'card-other' })];
    // Posted out of time order, in two batches: the list is by event time, whatever the arrival.
    await ingest('a', [inRange[3]!, outside[0]!, inRange[1]!]);
    await ingest('a', [inRange[4]!, inRange[0]!, outside[1]!, inRange[2]!, outside[2]!]);

    const expected = [inRange[0]!, inRange[1]!, inRange[2]!, inRange[3]!, inRange[4]!].map((x) => x.id);
    const seen: string[] = [];
    const pages: boolean[] = [];
    let after: string | null = null;
    do {
      const { data, errors }: GraphQLResponse<{ transactions: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }> = await analyst(
        TransactionsDocument,
        { cardId: card, from: at(100), to: at(105), first: 2, after },
      );
      expect(errors).toBeUndefined();
      seen.push(...data!.transactions.edges.map((e) => e.node.id));
      pages.push(data!.transactions.pageInfo.hasNextPage);
      after = data!.transactions.pageInfo.hasNextPage ? data!.transactions.pageInfo.endCursor : null;
    } while (after !== null && pages.length < 10);
    expect(seen).toEqual(expected);
    expect(pages).toEqual([true, true, false]);
  });

  it('refuses what it cannot answer with a clear error naming the argument', async () => {
    const refusal = async (variables: Record<string, unknown>) => {
      const { data, errors } = await analyst(TransactionsDocument, variables);
      expect(data).toBeNull();
      return { message: errors![0]!.message, ...errors![0]!.extensions };
    };
    expect(await refusal({})).toEqual({ code: 'BAD_USER_INPUT', argument: 'ids', message: "name the transactions to read: ids (e.g. a fraud signal's transactionIds) or cardId" });
    const { data: none, errors: empty } = await analyst(TransactionsDocument, { ids: [] });
    expect([none, empty![0]!.extensions]).toEqual([undefined, { code: 'BAD_USER_INPUT', argument: 'ids' }]);
    const many = Array.from({ length: 501 }, (_, i) => `t-${i}`);
    expect(await refusal({ ids: many })).toEqual({ code: 'BAD_USER_INPUT', argument: 'ids', max: 500, message: 'ids may name at most 500 transactions, got 501: ask in parts' });
    expect(await refusal({ ids: ['ok-1', 'not ok'] })).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'ids[1]', message: expect.stringMatching(/^ids\[1\] is not a transaction id: those are 1-64 characters/) });
    expect(await refusal({ cardId: 'card-pages', from: at(5), to: at(5) })).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'to',
      message: `to must be after from: got from ${at(5)} and to ${at(5)} (UTC)`,
    });
    expect(await refusal({ cardId: 'card-pages', first: 501 })).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first', message: 'first must be between 1 and 500, got 501' });
    expect(await refusal({ cardId: 'card-pages', after: '17' })).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
  });

  it('quotes no card number sent where a transaction or card id belongs, in its answer or the audit log', async () => {
    const answers = [
      await analyst(TransactionsDocument, { ids: ['t-1', 'tok_4111111111111111'] }),
      await analyst(TransactionsDocument, { ids: ['5500-0000-0000-0004'] }),
      await analyst(TransactionsDocument, { cardId: '4111111111111111' }),
    ];
    expect(answers.map((a) => [a.errors![0]!.extensions!.code, a.errors![0]!.extensions!.argument])).toEqual([
      ['BAD_USER_INPUT', 'ids[1]'],
      ['BAD_USER_INPUT', 'ids[0]'],
      ['BAD_USER_INPUT', 'cardId'],
    ]);
    expect(answers[2]!.errors![0]!.message).toBe(
      'cardId holds what looks like a card number (13-19 digits that pass the Luhn check): card ids are tokens, never card numbers, so none is stored under it',
    );
    // Sent as a number in the document, it is quoted by GraphQL's own error: masked to its last four digits.
    const literal = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.a.analyst}` },
      body: JSON.stringify({ query: '{ transactions(ids: [4111111111111111]) { edges { node { id } } } }' }),
    }).then((r) => r.json() as Promise<GraphQLResponse<unknown>>);
    expect(literal.errors![0]!.message).toContain('•••• 1111');
    expect(JSON.stringify([answers, literal])).not.toMatch(/4111|5500/);
    await app.server.services.auth.audit.flush();
    const [audit] = await app.sql<{ text: string }>(sql`select coalesce(string_agg(audit_log::text, ' '), '') as text from audit_log`);
    expect(audit!.text).toContain('Query.transactions');
    expect(audit!.text).not.toMatch(/4111|5500/);
  });

  it('lets analyst and admin keys read transactions, not read or ingest keys, and a read key may not follow signals with their transactions', async () => {
    const card = 'card-roles';
    await ingest('a', [tx({ minute: 200, cardId: card })]);
    for (const role of ['analyst', 'admin'] as const) {
      const { data, errors } = await as('a', role, TransactionsDocument, { cardId: card });
      expect(errors, role).toBeUndefined();
      expect(data!.transactions.edges).toHaveLength(1);
    }
    for (const role of ['read', 'ingest'] as const) {
      const { errors } = await as('a', role, TransactionsDocument, { cardId: card });
      expect(errors![0], role).toMatchObject({ message: `role ${role} may not use Query.transactions; it needs analyst or admin`, extensions: { code: 'FORBIDDEN' } });
    }

    // Live: an analyst's signals come with their transactions; a read key's subscription asking for them is refused at once.
    const query = print(LiveFraudSignalsWithTransactionsDocument);
    const reader = await openWs(app.url, keys.a.read);
    const refused = reader.subscribe(query, { subjects: ['card-live'] });
    const watcher = await openWs(app.url, keys.a.analyst);
    const live = watcher.subscribe(query, { subjects: ['card-live'] });
    await waitFor(() => refused.errors.length > 0, 'the read key refused');
    expect(refused.errors[0]).toMatchObject({ message: 'role read may not use FraudSignal.transactions; it needs analyst or admin', extensions: { code: 'FORBIDDEN' } });
    await waitFor(() => app.server.services.outputs.fraud.subscriberCount === 1, "the analyst's subscription live");
    const burst = [0, 1, 2, 3].map((i) => tx({ minute: 300 + i, cardId: 'card-live', amount: 700, currency: 'JPY' }));
    await ingest('a', burst);
    await waitFor(() => live.results.length > 0 || live.errors.length > 0, 'the signal, live');
    expect(live.errors).toEqual([]);
    const [signal] = (live.results[0] as { data: { fraudSignals: { transactionIds: string[]; transactions: { id: string; cardId: string; amountText: string }[] }[] } }).data.fraudSignals;
    expect(signal!.transactions).toEqual(burst.map((x) => ({ id: x.id, cardId: 'card-live', amountText: '700 JPY' })));
    expect(refused.results).toEqual([]);
    await reader.close();
    await watcher.close();
  });

  it("never answers another tenant's transaction, by id or by card, and records the cards read in the audit log", async () => {
    // The same id in both tenants (each tenant's ids are its own), and one only B has.
    await ingest('b', [tx({ minute: 400, id: 'shared-tx', cardId: 'zzb-card', merchant: 'zzb shop' }), tx({ minute: 401, id: 'b-only-tx', cardId: 'zzb-card', merchant: 'zzb shop' })]);
    await ingest('a', [tx({ minute: 400, id: 'shared-tx', cardId: 'card-iso' })]);

    const byIds = await analyst(TransactionsDocument, { ids: ['b-only-tx', 'shared-tx'] });
    expect(byIds.errors).toBeUndefined();
    expect(byIds.data!.transactions.edges.map((e) => [e.node.id, e.node.cardId])).toEqual([['shared-tx', 'card-iso']]);
    const byCard = await analyst(TransactionsDocument, { cardId: 'zzb-card' });
    expect(byCard.data!.transactions).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    expect(JSON.stringify([byIds, byCard])).not.toMatch(/zzb[- ]/);
    // B's own analyst reads B's.
    const ofB = await as('b', 'analyst', TransactionsDocument, { ids: ['b-only-tx', 'shared-tx'] });
    expect(ofB.data!.transactions.edges.map((e) => [e.node.id, e.node.cardId])).toEqual([
      ['shared-tx', 'zzb-card'],
      ['b-only-tx', 'zzb-card'],
    ]);

    await app.server.services.auth.audit.flush();
    const entries = await app.sql<{ tenant_id: string; source_ids: string[] | null }>(
      sql`select tenant_id, source_ids from audit_log where 'Query.transactions' = any(fields) and tenant_id in ('txq-a', 'txq-b') order by id desc limit 3`,
    );
    // Newest first: B's read of its card, A's empty read of card "zzb-card" (the card it asked for), A's read by ids (the card it got).
    expect(entries.map((e) => [e.tenant_id, e.source_ids])).toEqual([
      ['txq-b', ['zzb-card']],
      ['txq-a', ['zzb-card']],
      ['txq-a', ['card-iso']],
    ]);
  });
});
