import { request as httpRequest } from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/key-admin.js';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { at } from './support/fixtures.js';
import { waitFor } from './support/live.js';
import { gql, openSse, openWs, type Gql } from './support/keyed-client.js';
import { startServerProcess } from './support/server-process.js';
import { MAX_DOCUMENT_LENGTH } from '../src/transport/query-limits.js';
import type { ReplaySlots } from '../src/live/replay-slots.js';

describe.each(primaryBackends)('request limits on $name', (backend) => {
  let app: TestApp;
  let call: Gql;
  let key: string;
  let other: string;

  beforeAll(async () => {
    app = await startTestApp(backend, {
      env: {
        AUTH: 'on',
        RATE_LIMIT: '20',
        RATE_LIMIT_WINDOW: '2s',
        MAX_QUERY_DEPTH: '6',
        MAX_ALIASES: '5',
        MAX_TOKENS: '400',
        MAX_QUERY_COST: '3000',
        MAX_BODY_BYTES: '65536',
        MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
      },
    });
    call = gql(`${app.url}/graphql`);
    const db = app.server.services.database.db;
    key = (await createApiKey(db, { tenantId: 'limits', role: 'admin', name: 'limits', expiresAt: null, createdBy: 'test' }, { createTenant: '' })).key;
    other = (await createApiKey(db, { tenantId: 'limits', role: 'admin', name: 'second', expiresAt: null, createdBy: 'test' })).key;
  });
  afterAll(() => app?.close());

  it('refuses a query nested deeper than MAX_QUERY_DEPTH, through fragments too, with QUERY_TOO_COMPLEX', async () => {
    const deep = '{ alerts { edges { node { transitions { alert { transitions { alert { id } } } } } } } }';
    const viaFragments = 'query { alerts { ...E } } fragment E on AlertConnection { edges { node { ...N } } } fragment N on Alert { transitions { alert { transitions { id } } } }';
    for (const query of [deep, viaFragments]) {
      const { body } = await call(key, query);
      expect(body.errors[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth' }, message: expect.stringContaining('depth limit of 6') });
    }
    expect((await call(key, '{ alerts { edges { node { id } } } }')).body.errors).toBeUndefined();
  });

  it('counts a page at the size asked for, as a literal or a variable, and refuses what may answer more than MAX_QUERY_COST objects', async () => {
    // A full page of readings at a size the resolver allows: 302 objects.
    const readings = '{ readings(first: 150) { edges { cursor node { cursor sourceId metric time value unit quality } } pageInfo { hasNextPage endCursor } } }';
    expect((await call(other, readings)).body.errors).toBeUndefined();
    // Up to 500 sources, each with its newest reading of five metrics: one object per source and edge, one per reading.
    const latest = 'latest(metrics: ["heart_rate", "spo2", "resp_rate", "temperature", "bp_systolic"]) { value }';
    const sources = `query($f: Int) { sources(first: $f) { edges { node { id ${latest} } } } }`;
    const refusal = {
      message: expect.stringMatching(/^the operation may answer 3501 objects, more than MAX_QUERY_COST \(3000\); sources costs the most/),
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'cost', cost: 3501, maxCost: 3000 },
    };
    expect((await call(other, sources, { f: 500 })).body.errors).toEqual([refusal]);
    expect((await call(other, `{ sources(first: 500) { edges { node { id ${latest} } } } }`)).body.errors).toEqual([refusal]);
    const fewer = await call(other, sources, { f: 100 });
    expect(fewer.body.errors).toBeUndefined();
    expect(fewer.body.data.sources.edges).toEqual(expect.any(Array));
  });

  it("still answers GraphiQL's full introspection query", async () => {
    const { body } = await call(key, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }));
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.types.length).toBeGreaterThan(50);
  });

  it('refuses alias bombs and token floods before executing them', async () => {
    const aliases = `{ ${Array.from({ length: 6 }, (_, i) => `m${i}: metrics { name }`).join(' ')} }`;
    expect((await call(key, aliases)).body.errors[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'aliases' } });
    const tokens = `{ metrics { ${'name '.repeat(500)} } }`;
    expect((await call(key, tokens)).body.errors[0]).toMatchObject({
      message: 'the document has more than 400 tokens; send large inputs as variables',
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'tokens' },
    });
  });

  it('answers a body above MAX_BODY_BYTES with 413 before reading it, storing nothing', async () => {
    const readings = Array.from({ length: 2_000 }, (_, i) => ({ sourceId: 'nowhere', metric: 'heart_rate', time: at(i), value: 80 }));
    const before = await app.sql<{ n: number }>(sql`select count(*)::int as n from dead_letters`);
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', variables: { r: readings } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ errors: [{ message: expect.stringMatching(/exceeds MAX_BODY_BYTES \(65536\)/), extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    expect(await app.sql(sql`select count(*)::int as n from dead_letters`)).toEqual(before);
    // A chunked body without Content-Length cannot be sized up front: refused with 411.
    const chunked = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${app.url}/graphql`);
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end('{"query":"{ metrics { name } }"}');
    });
    expect(chunked).toBe(411);
  });

  it('caps the operations one graphql-ws connection may run at once', async () => {
    const socket = await openWs(app.url, key);
    const open = [0, 1, 2].map(() => socket.subscribe('subscription { readings { value } }'));
    const fourth = socket.subscribe('subscription { readings { value } }');
    await waitFor(() => fourth.errors.length > 0, 'the fourth subscription to be refused');
    expect(fourth.errors[0]).toMatchObject({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 } });
    expect(open.every((s) => s.errors.length === 0)).toBe(true);
    await socket.close();
  });

  it('closes a graphql-ws connection that names an operation with an id longer than 256 characters: it was kept for the operation\'s life', async () => {
    const ws = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const frames: string[] = [];
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (message: Buffer) => {
      frames.push(message.toString());
      if (frames.length > 1) return;
      ws.send(JSON.stringify({ id: 'a'.repeat(256), type: 'subscribe', payload: { query: 'subscription { readings { value } }' } }));
      ws.send(JSON.stringify({ id: 'b'.repeat(257), type: 'subscribe', payload: { query: 'subscription { readings { value } }' } }));
    });
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: key } }));
    expect(await closed).toEqual({ code: 4400, reason: 'operation ids may be at most 256 characters' });
    expect(frames.map((f) => JSON.parse(f).type)).toEqual(['connection_ack']);
  });

  it('limits operations per key per window with RATE_LIMITED, HTTP 429 and when to retry; other keys are unaffected', async () => {
    // Windows are fixed, at multiples of 2 s: start just after one begins, and send all 22 at once, so none is
    // counted in the next window (one at a time, on a loaded machine, they could straddle its start).
    await new Promise((resolve) => setTimeout(resolve, 2_000 - (Date.now() % 2_000) + 20));
    const answers = await Promise.all(Array.from({ length: 22 }, () => call(key, '{ metrics { name } }')));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBe(2);
    expect(limited[0]!.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/^rate limit of 20 operations per 2000 ms exceeded; retry in \d+ ms$/),
      extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number), limit: 20, windowMs: 2000 },
    });
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call(other, '{ metrics { name } }')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, limited[0]!.body.errors[0].extensions.retryAfterMs + 50));
    expect((await call(key, '{ metrics { name } }')).status).toBe(200);
  });

  it('counts introspection alone against the limit too: it names no root field, and the full query is among the costliest', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_000 - (Date.now() % 2_000) + 20));
    const introspection = getIntrospectionQuery({ descriptions: true });
    const answers = await Promise.all([...Array.from({ length: 21 }, () => call(key, introspection)), call(key, '{ __typename }')]);
    expect(answers.filter((a) => a.status === 429).length).toBe(2);
    expect(answers.filter((a) => a.status === 429)[0]!.body.errors[0].extensions.code).toBe('RATE_LIMITED');
  });
});

describe('documents padded to megabytes (spaces, comments: few tokens)', () => {
  it('are refused, and neither they nor their refusals stay in memory until the server runs out of it', async () => {
    // Its own process with a small heap: 150 documents of 2 MB (or their parse results) kept whole are 300 MB, past it.
    const server = await startServerProcess({ DATABASE_URL: '', DATA_DIR: 'memory://', PROCESSORS: 'off', NODE_OPTIONS: '--max-old-space-size=200' });
    try {
      const padding = ' '.repeat(2_000_000);
      for (let i = 0; i < 150; i++) {
        const query = `{ __typename }${padding}# ${i}`;
        const answer = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
        expect(((await answer.json()) as { errors: unknown[] }).errors[0]).toEqual({
          message: `the document is ${query.length} characters long, more than ${MAX_DOCUMENT_LENGTH}; send large inputs as variables`,
          extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'length' },
        });
      }
      expect((await fetch(new URL('/health', server.url))).status).toBe(200);
      // A subscription keeps its document for its life: one of 50 on a graphql-ws socket, padded so, held ~12 MB.
      const socket = await openWs(new URL(server.url).origin, 'none: the server runs open');
      const refused = socket.subscribe(`subscription { readings { value } }${' '.repeat(MAX_DOCUMENT_LENGTH)}`);
      await waitFor(() => refused.errors.length > 0, 'the padded subscription to be refused');
      expect(refused.errors[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'length' } });
      await socket.close();
      const fits = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ __typename }${' '.repeat(MAX_DOCUMENT_LENGTH - 100)}` }) });
      expect(await fits.json()).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await server.stop();
    }
  }, 120_000);
});

/** The first page of a GET subscription over SSE, as a client at `localAddress` sends it: status, Retry-After, and the body when it is not a stream. */
function sseAnswer(url: string, query: string, options: { key?: string; localAddress?: string; after?: string } = {}) {
  return new Promise<{ status: number; retryAfter: string | undefined; body: unknown; close(): void }>((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const params = new URLSearchParams({ query, ...(options.after ? { variables: JSON.stringify({ after: options.after }) } : {}) });
    const req = httpRequest(
      { host: hostname, port, path: `/graphql?${params}`, localAddress: options.localAddress, headers: { accept: 'text/event-stream', ...(options.key ? { authorization: `Bearer ${options.key}` } : {}) } },
      (res) => {
        const answer = { status: res.statusCode!, retryAfter: res.headers['retry-after'], body: undefined as unknown, close: () => req.destroy() };
        if (res.statusCode === 200) return resolve(answer);
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ ...answer, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject).end();
  });
}

const metricValue = (metrics: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(metrics)?.[1]);

describe.each(primaryBackends)('connections and replays per API key on $name', (backend) => {
  let app: TestApp;
  let call: Gql;
  let key: string;
  let keyId: string;
  let other: string;
  const readingsQuery = 'subscription($after: String) { readings(after: $after) { value cursor } }';

  beforeAll(async () => {
    app = await startTestApp(backend, {
      env: { AUTH: 'on', MAX_CONNECTIONS_PER_KEY: '2', MAX_CONCURRENT_REPLAYS_PER_KEY: '1', REPLAY_WAIT: '2s', SUBSCRIBER_BUFFER: '10' },
    });
    call = gql(`${app.url}/graphql`);
    const db = app.server.services.database.db;
    const created = await createApiKey(db, { tenantId: 'caps', role: 'admin', name: 'ward wall', expiresAt: null, createdBy: 'test' }, { createTenant: '' });
    key = created.key;
    keyId = created.row.id;
    other = (await createApiKey(db, { tenantId: 'caps', role: 'admin', name: 'trading screen', expiresAt: null, createdBy: 'test' })).key;
    await call(key, 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id } }', { s: [{ id: 'cap-bed', kind: 'PATIENT', name: 'capped patient' }] });
    replays = app.server.services.replays;
  });
  afterAll(() => app?.close());

  const connections = () => app.server.services.auth.connections.count;
  let replays: ReplaySlots;
  const ingest = async (values: number[], fromSecond: number) => {
    const { body } = await call(key, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted lastCursor } }', {
      r: values.map((value, i) => ({ sourceId: 'cap-bed', metric: 'heart_rate', time: at(fromSecond + i), value })),
    });
    expect(body.data.ingestReadings.accepted).toBe(values.length);
    return body.data.ingestReadings.lastCursor as string;
  };
  const values = (socket: { results: unknown[] }) => (socket.results as { data: { readings: { value: number }[] } }[]).flatMap((r) => r.data.readings.map((x) => x.value));

  it("refuses a key's connection beyond MAX_CONNECTIONS_PER_KEY (graphql-ws 4429, SSE 429) naming the limit, the setting and the count, while its open ones go on receiving; another key is unaffected; closing one frees a slot", async () => {
    const socket = await openWs(app.url, key);
    const onSocket = socket.subscribe(readingsQuery);
    const stream = await openSse(app.url, key, 'subscription { readings { value } }');
    await waitFor(() => connections() === 2, 'both connections of the key to be counted');

    const refusal = 'too many connections: this API key holds 2 on this node, MAX_CONNECTIONS_PER_KEY is 2; close one first';
    const third = await openWs(app.url, key);
    expect({ code: third.closeCode, reason: third.closeReason }).toEqual({ code: 4429, reason: refusal });
    const refusedStream = await sseAnswer(app.url, 'subscription { readings { value } }', { key });
    expect(refusedStream.status).toBe(429);
    expect(refusedStream.retryAfter).toBe('30');
    expect(refusedStream.body).toEqual({ errors: [{ message: refusal, extensions: { code: 'TOO_MANY_CONNECTIONS', limit: 2, open: 2, retryable: true, retryAfterMs: 30_000 } }] });

    // Another key of the same tenant connects, and every connection let in receives what is stored next.
    const otherSocket = await openWs(app.url, other);
    expect(otherSocket.closeCode).toBeUndefined();
    const onOther = otherSocket.subscribe(readingsQuery);
    await waitFor(() => app.server.services.readingsFeed.subscriberCount === 3, 'the three subscriptions to be live');
    await ingest([81], 0);
    await waitFor(() => values(onSocket).length > 0 && stream.events.length > 0 && values(onOther).length > 0, 'the reading on every open connection');
    expect([values(onSocket), values(onOther), stream.ended, socket.closeCode]).toEqual([[81], [81], false, undefined]);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metricValue(metrics, 'vigil_connections_refused_total{transport="websocket"}')).toBe(1);
    expect(metricValue(metrics, 'vigil_connections_refused_total{transport="sse"}')).toBe(1);
    expect(metricValue(metrics, 'vigil_live_connections')).toBe(3);

    // A closed stream frees its slot for the next connection.
    stream.close();
    await waitFor(() => connections() === 2, 'the closed stream to be uncounted');
    const again = await openWs(app.url, key);
    expect(again.closeCode).toBeUndefined();
    for (const open of [socket, otherSocket, again]) await open.close();
    await waitFor(() => connections() === 0, 'every connection to be uncounted');
  });

  it('replays one resumed subscription of a key at a time: the next waits its turn and then gets every stored reading once, in order; another key does not wait', async () => {
    await ingest([60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71], 10);
    const stored = (await app.sql<{ value: number }>(sql`select value from readings where tenant_id = 'caps' order by seq`)).map((r) => r.value);
    // The key's one turn is taken, as by a long replay of its own.
    const held = await replays.take(keyId, () => false);
    if (typeof held === 'string') throw new Error(`no turn: ${held}`);
    const waitedBefore = replays.waited;
    const otherSocket = await openWs(app.url, other);
    const notWaiting = otherSocket.subscribe(readingsQuery, { after: '0' });
    await waitFor(() => values(notWaiting).length === stored.length, "the other key's replay");
    expect(values(notWaiting)).toEqual(stored);
    const socket = await openWs(app.url, key);
    const waiting = socket.subscribe(readingsQuery, { after: '0' });
    await waitFor(() => replays.waitingCount === 1, 'the second replay of the key to wait');
    expect(values(waiting)).toEqual([]);
    expect(replays.waited).toBe(waitedBefore + 1);

    held.release();
    await waitFor(() => values(waiting).length >= stored.length, 'the waiting replay, once its turn came');
    expect(values(waiting)).toEqual(stored);
    await waitFor(() => replays.runningCount === 0, 'the finished replay to free its turn');
    await socket.close();
    await otherSocket.close();
  });

  it('ends a replay that waited REPLAY_WAIT for its turn with TOO_MANY_REPLAYS, naming the setting and where to resume, and counts it', async () => {
    const held = await replays.take(keyId, () => false);
    if (typeof held === 'string') throw new Error(`no turn: ${held}`);
    const socket = await openWs(app.url, key);
    const refused = socket.subscribe(readingsQuery, { after: '3' });
    await waitFor(() => refused.errors.length > 0, 'the replay to be refused', 5_000);
    expect(refused.errors[0]).toMatchObject({
      message:
        'too many replays: 1 of this API key (or address, on an open server) were reading stored rows on this node (MAX_CONCURRENT_REPLAYS_PER_KEY), and this replay of readings waited 2000 ms (REPLAY_WAIT) for its turn; resubscribe with after: "3" to continue without loss',
      extensions: { code: 'TOO_MANY_REPLAYS', limit: 1, resumeAfter: '3', retryable: true },
    });
    expect(refused.results).toEqual([]);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metricValue(metrics, 'vigil_live_replay_waits_total{outcome="refused"}')).toBe(1);
    expect(metricValue(metrics, 'vigil_live_replays{state="waiting"}')).toBe(0);
    held.release();
    await socket.close();
  });

  it('frees every turn however a replay ends: finished, its client gone while it waited or while it read, refused for a cursor ahead', async () => {
    await ingest(Array.from({ length: 300 }, (_, i) => 50 + (i % 40)), 100);
    const stored = (await app.sql<{ n: number }>(sql`select count(*)::int as n from readings where tenant_id = 'caps'`))[0]!.n;
    for (let round = 0; round < 3; round++) {
      const held = await replays.take(keyId, () => false);
      if (typeof held === 'string') throw new Error(`no turn: ${held}`);
      // A stream waits its turn, and goes away while it waits.
      const stream = await sseAnswer(app.url, readingsQuery, { key, after: '0' });
      expect(stream.status).toBe(200);
      await waitFor(() => replays.waitingCount === 1, 'the stream to wait its turn');
      stream.close();
      // A socket waits behind it, gets the turn the stream left, and goes away while it reads (or just after).
      const reading = await openWs(app.url, key);
      const long = reading.subscribe(readingsQuery, { after: '0' });
      await waitFor(() => replays.waitingCount === 2, 'the socket to wait its turn');
      held.release();
      await waitFor(() => values(long).length > 0, 'the replay to be reading');
      await reading.close();
      const ahead = await openWs(app.url, key);
      const refused = ahead.subscribe(readingsQuery, { after: '999999999' });
      await waitFor(() => refused.errors.length > 0, 'the cursor ahead to be refused');
      await ahead.close();
    }
    await waitFor(() => replays.runningCount === 0 && replays.waitingCount === 0 && connections() === 0, () => `turns to be freed: ${replays.runningCount} running, ${replays.waitingCount} waiting, ${connections()} connections`);
    // A replay now gets its turn at once, and reads through to the end.
    const waited = replays.waited;
    const socket = await openWs(app.url, key);
    const whole = socket.subscribe(readingsQuery, { after: '0' });
    await waitFor(() => values(whole).length >= stored, 'a whole replay');
    expect(values(whole).length).toBe(stored);
    expect(replays.waited).toBe(waited);
    await socket.close();
    await waitFor(() => replays.runningCount === 0, 'its turn to be freed');
  });
});

describe.each(primaryBackends)('connections per client address on an open server, $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { MAX_CONNECTIONS_PER_KEY: '1' } });
  });
  afterAll(() => app?.close());

  it('caps each address at MAX_CONNECTIONS_PER_KEY, graphql-ws and SSE together, while another address connects', async () => {
    const first = await openWs(app.url, 'none: the server runs open');
    expect(first.closeCode).toBeUndefined();
    const refusal = 'too many connections: this address holds 1 on this node, MAX_CONNECTIONS_PER_KEY is 1; close one first';
    const second = await openWs(app.url, 'none: the server runs open');
    expect({ code: second.closeCode, reason: second.closeReason }).toEqual({ code: 4429, reason: refusal });
    const stream = await sseAnswer(app.url, 'subscription { readings { value } }');
    expect([stream.status, (stream.body as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code]).toEqual([429, 'TOO_MANY_CONNECTIONS']);

    const elsewhere = await openWs(app.url, 'none: the server runs open', { localAddress: '127.0.0.2' });
    expect(elsewhere.closeCode).toBeUndefined();
    await first.close();
    await waitFor(() => app.server.services.auth.connections.count === 1, 'the closed socket to be uncounted');
    const again = await sseAnswer(app.url, 'subscription { readings { value } }');
    expect(again.status).toBe(200);
    again.close();
    await elsewhere.close();
  });
});
