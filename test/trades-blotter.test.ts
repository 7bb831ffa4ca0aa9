import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/key-admin.js';
import {
  IngestTradesDocument,
  LiveTradesDocument,
  RegisterSourcesDocument,
  TradesPageDocument,
  type LiveTradesSubscription,
  type TradeInput,
  type TradesPageQuery,
  type TradesPageQueryVariables,
} from '../src/generated/graphql.js';
import type { Role } from '../src/db/schema.js';
import { backends, DATABASE_URL, REDIS_URL, type Backend } from './support/backends.js';
import { dropSchema, sql, startTestApp, type TestApp } from './support/app.js';
import { at } from './support/fixtures.js';
import { openWs, type KeyedSocket } from './support/keyed-client.js';
import { waitFor } from './support/live.js';
import { readSse } from './support/sse.js';

/**
 * The trade blotter: `query trades` (stored trades, paged in commit order) and `subscription trades` (live,
 * resumable from a cursor), for trading desks whose keys see only their own instruments. Desk B's symbols start
 * with "ZZB" so a leak shows in any answer.
 */
const DESK_A = 'desk-a';
const DESK_B = 'desk-b';
type Keys = Record<Role, string>;
type Delivered = LiveTradesSubscription['trades'][number];
type Paged = TradesPageQuery['trades']['edges'][number]['node'];

const trade = (symbol: string, second: number, price: number, tradeId?: string): TradeInput => ({ symbol, time: at(second), price, size: 1 + (second % 3), ...(tradeId ? { tradeId } : {}) });

async function keysOf(app: TestApp, tenantId: string): Promise<Keys> {
  const keys = {} as Keys;
  for (const role of ['ingest', 'read', 'analyst', 'admin'] as const) {
    keys[role] = (await createApiKey(app.server.services.database.db, { tenantId, role, name: `${role} key`, expiresAt: null, createdBy: 'test' }, { createTenant: '' })).key;
  }
  return keys;
}

/** Requests as one key. */
const as = (app: TestApp, key: string) => <R, V>(document: TypedDocumentNode<R, V>, variables: V) => app.request(document, variables, { authorization: `Bearer ${key}` });

async function ingest(app: TestApp, key: string, trades: TradeInput[]): Promise<string> {
  const answer = await as(app, key)(IngestTradesDocument, { trades });
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.ingestTrades).toMatchObject({ accepted: trades.length, rejected: 0 });
  return answer.data!.ingestTrades.lastCursor!;
}

/** A graphql-ws subscription to live trades with `key`, once the server has it in its feed. */
async function subscribeTrades(app: TestApp, key: string, variables: { symbols?: string[]; after?: string }) {
  const socket = await openWs(app.url, key);
  const opened = app.server.services.tradesFeed.opened;
  const sink = socket.subscribe(print(LiveTradesDocument), variables);
  await waitFor(() => app.server.services.tradesFeed.opened > opened || sink.errors.length > 0, 'the trades subscription to be live');
  const delivered = () => (sink.results as { data: LiveTradesSubscription }[]).flatMap((r) => r.data.trades);
  return { socket, sink, delivered };
}

/** Every page of a trades query, first to last. */
async function allPages(app: TestApp, key: string, variables: TradesPageQueryVariables, first: number) {
  const nodes: Paged[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page++) {
    const answer: { data?: TradesPageQuery | null; errors?: unknown[] } = await as(app, key)(TradesPageDocument, { ...variables, first, after });
    expect(answer.errors).toBeUndefined();
    const { edges, pageInfo } = answer.data!.trades;
    expect(edges.length).toBeLessThanOrEqual(first);
    for (const edge of edges) expect(edge.cursor).toBe(edge.node.cursor);
    nodes.push(...edges.map((e) => e.node));
    if (!pageInfo.hasNextPage) return nodes;
    after = pageInfo.endCursor;
  }
  throw new Error('more than 100 pages');
}

const storedSeqs = async (app: TestApp, symbols: string[], after = '0') =>
  (await app.sql<{ seq: string }>(sql`select seq::text as seq from trades where symbol = any(${sql.param(symbols)}::text[]) and seq > ${after}::int8 order by trades.seq`)).map((r) => r.seq);

const committed = async (app: TestApp) => (await app.sql<{ last: string }>(sql`select last::text as last from stream_offsets where stream = 'trades'`))[0]!.last;

describe.each(backends)('trade blotter on $name', (backend) => {
  let app: TestApp;
  let a: Keys;
  let b: Keys;
  const sockets: KeyedSocket[] = [];

  beforeAll(async () => {
    app = await startTestApp(backend, { env: { AUTH: 'on' } });
    a = await keysOf(app, DESK_A);
    b = await keysOf(app, DESK_B);
    expect((await as(app, a.admin)(RegisterSourcesDocument, { sources: [{ id: 'a-bed', kind: 'PATIENT', name: 'not an instrument' }] })).errors).toBeUndefined();
    // Desk A: 20 trades of two symbols in two batches, every fifth without a venue id; desk B: its own.
    await ingest(app, a.ingest, Array.from({ length: 10 }, (_, i) => trade(i % 2 ? 'A-BETA' : 'A-ACME', i, 100 + i, i % 5 === 4 ? undefined : `V-${i}`)));
    await ingest(app, b.ingest, [trade('ZZB-X', 3, 7, 'V-3'), trade('ZZB-X', 4, 8)]);
    await ingest(app, a.ingest, Array.from({ length: 10 }, (_, j) => trade(j % 2 ? 'A-BETA' : 'A-ACME', 10 + j, 110 + j, j % 5 === 4 ? undefined : `V-${10 + j}`)));
  });
  afterAll(async () => {
    for (const socket of sockets) await socket.close();
    await app?.close();
  });

  it("pages the desk's stored trades in commit order, with their venue ids, and none of another desk's", async () => {
    const paged = await allPages(app, a.analyst, {}, 7);
    expect(paged.map((t) => t.cursor)).toEqual(await storedSeqs(app, ['A-ACME', 'A-BETA']));
    expect(paged).toHaveLength(20);
    expect(JSON.stringify(paged)).not.toContain('ZZB');
    expect(paged[0]).toEqual({ cursor: expect.any(String), symbol: 'A-ACME', time: at(0), price: 100, size: 1, tradeId: 'V-0', receivedAt: expect.any(String) });
    // A trade sent without a venue id (stored as '') has none.
    expect(paged[4]).toMatchObject({ symbol: 'A-ACME', time: at(4), tradeId: null });
    expect(Math.abs(Date.parse(paged[0]!.receivedAt!) - Date.now())).toBeLessThan(120_000);
    // Desk B, tenant-wide, sees its own two only.
    expect((await allPages(app, b.analyst, {}, 100)).map((t) => [t.symbol, t.price, t.tradeId])).toEqual([
      ['ZZB-X', 7, 'V-3'],
      ['ZZB-X', 8, null],
    ]);
  });

  it('filters by symbols, by event time (from <= time < to) and by tradeId', async () => {
    const beta = await allPages(app, a.analyst, { symbols: ['A-BETA'] }, 4);
    expect(beta.map((t) => t.cursor)).toEqual(await storedSeqs(app, ['A-BETA']));
    const window = await allPages(app, a.analyst, { from: at(5), to: at(12) }, 100);
    expect(window.map((t) => t.time)).toEqual([5, 6, 7, 8, 9, 10, 11].map(at));
    const one = await allPages(app, a.analyst, { symbols: ['A-ACME'], tradeId: 'V-12' }, 100);
    expect(one.map((t) => [t.symbol, t.time, t.price])).toEqual([['A-ACME', at(12), 112]]);
    // Desk B sent a V-3 too: desk A's filter finds its own only.
    expect((await allPages(app, a.analyst, { tradeId: 'V-3' }, 100)).map((t) => t.symbol)).toEqual(['A-BETA']);
    // Reconciling a candle: the trades of its interval, summed, are its volume.
    const minute = await allPages(app, a.analyst, { symbols: ['A-ACME'], from: at(0), to: at(60) }, 100);
    expect(minute.reduce((sum, t) => sum + t.size, 0)).toBe([0, 2, 4, 6, 8, 10, 12, 14, 16, 18].reduce((sum, s) => sum + 1 + (s % 3), 0));
  });

  it('refuses, by name, a patient, another desk\'s symbol, an empty or inverted range, a bad page, tradeId or cursor, and roles without history', async () => {
    const query = as(app, a.analyst);
    const refusal = async (variables: TradesPageQueryVariables) => (await query(TradesPageDocument, variables)).errors?.[0];
    expect(await refusal({ symbols: ['A-ACME', 'a-bed'] })).toMatchObject({
      message: 'symbols: "a-bed" is a patient or device, not an instrument: only instruments have trades',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(await refusal({ symbols: ['ZZB-X'] })).toMatchObject({ message: 'symbols: "ZZB-X" is not a source of your tenant', extensions: { code: 'FORBIDDEN' } });
    expect(await refusal({ symbols: ['NO-SUCH'] })).toMatchObject({ message: 'symbols: "NO-SUCH" is not a source of your tenant', extensions: { code: 'FORBIDDEN' } });
    expect(await refusal({ symbols: [] })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(await refusal({ from: at(10), to: at(10) })).toMatchObject({ message: expect.stringMatching(/^to must be after from/), extensions: { code: 'BAD_USER_INPUT', argument: 'to' } });
    expect(await refusal({ first: 1001 })).toMatchObject({ message: 'first must be between 1 and 1000, got 1001', extensions: { code: 'BAD_USER_INPUT' } });
    expect(await refusal({ tradeId: 'has space' })).toMatchObject({ message: expect.stringMatching(/^tradeId must be 1-64 characters/), extensions: { code: 'BAD_USER_INPUT', argument: 'tradeId' } });
    expect(await refusal({ after: 'x' })).toMatchObject({ message: expect.stringMatching(/^after must be a cursor/), extensions: { code: 'BAD_USER_INPUT' } });
    const ahead = await refusal({ after: '999999999999' });
    expect(ahead).toMatchObject({ message: expect.stringMatching(/ahead of the stream/), extensions: { code: 'BAD_USER_INPUT', resumeAfter: await committed(app) } });
    // History is an analyst's, as candles are; an ingest key posts trades only.
    for (const role of ['read', 'ingest'] as const) {
      expect((await as(app, a[role])(TradesPageDocument, {})).errors?.[0]).toMatchObject({ message: `role ${role} may not use Query.trades; it needs analyst or admin`, extensions: { code: 'FORBIDDEN' } });
    }
  });

  it("delivers committed trades live to the desk's subscribers, filtered by symbol, and none to another desk's", async () => {
    const acme = await subscribeTrades(app, a.read, { symbols: ['A-ACME'] });
    const deskA = await subscribeTrades(app, a.read, {});
    const deskB = await subscribeTrades(app, b.read, {});
    sockets.push(acme.socket, deskA.socket, deskB.socket);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_live_subscriptions\{type="trades"\} 3$/m);

    const last = await ingest(app, a.ingest, [trade('A-BETA', 100, 50, 'L-1'), trade('A-ACME', 101, 51, 'L-2'), trade('A-ACME', 102, 52)]);
    await waitFor(() => acme.delivered().length >= 2 && deskA.delivered().length >= 3, 'the live trades');
    expect(acme.delivered()).toEqual([
      { cursor: String(BigInt(last) - 1n), symbol: 'A-ACME', time: at(101), price: 51, size: 1 + (101 % 3), tradeId: 'L-2', receivedAt: expect.any(String) },
      { cursor: last, symbol: 'A-ACME', time: at(102), price: 52, size: 1 + (102 % 3), tradeId: null, receivedAt: expect.any(String) },
    ]);
    expect(deskA.delivered().map((t) => t.tradeId)).toEqual(['L-1', 'L-2', null]);
    // Desk B's subscription went through the same feed: a trade of its own arrives, and only that.
    await ingest(app, b.ingest, [trade('ZZB-X', 103, 9, 'B-1')]);
    await waitFor(() => deskB.delivered().length >= 1, "desk B's own trade");
    expect(deskB.delivered().map((t) => t.symbol)).toEqual(['ZZB-X']);
    expect(deskA.delivered()).toHaveLength(3);
  });

  it('refuses a live subscription to a patient or to another desk\'s symbol, by name', async () => {
    const socket = await openWs(app.url, a.read);
    sockets.push(socket);
    const patient = socket.subscribe(print(LiveTradesDocument), { symbols: ['a-bed'] });
    const foreign = socket.subscribe(print(LiveTradesDocument), { symbols: ['ZZB-X'] });
    await waitFor(() => patient.errors.length > 0 && foreign.errors.length > 0, 'both refusals');
    expect(patient.errors[0]).toMatchObject({ message: 'symbols: "a-bed" is a patient or device, not an instrument: only instruments have trades', extensions: { code: 'BAD_USER_INPUT' } });
    expect(foreign.errors[0]).toMatchObject({ message: 'symbols: "ZZB-X" is not a source of your tenant', extensions: { code: 'FORBIDDEN' } });
  });

  it('resumes after a cursor with no gap and no duplicate while both desks write, and replays nothing of the other desk', async () => {
    const start = await committed(app);
    let second = 1_000;
    const write = (key: string, symbols: string[]) =>
      (async () => {
        for (let batch = 0; batch < 10; batch++) await ingest(app, key, Array.from({ length: 5 }, (_, i) => trade(symbols[i % symbols.length]!, second++, 200 + i, `R-${second}`)));
      })();
    const writing = Promise.all([write(a.ingest, ['A-ACME', 'A-BETA']), write(a.ingest, ['A-BETA']), write(b.ingest, ['ZZB-X'])]);

    const first = await subscribeTrades(app, a.read, { after: start });
    await waitFor(() => first.delivered().length >= 40, '40 trades on the first connection');
    await first.socket.close();
    const seenFirst = first.delivered().map((t) => t.cursor);
    const second_ = await subscribeTrades(app, a.read, { after: seenFirst.at(-1)! });
    sockets.push(second_.socket);
    await writing;
    const expected = await storedSeqs(app, ['A-ACME', 'A-BETA'], start);
    expect(expected).toHaveLength(100);
    await waitFor(() => second_.delivered().at(-1)?.cursor === expected.at(-1), `the second connection to reach ${expected.at(-1)}`);
    expect([...seenFirst, ...second_.delivered().map((t) => t.cursor)]).toEqual(expected);
  });

  it('resumes an EventSource from its Last-Event-ID (which wins over after), each event id the last cursor in it', async () => {
    const last = BigInt(await ingest(app, a.ingest, [trade('A-ACME', 2_000, 1, 'E-1'), trade('A-ACME', 2_001, 2, 'E-2'), trade('A-ACME', 2_002, 3, 'E-3')]));
    const abort = new AbortController();
    const query = new URLSearchParams({ query: print(LiveTradesDocument), variables: JSON.stringify({ symbols: ['A-ACME'], after: '0' }) });
    const response = await fetch(`${app.url}/graphql?${query}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${a.read}`, 'last-event-id': (last - 2n).toString() },
      signal: abort.signal,
    });
    const events: { id: string | undefined; trades: Delivered[] }[] = [];
    for await (const event of readSse(response.body!)) {
      if (event.event !== 'next') continue;
      events.push({ id: event.id, trades: (JSON.parse(event.data) as { data: LiveTradesSubscription }).data.trades });
      if (events.flatMap((e) => e.trades).length >= 2) break;
    }
    abort.abort();
    expect(events.flatMap((e) => e.trades).map((t) => t.tradeId)).toEqual(['E-2', 'E-3']);
    expect(events.at(-1)!.id).toBe(last.toString());
  });

  it('lets a read key resume at most READ_KEY_REPLAY back, naming where to resume instead; an analyst key any distance', async () => {
    const [{ first }] = (await app.sql<{ first: string }>(sql`select min(seq)::text as first from trades where symbol = 'A-ACME'`)) as [{ first: string }];
    const before = (BigInt(first) - 1n).toString();
    await app.sql(sql`update trades set received_at = now() - interval '2 hours' where seq <= ${first}::int8`);
    const refused = await subscribeTrades(app, a.read, { symbols: ['A-ACME'], after: before });
    sockets.push(refused.socket);
    await waitFor(() => refused.sink.errors.length > 0, 'the refusal');
    expect(refused.sink.errors[0]).toMatchObject({
      message: `after ${before} is more than 1h back: a read key replays at most that much of the trades (READ_KEY_REPLAY); read the current state and resume after resumeAfter, or use an analyst key`,
      extensions: { code: 'FORBIDDEN', resumeAfter: await committed(app) },
    });
    const replayed = await subscribeTrades(app, a.analyst, { symbols: ['A-ACME'], after: before });
    sockets.push(replayed.socket);
    await waitFor(() => replayed.delivered().length > 0, "the analyst's replay");
    expect(replayed.delivered()[0]).toMatchObject({ cursor: first, symbol: 'A-ACME', time: at(0) });
  });
});

const redisPair = backends.find((x) => x.database === 'postgres' && x.pubsub === 'redis');

describe.runIf(DATABASE_URL && REDIS_URL && redisPair)('the trade blotter across two nodes (PostgreSQL, Redis)', () => {
  let writer: TestApp;
  let reader: TestApp;
  let keys: Keys;
  const schema = `t_blotter_${process.pid}`;

  beforeAll(async () => {
    const backend = redisPair as Backend;
    const env = { AUTH: 'on', REDIS_CHANNEL_PREFIX: `blotter-${process.pid}:` };
    writer = await startTestApp(backend, { env, schema, keepSchema: true });
    reader = await startTestApp(backend, { env, schema, keepSchema: true });
    keys = await keysOf(writer, DESK_A);
  });
  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await dropSchema(schema);
  });

  it('delivers a trade ingested on one node to a subscriber on the other, through Redis, with its desk and venue id', async () => {
    // The reader has never seen the symbol: the trade's desk comes with it, not from the reader's cache of owners.
    const live = await subscribeTrades(reader, keys.read, {});
    const { stats } = reader.server.services.tradesTail;
    const before = stats.batches;
    const last = await ingest(writer, keys.ingest, [trade('A-FAR', 1, 10, 'N-1')]);
    await waitFor(() => live.delivered().length > 0, 'the trade on the other node');
    expect(live.delivered()).toEqual([{ cursor: last, symbol: 'A-FAR', time: at(1), price: 10, size: 2, tradeId: 'N-1', receivedAt: expect.any(String) }]);
    expect(stats.batches).toBeGreaterThan(before);
    await live.socket.close();
  });
});
