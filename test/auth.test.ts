import { request } from 'node:http';
import { GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../src/auth/api-keys.js';
import { createApiKey } from '../src/auth/key-admin.js';
import { MAX_AUDITED_NAME } from '../src/auth/access-control.js';
import { FIELD_ROLES } from '../src/auth/policy.js';
import { ROLES, type Role } from '../src/db/schema.js';
import { schema } from '../src/schema/index.js';
import { primaryBackends } from './support/backends.js';
import { directConnection, sql, startTestApp, type TestApp } from './support/app.js';
import { at } from './support/fixtures.js';
import { waitFor } from './support/live.js';
import WebSocket from 'ws';
import { gql, openSse, openWs, type Gql } from './support/keyed-client.js';
import { acceptsEventStream } from '../src/transport/sse.js';

/**
 * Tenants and roles. Tenant A's keys of every role are tried on every root
 * field against A's own data and against tenant B's; everything of B's is
 * named with "zzb" so a leak shows up in any answer.
 */
const TENANTS = {
  a: { id: 'tenant-a', bed: 'a-bed', symbol: 'AAA', card: 'a-card' },
  b: { id: 'tenant-b', bed: 'zzb-bed', symbol: 'ZZB', card: 'zzb-card' },
} as const;
type Side = 'own' | 'foreign';

interface Fixture {
  keys: Record<Role, string>;
  keyIds: Record<Role, string>;
  alertId: string;
  ruleId: string;
}

const rule = (name: string) => ({ name, kind: 'THRESHOLD', metric: 'heart_rate', above: 1, severity: 'LOW' });

describe.each(primaryBackends)('tenants, keys and roles on $name', (backend) => {
  let app: TestApp;
  const fixture = {} as Record<'a' | 'b', Fixture>;
  let call: Gql;

  const asAdmin = async (tenant: 'a' | 'b', query: string, variables: Record<string, unknown> = {}) => {
    const response = await call(fixture[tenant].keys.admin, query, variables);
    if (response.body.errors) throw new Error(`setup failed: ${JSON.stringify(response.body.errors)}`);
    return response.body.data as Record<string, any>;
  };
  const newKey = async (tenant: 'a' | 'b', role: Role, expiresAt: Date | null = null) =>
    createApiKey(app.server.services.database.db, { tenantId: TENANTS[tenant].id, role, name: `${role} key`, expiresAt, createdBy: 'test' }, { createTenant: '' });

  beforeAll(async () => {
    app = await startTestApp(backend, { env: { AUTH: 'on', KEY_CHECK_INTERVAL: '200ms', ALERT_CHECK_INTERVAL: '200ms' } });
    call = gql(`${app.url}/graphql`);
    for (const tenant of ['a', 'b'] as const) {
      const keys = {} as Record<Role, string>;
      const keyIds = {} as Record<Role, string>;
      for (const role of ROLES) {
        const created = await newKey(tenant, role);
        keys[role] = created.key;
        keyIds[role] = created.row.id;
      }
      fixture[tenant] = { keys, keyIds, alertId: '', ruleId: '' };
      const t = TENANTS[tenant];
      await asAdmin(tenant, 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id } }', { s: [{ id: t.bed, kind: 'PATIENT', name: `${tenant} patient` }] });
      const created = await asAdmin(tenant, 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }', { i: { ...rule(`${tenant === 'b' ? 'zzb' : 'a'} rule`), sourceIds: [t.bed] } });
      fixture[tenant].ruleId = created.createAlertRule.id;
      await call(keys.ingest, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', {
        r: [0, 1, 2].map((s) => ({ sourceId: t.bed, metric: 'heart_rate', time: at(s), value: 90 + s })),
      });
      await call(keys.ingest, 'mutation($t: [TradeInput!]!) { ingestTrades(trades: $t) { accepted } }', { t: [{ symbol: t.symbol, time: at(0), price: 10, size: 1 }] });
      await call(keys.ingest, 'mutation($t: [TransactionInput!]!) { ingestTransactions(transactions: $t) { accepted } }', {
        t: [{ id: `${tenant}-tx-1`, cardId: t.card, time: at(0), amount: 10, currency: 'EUR', merchant: 'shop', location: { lat: 51.5, lon: -0.1 }, ip: '203.0.113.9' }],
      });
    }
    await app.settle();
    for (const tenant of ['a', 'b'] as const) {
      const found = await asAdmin(tenant, '{ alerts { edges { node { id sourceId } } } }');
      fixture[tenant].alertId = found.alerts.edges[0].node.id;
    }
  });
  afterAll(() => app?.close());

  describe('authentication', () => {
    it('refuses a request without a key, with a malformed, unknown, revoked or expired key, with 401 and a reason', async () => {
      const query = '{ metrics { name } }';
      const failures = async () => {
        const text = await (await fetch(`${app.url}/metrics`)).text();
        return Object.fromEntries([...text.matchAll(/^vigil_auth_failures_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
      };
      const before = await failures();
      const missing = await call(null, query);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(missing.body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('Authorization: Bearer') });
      expect((await call('not-a-key', query)).body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      // Right shape, right id, wrong secret.
      const forged = `vgl_${fixture.a.keyIds.read}_${'A'.repeat(43)}`;
      expect((await call(forged, query)).body.errors[0].message).toBe('the API key is not valid');

      const revoked = await newKey('a', 'read');
      await asAdmin('a', 'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: revoked.row.id });
      expect((await call(revoked.key, query)).body.errors[0].message).toBe('the API key was revoked');

      // GraphiQL's page needs no key; a query dressed up as a page request still does.
      const page = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
      expect([page.status, await page.text()]).toEqual([200, expect.stringContaining('GraphiQL')]);
      const sneaky = await fetch(`${app.url}/graphql?%71uery=${encodeURIComponent('{ sources { edges { node { id } } } }')}`, { headers: { accept: 'text/html, application/json' } });
      expect(sneaky.status).toBe(401);

      // Valid for its first call, then expired in the database (a wall-clock expiry this close races a slow machine).
      const expiring = await newKey('a', 'read', new Date(Date.now() + 3_600_000));
      expect((await call(expiring.key, query)).status).toBe(200);
      await app.sql(sql`update api_keys set expires_at = now() where id = ${expiring.row.id}`);
      await new Promise((resolve) => setTimeout(resolve, 1_300)); // past the 1 s key cache
      expect((await call(expiring.key, query)).body.errors[0].message).toBe('the API key has expired');
      // Each refusal counted by reason, for the operator whose feed just stopped (they were visible nowhere).
      const after = await failures();
      const counted = Object.fromEntries(Object.keys(after).map((reason) => [reason, after[reason]! - (before[reason] ?? 0)]));
      expect(counted).toEqual({ missing: 2, invalid: 2, revoked: 1, expired: 1, throttled: 0 });
    });

    it('throttles an address presenting 20 distinct invalid keys within a minute (429, no lookups of unknown ids), counting a real id with a wrong secret like an unknown one, while valid keys go on working', async () => {
      // Other loopback addresses for the client's end: the throttle is per address, and the rest of this file's calls come from 127.0.0.1.
      const post = (key: string, localAddress = '127.0.0.2') =>
        new Promise<{ status: number; retryAfter?: string; body: any }>((resolve, reject) => {
          const body = JSON.stringify({ query: '{ metrics { name } }' });
          const req = request(`${app.url}/graphql`, { method: 'POST', localAddress, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const unknownKey = () => generateKey().key;
      const wrongSecret = (id: string) => `vgl_${id}_${'B'.repeat(43)}`;
      const throttled = async () => Number(/^vigil_auth_failures_total\{reason="throttled"\} (\d+)$/m.exec(await (await fetch(`${app.url}/metrics`)).text())![1]);
      const known = fixture.a.keys.read;
      expect((await post(known)).status).toBe(200);
      // A device whose key this node has never seen (it restarted, or the device just moved to it).
      const unseen = (await newKey('a', 'ingest')).key;

      // One bad key, retried one after another and many at once, is one invalid key: never throttled by itself.
      const retried = unknownKey();
      for (let i = 0; i < 25; i++) expect((await post(retried)).status).toBe(401);
      expect((await Promise.all(Array.from({ length: 25 }, () => post(retried)))).map((r) => r.status)).toEqual(Array(25).fill(401));
      const before = await throttled();
      // 18 more unknown ids and a real id with a wrong secret: 20 distinct invalid keys, each answered as before.
      for (let i = 0; i < 18; i++) expect((await post(unknownKey())).body.errors[0].message).toBe('the API key is not valid');
      expect((await post(wrongSecret(fixture.b.keyIds.admin))).body.errors[0].message).toBe('the API key is not valid');
      const guessed = await post(unknownKey());
      expect(guessed.status).toBe(429);
      expect(guessed.body.errors[0]).toMatchObject({ extensions: { code: 'TOO_MANY_INVALID_KEYS' }, message: expect.stringContaining('too many invalid API keys from this address') });
      expect(Number(guessed.retryAfter)).toBeGreaterThan(50);
      // A real id with a wrong secret gets the same answer, so the guesser cannot tell which ids exist.
      expect((await post(wrongSecret(fixture.b.keyIds.read))).status).toBe(429);
      // A valid key still works from that address (a device behind the same NAT), whether this node has accepted it
      // before or not, and other addresses are untouched.
      expect((await post(known)).status).toBe(200);
      expect((await post(unseen)).status).toBe(200);
      expect((await post(unknownKey(), '127.0.0.1')).status).toBe(401);
      // graphql-ws: try again later (1013), not a refused key (4403) that the dashboard never retries.
      const socket = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { localAddress: '127.0.0.2' });
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: unknownKey() } })));
      expect(await closed).toBe(1013);
      expect((await throttled()) - before).toBe(3);

      // Sent all at once, keys are counted while they are looked up: no more than 20 invalid ones get through.
      expect((await post(unknownKey(), '127.0.0.3')).status).toBe(401);
      const burst = (await Promise.all(Array.from({ length: 30 }, () => post(unknownKey(), '127.0.0.3')))).map((r) => r.status);
      expect(burst.filter((status) => status === 401).length).toBeLessThanOrEqual(19);
      expect(burst.filter((status) => status !== 401).every((status) => status === 429)).toBe(true);
      if (backend.database === 'postgres') {
        // So are a clean address's first ones: at most 20 distinct ids are looked up at once. The lookups are held
        // back by a lock, so that all 40 are in flight together, as on a busy database.
        const direct = directConnection((app.config.database as { schema: string }).schema);
        let release!: () => void;
        let locked!: () => void;
        const held = new Promise<void>((resolve) => (locked = resolve));
        const holding = direct.begin(async (tx) => {
          await tx.unsafe('lock table api_keys in access exclusive mode');
          locked();
          await new Promise<void>((resolve) => (release = resolve));
        });
        await held;
        const answers = Promise.all(Array.from({ length: 40 }, () => post(unknownKey(), '127.0.0.4')));
        await new Promise((resolve) => setTimeout(resolve, 500));
        release();
        await holding;
        await direct.end();
        const first = (await answers).map((r) => r.status);
        expect(first.filter((status) => status === 401).length).toBeLessThanOrEqual(20);
        expect(first.filter((status) => status !== 401).every((status) => status === 429)).toBe(true);
      }
      // A device's own burst (one valid key many times at once, on a node that has not seen it) all gets through.
      const device = (await newKey('a', 'read')).key;
      expect((await Promise.all(Array.from({ length: 40 }, () => post(device, '127.0.0.5')))).map((r) => r.status)).toEqual(Array(40).fill(200));
    });

    it('takes the key from Authorization, X-API-Key, graphql-ws connection_init and an SSE request header', async () => {
      const key = fixture.a.keys.admin;
      expect((await call(key, '{ metrics { name } }', {}, { header: 'x-api-key' })).status).toBe(200);
      // A proxy's own login in Authorization gives way to X-API-Key (it won, and the request was refused 401).
      const throughProxy = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('ward:proxy-password').toString('base64')}`, 'x-api-key': key },
        body: JSON.stringify({ query: '{ metrics { name } }' }),
      });
      expect(throughProxy.status).toBe(200);
      const ws = await openWs(app.url, key);
      const first = ws.subscribe('subscription { readings { sourceId value } }');
      const sse = await openSse(app.url, key, 'subscription { readings { sourceId value } }');
      await call(fixture.a.keys.ingest, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', {
        r: [{ sourceId: TENANTS.a.bed, metric: 'heart_rate', time: at(30), value: 71 }],
      });
      await waitFor(() => first.results.length > 0 && sse.events.length > 0, 'the reading over graphql-ws and SSE');
      expect(first.results[0]).toEqual({ data: { readings: [{ sourceId: TENANTS.a.bed, value: 71 }] } });
      expect(sse.events[0]).toEqual({ data: { readings: [{ sourceId: TENANTS.a.bed, value: 71 }] } });
      sse.close();
      await ws.close();
      const refused = await openWs(app.url, 'vgl_nope');
      await waitFor(() => refused.closeCode !== undefined, 'the socket to be refused');
      expect(refused).toMatchObject({ closeCode: 4403, closeReason: 'the API key is not valid' });
    });
  });

  /** Every root field, run by A's key against A's data ("own") and B's ("foreign"). */
  const operations: Record<string, (side: Side) => Promise<{ query: string; variables?: Record<string, unknown> }> | { query: string; variables?: Record<string, unknown> }> = {
    'Query.metrics': () => ({ query: '{ metrics { name } }' }),
    'Query.sources': (side) => ({ query: 'query($ids: [ID!]) { sources(ids: $ids) { edges { node { id name } } } }', variables: { ids: [bed(side)] } }),
    'Query.alert': (side) => ({ query: 'query($id: ID!) { alert(id: $id) { id sourceId message } }', variables: { id: fixture[tenantOf(side)].alertId } }),
    'Query.readings': (side) => ({ query: 'query($s: [ID!]) { readings(sourceIds: $s) { edges { node { sourceId value } } } }', variables: { s: [bed(side)] } }),
    'Query.history': (side) => ({
      query: 'query($s: ID!, $f: DateTime!, $t: DateTime!) { history(sourceId: $s, metric: "heart_rate", from: $f, to: $t, bucket: "1m") { bucket value } }',
      variables: { s: bed(side), f: at(-60), t: at(120) },
    }),
    'Query.windows': (side) => ({
      query: 'query($s: ID!, $f: DateTime!, $t: DateTime!) { windows(sourceId: $s, metric: "heart_rate", window: "1m", from: $f, to: $t, closedOnly: false) { edges { node { sourceId avg } } } }',
      variables: { s: bed(side), f: at(-60), t: at(120) },
    }),
    'Query.candles': (side) => ({
      query: 'query($s: String!, $f: DateTime!, $t: DateTime!) { candles(symbol: $s, interval: "1m", from: $f, to: $t, closedOnly: false) { edges { node { symbol close } } } }',
      variables: { s: TENANTS[tenantOf(side)].symbol, f: at(-60), t: at(120) },
    }),
    'Query.trades': (side) => ({ query: 'query($s: [String!]) { trades(symbols: $s) { edges { node { symbol price } } } }', variables: { s: [TENANTS[tenantOf(side)].symbol] } }),
    'Query.anomalies': (side) => ({ query: 'query($s: [ID!]) { anomalies(sourceIds: $s) { edges { node { sourceId } } } }', variables: { s: [bed(side)] } }),
    'Query.news2Scores': (side) => ({ query: 'query($s: [ID!]) { news2Scores(sourceIds: $s) { edges { node { sourceId total } } } }', variables: { s: [bed(side)] } }),
    // Open alerts, which a read key may list too (the test below has its refusal of history).
    'Query.alerts': (side) => ({ query: 'query($s: [ID!]) { alerts(sourceIds: $s, states: [PENDING, FIRING]) { edges { node { id sourceId } } } }', variables: { s: [bed(side)] } }),
    'Query.alertRules': () => ({ query: '{ alertRules { id name sourceIds } }' }),
    'Query.fraudSignals': (side) => ({ query: 'query($s: [String!]) { fraudSignals(subjects: $s) { edges { node { subject } } } }', variables: { s: [TENANTS[tenantOf(side)].card] } }),
    // B's transaction id: for A, an id none of its transactions has, so nothing (a transaction of A's with it would be A's own).
    'Query.transactions': (side) => ({ query: 'query($ids: [String!]) { transactions(ids: $ids) { edges { node { id cardId merchant } } } }', variables: { ids: [`${tenantOf(side)}-tx-1`] } }),
    'Query.lateEvents': () => ({ query: '{ lateEvents(pipeline: "readings") { edges { node { series } } } }' }),
    'Query.deadLetters': () => ({ query: '{ deadLetters { edges { node { stream item } } } }' }),
    'Query.processors': () => ({ query: '{ processors { name } }' }),
    'Query.apiKeys': () => ({ query: '{ apiKeys { edges { node { id tenantId name } } } }' }),
    'Query.auditLog': (side) => ({ query: 'query($k: String) { auditLog(keyId: $k) { edges { node { keyId sourceIds } } } }', variables: { k: fixture[tenantOf(side)].keyIds.analyst } }),
    'Mutation.ingestReadings': (side) => ({
      query: 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted errors { code } } }',
      variables: { r: [{ sourceId: bed(side), metric: 'heart_rate', time: at(-Math.floor(Math.random() * 1e6) - 1_000), value: 80 }] },
    }),
    'Mutation.ingestTrades': (side) => ({
      query: 'mutation($t: [TradeInput!]!) { ingestTrades(trades: $t) { accepted errors { code } } }',
      variables: { t: [{ symbol: TENANTS[tenantOf(side)].symbol, time: at(-Math.floor(Math.random() * 1e6) - 1_000), price: 11, size: 1 }] },
    }),
    'Mutation.ingestTransactions': (side) => ({
      query: 'mutation($t: [TransactionInput!]!) { ingestTransactions(transactions: $t) { accepted duplicates } }',
      // The same transaction id B used: each tenant's ids are its own, so this is A's own transaction, never B's.
      variables: { t: [{ id: 'b-tx-1', cardId: TENANTS[tenantOf(side)].card, time: at(5), amount: 20, currency: 'EUR', merchant: 'shop', location: { lat: 51.5, lon: -0.1 }, ip: '203.0.113.9' }] },
    }),
    'Mutation.acknowledgeAlert': (side) => ({ query: 'mutation($id: ID!) { acknowledgeAlert(id: $id, by: "nurse") { id } }', variables: { id: fixture[tenantOf(side)].alertId } }),
    'Mutation.registerSources': (side) => ({
      query: 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id name } }',
      variables: { s: [{ id: bed(side), kind: 'PATIENT', name: 'renamed' }] },
    }),
    // Its own side retires a spare bed of A's, registered for it, so the matrix's other cases keep their source.
    'Mutation.retireSources': async (side) => {
      if (side === 'own') await asAdmin('a', 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id } }', { s: [{ id: 'a-spare-bed', kind: 'PATIENT', name: 'spare' }] });
      return { query: 'mutation($ids: [ID!]!) { retireSources(ids: $ids) { id retiredAt } }', variables: { ids: [side === 'own' ? 'a-spare-bed' : bed(side)] } };
    },
    'Mutation.createAlertRule': (side) => ({ query: 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }', variables: { i: { ...rule('matrix rule'), sourceIds: [bed(side)] } } }),
    'Mutation.updateAlertRule': (side) => ({
      query: 'mutation($id: ID!, $i: AlertRuleInput!) { updateAlertRule(id: $id, input: $i) { id } }',
      variables: { id: fixture[tenantOf(side)].ruleId, i: rule(side === 'own' ? 'a rule' : 'hijacked') },
    }),
    'Mutation.setAlertRuleEnabled': (side) => ({ query: 'mutation($id: ID!) { setAlertRuleEnabled(id: $id, enabled: true) { id } }', variables: { id: fixture[tenantOf(side)].ruleId } }),
    'Mutation.deleteAlertRule': async (side) => {
      const target = (await asAdmin(tenantOf(side), 'mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }', { i: rule('to delete') })).createAlertRule.id;
      return { query: 'mutation($id: ID!) { deleteAlertRule(id: $id) { id } }', variables: { id: target } };
    },
    'Mutation.createApiKey': () => ({ query: 'mutation { createApiKey(role: read, name: "made in the matrix") { key apiKey { tenantId } } }' }),
    'Mutation.revokeApiKey': async (side) => ({ query: 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', variables: { id: (await newKey(tenantOf(side), 'read')).row.id } }),
  };
  const subscriptions: Record<string, (side: Side) => string> = {
    'Subscription.readings': (side) => `subscription { readings(sourceIds: ["${bed(side)}"]) { value } }`,
    'Subscription.windows': (side) => `subscription { windows(sourceIds: ["${bed(side)}"]) { avg } }`,
    'Subscription.anomalies': (side) => `subscription { anomalies(sourceIds: ["${bed(side)}"]) { value } }`,
    'Subscription.news2': (side) => `subscription { news2(sourceIds: ["${bed(side)}"]) { total } }`,
    'Subscription.alerts': (side) => `subscription { alerts(sourceIds: ["${bed(side)}"]) { kind } }`,
    'Subscription.candles': (side) => `subscription { candles(symbols: ["${TENANTS[tenantOf(side)].symbol}"]) { close } }`,
    'Subscription.trades': (side) => `subscription { trades(symbols: ["${TENANTS[tenantOf(side)].symbol}"]) { price } }`,
    // Card subjects are per tenant: naming B's card id subscribes to A's own card of that id.
    'Subscription.fraudSignals': (side) => `subscription { fraudSignals(subjects: ["${TENANTS[tenantOf(side)].card}"]) { subject } }`,
  };
  const tenantOf = (side: Side) => (side === 'own' ? 'a' : 'b');
  const bed = (side: Side) => TENANTS[tenantOf(side)].bed;

  it('has a policy and a matrix case for every root field of the schema', () => {
    const rootFields = (['Query', 'Mutation', 'Subscription'] as const).flatMap((type) =>
      Object.keys((schema.getType(type) as GraphQLObjectType).getFields()).map((field) => `${type}.${field}`),
    );
    expect(Object.keys(FIELD_ROLES).sort()).toEqual([...rootFields].sort());
    expect([...Object.keys(operations), ...Object.keys(subscriptions)].sort()).toEqual([...rootFields].sort());
  });

  it.each(ROLES)('lets role %s run exactly its fields, and never reach tenant B through any of them', async (role) => {
    const key = fixture.a.keys[role];
    for (const [field, build] of Object.entries(operations)) {
      for (const side of ['own', 'foreign'] as const) {
        const { query, variables } = await build(side);
        const { body } = await call(key, query, variables);
        const label = `${role} ${field} ${side}`;
        // Dead letters echo A's own refused attempts at B's ids, and the audit log the ids A's keys named (B's card
        // id, which for A names A's own card of that id); everything else must not mention B at all.
        const echoes = field === 'Query.deadLetters' || field === 'Query.auditLog';
        const dataText = echoes ? '' : JSON.stringify(body.data ?? null);
        // B's names, not three letters a random key id (base32) may hold: 2 of 20 ids did in one run.
        expect(dataText, `${label} leaked tenant B's data`).not.toMatch(/zzb[- ]|ZZB|tenant-b/);
        // The audit log's entries are A's analyst's, whichever key it was asked about.
        for (const entry of (body.data?.auditLog?.edges ?? []) as { node: { keyId: string } }[]) expect(entry.node.keyId, label).toBe(fixture.a.keyIds.analyst);
        if (!FIELD_ROLES[field]!.includes(role)) {
          expect(body.errors?.[0]?.extensions?.code, label).toBe('FORBIDDEN');
          continue;
        }
        if (side === 'own') {
          expect(body.errors, label).toBeUndefined();
          continue;
        }
        // Foreign: refused, not found, or answered with nothing of B's.
        const code = body.errors?.[0]?.extensions?.code;
        if (code !== undefined) expect(['FORBIDDEN', 'NOT_FOUND', 'SOURCE_ID_TAKEN'], `${label}: ${JSON.stringify(body.errors)}`).toContain(code);
        if (field === 'Mutation.ingestReadings') expect(body.data.ingestReadings).toEqual({ accepted: 0, errors: [{ code: 'UNKNOWN_SOURCE' }] });
        if (field === 'Mutation.ingestTrades') expect(body.data.ingestTrades).toEqual({ accepted: 0, errors: [{ code: 'UNKNOWN_SOURCE' }] });
        if (field === 'Query.alert') expect(body.data.alert).toBeNull();
      }
    }
    const sides = Object.entries(subscriptions).flatMap(([field, build]) =>
      (['own', 'foreign'] as const).map((side) => {
        const allowed = FIELD_ROLES[field]!.includes(role);
        return { field, side, query: build(side), shouldGoLive: allowed && (side === 'own' || field === 'Subscription.fraudSignals') };
      }),
    );
    // A refusal is the stream's first event, awaited for up to 5 s (a loaded machine); going live is 600 ms of silence.
    const answers = await Promise.all(sides.map(async (s) => ({ ...s, first: await firstSseEvent(app.url, key, s.query, s.shouldGoLive ? 600 : 5_000) })));
    for (const { field, side, first, shouldGoLive } of answers) {
      const label = `${role} ${field} ${side}`;
      if (shouldGoLive) expect(first, label).toBeUndefined();
      else expect((first as any)?.errors?.[0]?.extensions?.code, label).toBe('FORBIDDEN');
    }
    // B's data is untouched by all of that.
    const [bRows] = await app.sql<{ readings: number; rules: number; name: string; retired: boolean }>(
      sql`select (select count(*)::int from readings where tenant_id = 'tenant-b') as readings,
                 (select count(*)::int from alert_rules where tenant_id = 'tenant-b' and name = 'zzb rule') as rules,
                 (select name from sources where id = 'zzb-bed') as name,
                 (select retired_at is not null from sources where id = 'zzb-bed') as retired`,
    );
    expect(bRows).toEqual({ readings: 3, rules: 1, name: 'b patient', retired: false });
  });

  it('keeps tenant-wide subscriptions to their own tenant: B sees nothing of what A posts, and a foreign filter is refused', async () => {
    const bWs = await openWs(app.url, fixture.b.keys.read);
    const bReadings = bWs.subscribe('subscription { readings { sourceId } }');
    const bWindows = bWs.subscribe('subscription { windows { sourceId } }');
    const bAlerts = bWs.subscribe('subscription { alerts { alert { sourceId } } }');
    // Resuming from the first transition ever stored replays B's own alerts only, though A's are stored beside them.
    const bReplayed = bWs.subscribe('subscription { alerts(after: "0") { alert { sourceId } } }');
    const aWs = await openWs(app.url, fixture.a.keys.read);
    const aReadings = aWs.subscribe('subscription { readings { sourceId } }');
    const aWindows = aWs.subscribe('subscription { windows { sourceId } }');
    const refused = aWs.subscribe(`subscription { readings(sourceIds: ["${TENANTS.b.bed}"]) { sourceId } }`);
    await waitFor(() => refused.errors.length > 0, 'the foreign filter to be refused');
    expect(refused.errors[0]).toMatchObject({ message: `sourceIds: "${TENANTS.b.bed}" is not a source of your tenant`, extensions: { code: 'FORBIDDEN' } });
    await waitFor(() => app.server.services.readingsFeed.subscriberCount >= 2, 'both readings subscriptions');

    await call(fixture.a.keys.ingest, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', {
      r: [100, 200].map((s) => ({ sourceId: TENANTS.a.bed, metric: 'heart_rate', time: at(s), value: 80 })),
    });
    await app.settle();
    await waitFor(() => aReadings.results.length > 0 && aWindows.results.length > 0, "A's own readings and windows");
    // B's subscriptions went through the same feeds at the same time and got nothing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...bReadings.results, ...bWindows.results, ...bAlerts.results]).toEqual([]);
    await waitFor(() => bReplayed.results.length > 0, "B's own alert, replayed");
    const replayed = (bReplayed.results as { data: { alerts: { alert: { sourceId: string } }[] } }[]).flatMap((r) => r.data.alerts.map((e) => e.alert.sourceId));
    expect(new Set(replayed)).toEqual(new Set([TENANTS.b.bed]));
    await bWs.close();
    await aWs.close();
  });

  it('lets a read key resume a subscription at most READ_KEY_REPLAY back, naming where to resume instead, and an analyst key any distance', async () => {
    // A's first reading, stored two hours ago as far as the replay limit can tell: resuming before it replays it.
    const [{ first }] = (await app.sql<{ first: string }>(sql`select min(seq)::text as first from readings where tenant_id = 'tenant-a'`)) as [{ first: string }];
    const [{ storedAt }] = (await app.sql<{ storedAt: string }>(sql`select received_at::text as "storedAt" from readings where seq = ${first}::int8`)) as [{ storedAt: string }];
    await app.sql(sql`update readings set received_at = now() - interval '2 hours' where seq = ${first}::int8`);
    try {
      const before = (BigInt(first) - 1n).toString();
      const reader = await openWs(app.url, fixture.a.keys.read);
      const refused = reader.subscribe(`subscription { readings(after: "${before}") { cursor } }`);
      await waitFor(() => refused.errors.length > 0, 'the refusal');
      const [{ committed }] = (await app.sql<{ committed: string }>(sql`select last::text as committed from stream_offsets where stream = 'readings'`)) as [{ committed: string }];
      expect(refused.errors[0]).toMatchObject({
        message: `after ${before} is more than 1h back: a read key replays at most that much of the readings (READ_KEY_REPLAY); read the current state and resume after resumeAfter, or use an analyst key`,
        extensions: { code: 'FORBIDDEN', argument: 'after', resumeAfter: committed, replayLimitMs: 3_600_000 },
      });
      // After a reconnection (the next reading is recent), and live from now, a read key resumes as before.
      const resumed = reader.subscribe(`subscription { readings(after: "${first}") { cursor } }`);
      const analyst = await openWs(app.url, fixture.a.keys.analyst);
      const replayed = analyst.subscribe(`subscription { readings(after: "${before}") { cursor } }`);
      await waitFor(() => replayed.results.length > 0, "the analyst's replay");
      const cursors = (replayed.results as { data: { readings: { cursor: string }[] } }[]).flatMap((r) => r.data.readings.map((reading) => reading.cursor));
      expect(cursors[0]).toBe(first);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(resumed.errors).toEqual([]);
      expect(replayed.errors).toEqual([]);
      await reader.close();
      await analyst.close();
    } finally {
      await app.sql(sql`update readings set received_at = ${storedAt}::timestamptz where seq = ${first}::int8`);
    }
  });

  it("judges a read key's replay by where its own begins: another tenant's older reading or alert transition does not refuse it", async () => {
    const [{ cursor, seq }] = (await app.sql<{ cursor: string; seq: string }>(
      sql`select (select last::text from stream_offsets where stream = 'readings') as cursor, (select coalesce(max(seq), 0)::text from alert_transitions) as seq`,
    )) as [{ cursor: string; seq: string }];
    const ingest = (tenant: 'a' | 'b', value: number) =>
      call(fixture[tenant].keys.ingest, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { lastCursor } }', {
        r: [{ sourceId: TENANTS[tenant].bed, metric: 'heart_rate', time: new Date(Date.now() - 1_000).toISOString(), value }],
      });
    const acknowledge = (tenant: 'a' | 'b') =>
      call(fixture[tenant].keys.read, 'mutation($id: ID!) { acknowledgeAlert(id: $id, by: "nurse") { id } }', { id: fixture[tenant].alertId });
    // B's reading and transition first, stored two hours ago as far as the replay limit can tell; then A's, now.
    const bReading = (await ingest('b', 71)).body.data.ingestReadings.lastCursor as string;
    expect((await acknowledge('b')).body.errors).toBeUndefined();
    const [{ bSeq }] = (await app.sql<{ bSeq: string }>(sql`select max(seq)::text as "bSeq" from alert_transitions`)) as [{ bSeq: string }];
    await app.sql(sql`update readings set received_at = received_at - interval '2 hours' where seq = ${bReading}::int8`);
    await app.sql(sql`update alert_transitions set at = at - interval '2 hours' where seq = ${bSeq}::int8`);
    try {
      const aReading = (await ingest('a', 72)).body.data.ingestReadings.lastCursor as string;
      expect((await acknowledge('a')).body.errors).toBeUndefined();
      // A phone of A's that was away a moment misses nothing: before, both were refused FORBIDDEN, naming a
      // resumeAfter past A's own reading and transition, which following it would have lost.
      const reader = await openWs(app.url, fixture.a.keys.read);
      const readings = reader.subscribe(`subscription { readings(after: "${cursor}") { cursor } }`);
      const alerts = reader.subscribe(`subscription { alerts(after: "${seq}") { seq kind alert { sourceId } } }`);
      // Its filters too, as the replay applies them (on the alert after the transition).
      const filtered = reader.subscribe(
        `subscription { alerts(after: "${seq}", sourceIds: ["${TENANTS.a.bed}"], ruleIds: ["${fixture.a.ruleId}"], states: [FIRING], severities: [LOW, MEDIUM, HIGH, CRITICAL]) { seq kind alert { sourceId } } }`,
      );
      const replays = [readings, alerts, filtered];
      await waitFor(() => replays.every((r) => r.results.length > 0) || replays.some((r) => r.errors.length > 0), 'the replays');
      expect(replays.flatMap((r) => r.errors)).toEqual([]);
      expect((readings.results[0] as { data: { readings: { cursor: string }[] } }).data.readings.map((r) => r.cursor)).toEqual([aReading]);
      for (const replay of [alerts, filtered]) {
        expect((replay.results[0] as { data: { alerts: unknown[] } }).data.alerts).toEqual([expect.objectContaining({ kind: 'ACKNOWLEDGED', alert: { sourceId: TENANTS.a.bed } })]);
      }
      await reader.close();
    } finally {
      await app.sql(sql`update readings set received_at = received_at + interval '2 hours' where seq = ${bReading}::int8`);
      await app.sql(sql`update alert_transitions set at = at + interval '2 hours' where seq = ${bSeq}::int8`);
    }
  });

  it("lists a late trade of a symbol holding a \"/\" to the symbol's tenant, not to the tenant of a source named like the text before it", async () => {
    const trade = (seconds: number, tradeId: string) => ({ symbol: 'AFX/EUR', time: at(seconds), tradeId, price: 1.1, size: 5 });
    for (const t of [trade(600, 'on-time'), trade(0, 'late')]) {
      const sent = await call(fixture.a.keys.ingest, 'mutation($t: [TradeInput!]!) { ingestTrades(trades: $t) { accepted } }', { t: [t] });
      expect(sent.body.data.ingestTrades.accepted).toBe(1);
    }
    // B's device of the id before the "/": the text a reading's series names its source by.
    await asAdmin('b', 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id } }', { s: [{ id: 'AFX', kind: 'DEVICE', name: 'a device' }] });
    await app.settle();
    const late = async (tenant: 'a' | 'b') =>
      ((await call(fixture[tenant].keys.analyst, '{ lateEvents(pipeline: "trades") { edges { node { series } } } }')).body.data.lateEvents.edges as { node: { series: string } }[]).map((e) => e.node.series).filter((series) => series.startsWith('AFX'));
    expect(await late('a')).toEqual(['AFX/EUR']);
    expect(await late('b')).toEqual([]);
  });

  it("refuses a registration naming another tenant's source id whole: none of the caller's sources is created or changed", async () => {
    const listed = async (tenant: 'a' | 'b') =>
      ((await asAdmin(tenant, '{ sources(first: 500) { edges { node { id kind name } } } }')).sources.edges as { node: { id: string } }[]).map((e) => e.node);
    const before = { a: await listed('a'), b: await listed('b') };
    const register = 'mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id } }';
    const refused = await call(fixture.b.keys.admin, register, {
      s: [{ id: 'b-new-bed', kind: 'PATIENT', name: 'New' }, { id: TENANTS.a.bed, kind: 'PATIENT', name: 'x' }, { id: TENANTS.b.bed, kind: 'DEVICE', name: 'Renamed' }],
    });
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'SOURCE_ID_TAKEN', index: 1, field: 'id', sourceId: TENANTS.a.bed } });
    expect(before.b.some((s) => s.id === TENANTS.b.bed)).toBe(true);
    expect(await listed('b')).toEqual(before.b);
    expect(await listed('a')).toEqual(before.a);
  });

  it("lets a read key list open alerts, the current state it is told to read after a replay refusal, but not alerts' history", async () => {
    const reader = fixture.a.keys.read;
    const open = await call(reader, '{ alerts(states: [FIRING, PENDING]) { lastEventSeq edges { node { id state } } } }');
    expect(open.body.errors).toBeUndefined();
    expect(open.body.data.alerts.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(fixture.a.alertId);
    for (const states of [null, ['FIRING', 'RESOLVED']]) {
      const refused = await call(reader, 'query($s: [AlertState!]) { alerts(states: $s) { edges { node { id } } } }', { s: states });
      expect(refused.body.errors?.[0], JSON.stringify(states)).toMatchObject({
        extensions: { code: 'FORBIDDEN', argument: 'states' },
        message: "a read key lists open alerts only: pass states: [PENDING, FIRING] (or one of them); alerts' history needs an analyst key",
      });
    }
    // An analyst key reads history as before.
    expect((await call(fixture.a.keys.analyst, '{ alerts(states: [RESOLVED]) { edges { node { id } } } }')).body.errors).toBeUndefined();
  });

  it('closes the graphql-ws and SSE connections of a revoked key within a second, with close code 4401', async () => {
    const reader = await newKey('a', 'read');
    const ws = await openWs(app.url, reader.key);
    ws.subscribe('subscription { readings { value } }');
    const sse = await openSse(app.url, reader.key, 'subscription { readings { value } }');
    await waitFor(() => app.server.services.readingsFeed.subscriberCount >= 2, 'both subscriptions');
    const revokedAt = Date.now();
    await call(fixture.a.keys.admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: reader.row.id });
    await waitFor(() => ws.closeCode !== undefined && sse.ended, 'both connections to close', 2_000);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect(ws).toMatchObject({ closeCode: 4401, closeReason: 'API key revoked' });
    // The SSE stream says why it ended, where it was cut as a network fault would cut it.
    expect(sse.events.at(-1)).toEqual({
      errors: [{ message: 'API key revoked: this subscription has ended, and the key is refused from now on', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(Number(/vigil_connections_closed_for_key_total\{reason="revoked"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('ends the SSE streams of a revoked key whatever Accept made them streams: none, */*, text/*, another case', async () => {
    const reader = await newKey('a', 'read');
    const opened = app.server.services.readingsFeed.opened;
    const accepts = [null, '*/*', 'text/*', 'Text/Event-Stream', 'application/json;q=0.9, */event-stream'];
    const streams = await Promise.all(accepts.map((accept) => openSse(app.url, reader.key, 'subscription { readings { value } }', accept)));
    await waitFor(() => app.server.services.readingsFeed.opened >= opened + accepts.length, 'every stream');
    await call(fixture.a.keys.admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: reader.row.id });
    // Before, only a request naming text/event-stream (then also */* or none) was watched: yoga streamed the others
    // all the same, and they went on delivering readings to the revoked key for good.
    await waitFor(() => streams.every((s) => s.ended), 'every stream to end', 2_000);
  });

  it('takes over every subscription yoga answers with an event stream, and no other (acceptsEventStream)', () => {
    for (const accept of [null, '', '*/*', 'text/event-stream', 'TEXT/EVENT-STREAM', 'text/*', '*/event-stream', 'application/json, text/event-stream;charset=utf-8', ' text / event-stream ']) {
      expect(acceptsEventStream(accept), String(accept)).toBe(true);
    }
    for (const accept of ['application/json', 'application/graphql-response+json', 'text/plain', 'text/event-stream;charset=latin1', 'text']) {
      expect(acceptsEventStream(accept), accept).toBe(false);
    }
  });

  it('closes a connection when its key expires, and when the key is revoked on another node (found by the periodic check)', async () => {
    // Long enough to open and subscribe on a stalled machine; the open socket keeps the expiry it was let in with.
    const expiring = await newKey('a', 'read', new Date(Date.now() + 2_000));
    const ws = await openWs(app.url, expiring.key);
    ws.subscribe('subscription { readings { value } }');
    await waitFor(() => ws.closeCode !== undefined, 'the expired key to be cut off', 4_500);
    expect(ws).toMatchObject({ closeCode: 4401, closeReason: 'API key expired' });

    const other = await newKey('a', 'read');
    const second = await openWs(app.url, other.key);
    second.subscribe('subscription { readings { value } }');
    await waitFor(() => app.server.services.auth.connections.tracked > 0, 'the socket to be tracked');
    // Revoked straight in the database, as another node (or the CLI) would: no in-process signal.
    await app.sql(sql`update api_keys set revoked_at = now() where id = ${other.row.id}`);
    await waitFor(() => second.closeCode !== undefined, 'the socket to be closed', 2_000);
    expect(second.closeCode).toBe(4401);
  });

  it("writes who read which patient's data to an audit log only the tenant's admins can read", async () => {
    await call(fixture.a.keys.analyst, 'query Charts($s: [ID!]) { readings(sourceIds: $s) { edges { node { value } } } }', { s: [TENANTS.a.bed] });
    await call(fixture.a.keys.analyst, '{ alerts { edges { node { sourceId } } } }');
    await app.server.services.auth.audit.flush();
    const { auditLog } = await asAdmin('a', 'query($k: String) { auditLog(keyId: $k) { edges { node { keyId role caller operationType operationName fields sourceIds } } } }', {
      k: fixture.a.keyIds.analyst,
    });
    const entries = auditLog.edges.map((e: any) => e.node);
    expect(entries).toContainEqual({
      keyId: fixture.a.keyIds.analyst,
      role: 'analyst',
      caller: expect.stringMatching(new RegExp(`^${fixture.a.keyIds.analyst}@`)),
      operationType: 'query',
      operationName: 'Charts',
      fields: ['Query.readings'],
      sourceIds: [TENANTS.a.bed],
    });
    // Unfiltered: the whole tenant ("*") and the patients that came back.
    expect(entries).toContainEqual(expect.objectContaining({ fields: ['Query.alerts'], sourceIds: ['*', TENANTS.a.bed] }));
    // A card issuer's record of who read which cards: the subjects asked for, or "*" for all. They were not recorded.
    await call(fixture.a.keys.analyst, 'query Cards { fraudSignals(subjects: ["card-7f3a"]) { edges { node { id } } } }');
    await call(fixture.a.keys.analyst, 'query AllCards { fraudSignals { edges { node { id } } } }');
    await app.server.services.auth.audit.flush();
    const { auditLog: cards } = await asAdmin('a', 'query($k: String) { auditLog(keyId: $k, first: 2) { edges { node { operationName sourceIds } } } }', { k: fixture.a.keyIds.analyst });
    expect(cards.edges.map((e: any) => e.node)).toEqual([
      { operationName: 'AllCards', sourceIds: ['*'] },
      { operationName: 'Cards', sourceIds: ['card-7f3a'] },
    ]);
    // "Who read this patient" counts every read that covered the whole tenant, though nothing of the patient came back.
    await call(fixture.a.keys.analyst, 'query Earlier { readings(from: "2001-01-01T00:00:00Z", to: "2001-01-02T00:00:00Z") { edges { node { value } } } }');
    // A wall: every patient's latest vitals at once.
    await call(fixture.a.keys.read, 'query Wall { sources { edges { node { id latest { metric value } } } } }');
    await app.server.services.auth.audit.flush();
    const { auditLog: ofBed } = await asAdmin('a', 'query($s: ID) { auditLog(sourceId: $s) { edges { node { operationName fields sourceIds } } } }', { s: TENANTS.a.bed });
    const readers = ofBed.edges.map((e: any) => e.node);
    expect(readers).toContainEqual({ operationName: 'Earlier', fields: ['Query.readings'], sourceIds: ['*'] });
    expect(readers).toContainEqual({ operationName: 'Wall', fields: ['Query.sources'], sourceIds: ['*'] });
    expect(readers).toContainEqual({ operationName: 'Charts', fields: ['Query.readings'], sourceIds: [TENANTS.a.bed] });
    expect(readers.every((r: any) => r.sourceIds.includes('*') || r.sourceIds.includes(TENANTS.a.bed))).toBe(true);
    // Another tenant's source (or a misspelt one) is said so, as every source argument does.
    const foreign = await call(fixture.a.keys.admin, 'query($s: ID) { auditLog(sourceId: $s) { edges { cursor } } }', { s: TENANTS.b.bed });
    expect(foreign.body.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', argument: 'sourceId' } });
    // B's admin sees none of A's entries.
    const { auditLog: fromB } = await asAdmin('b', '{ auditLog { edges { node { keyId } } } }');
    expect(fromB.edges.map((e: any) => e.node.keyId)).not.toContain(fixture.a.keyIds.analyst);
    expect((await call(fixture.a.keys.analyst, '{ auditLog { edges { node { keyId } } } }')).body.errors[0].extensions.code).toBe('FORBIDDEN');

    // A name is the client's, as long as a document may be (131,072 characters): only its start is kept.
    const long = `Wall${'x'.repeat(100_000)}`;
    expect((await call(fixture.a.keys.read, `query ${long} { sources { edges { node { id } } } }`)).status).toBe(200);
    await app.server.services.auth.audit.flush();
    const { auditLog: named } = await asAdmin('a', 'query($k: String) { auditLog(keyId: $k, first: 1) { edges { node { operationName } } } }', { k: fixture.a.keyIds.read });
    expect(named.edges[0].node.operationName).toBe(long.slice(0, MAX_AUDITED_NAME));
  });

  it('never stores or logs a key secret: only its SHA-256 is kept', async () => {
    const created = await newKey('a', 'read');
    // vgl_<id>_<secret>; the secret is base64url, which may hold '_' itself.
    const secret = created.key.match(/^vgl_[a-z2-7]{12}_([A-Za-z0-9_-]{43})$/)![1]!;
    const [row] = await app.sql<{ secret_hash: string }>(sql`select secret_hash from api_keys where id = ${created.row.id}`);
    expect(row!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.secret_hash).not.toContain(secret);
  });
});

/** Waits up to `ms` for the first SSE event of a subscription; undefined when it went live without one. */
async function firstSseEvent(url: string, key: string, query: string, ms: number): Promise<unknown> {
  const sse = await openSse(url, key, query);
  await waitFor(() => sse.events.length > 0 || sse.ended, 'an SSE event', ms).catch(() => undefined);
  sse.close();
  return sse.events[0];
}
