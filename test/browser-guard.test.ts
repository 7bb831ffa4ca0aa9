import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { backends } from './support/backends.js';
import { createApiKey } from '../src/auth/key-admin.js';
import { loadConfig } from '../src/config.js';

type Answer = { status: number; body: { data?: unknown; errors?: { message: string; extensions: { code: string } }[] } };

/** A POST to /graphql naming `host` in its Host header (as a page on a rebound name does), and what came back. */
const post = (app: TestApp, host: string, query: string) => send(app, host, 'POST', '/graphql', JSON.stringify({ query }));

/** A request naming `host` in its Host header (fetch sends its own, whatever it is given). */
async function send(app: TestApp, host: string, method: string, path: string, payload = ''): Promise<Answer> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Opens a graphql-ws socket as a browser page of `origin` would, and runs one operation: its result, or how the upgrade was refused. */
async function overWebSocket(app: TestApp, headers: Record<string, string>, query: string): Promise<{ status: number; body: string } | { data: unknown }> {
  const ws = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    ws.on('error', reject);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init' }));
    });
    ws.on('message', (message: Buffer) => {
      const frame = JSON.parse(message.toString()) as { type: string; payload?: unknown };
      if (frame.type === 'connection_ack') ws.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query } }));
      if (frame.type === 'next') {
        resolve({ data: (frame.payload as { data: unknown }).data });
        ws.close();
      }
    });
  });
}

const RULE = 'mutation { createAlertRule(input: { name: "from a page elsewhere", kind: NEWS2 }) { id } }';

// How a web page elsewhere could use an open server through a visitor's browser: the same code on every backend.
describe.each(backends.slice(0, 1))('pages of other sites, on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { AUTH: 'off', ALLOWED_ORIGINS: 'https://wall.example.org', ALLOWED_HOSTS: 'vigil.internal' } });
  });
  afterAll(() => app?.close());
  const rules = async () => (await app.sql<{ name: string }>(sql`select name from alert_rules where name = 'from a page elsewhere'`)).length;

  it("refuses a WebSocket from a page of another origin before it runs anything, and takes the server's own pages, ALLOWED_ORIGINS and programs that name none", async () => {
    const { port } = new URL(app.url);
    const refused = await overWebSocket(app, { origin: 'http://evil.example' }, RULE)
    expect(refused).toMatchObject({ status: 403 });
    expect(JSON.parse((refused as { body: string }).body).errors[0]).toEqual({
      message: 'a WebSocket from a page of "http://evil.example" is refused: only pages of this server\'s own origin may open one (add the origin to ALLOWED_ORIGINS to allow it)',
      extensions: { code: 'ORIGIN_NOT_ALLOWED' },
    });
    // Sandboxed frames and files send "null"; the same host on another port is another origin.
    expect(await overWebSocket(app, { origin: 'null' }, RULE)).toMatchObject({ status: 403 });
    expect(await overWebSocket(app, { origin: `http://127.0.0.1:${Number(port) + 1}` }, RULE)).toMatchObject({ status: 403 });
    expect(await rules()).toBe(0);
    expect(await overWebSocket(app, { origin: `http://127.0.0.1:${port}` }, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    expect(await overWebSocket(app, { origin: 'https://wall.example.org' }, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    // Behind a proxy that ends TLS and passes the Host through: the page is https, this server plain HTTP.
    expect(await overWebSocket(app, { host: 'vigil.internal', origin: 'https://vigil.internal' }, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    expect(await overWebSocket(app, { host: 'vigil.internal:8443', origin: 'https://vigil.internal' }, RULE)).toMatchObject({ status: 403 });
    expect(await overWebSocket(app, {}, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers an open server only under IP addresses, localhost and ALLOWED_HOSTS: a page of a name rebound to 127.0.0.1 is refused', async () => {
    const { port } = new URL(app.url);
    const rebound = await post(app, `evil.example:${port}`, RULE);
    expect(rebound.status).toBe(403);
    expect(rebound.body.errors![0]).toEqual({
      message: `this server runs without API keys (AUTH off) and answers only to IP addresses, localhost and ALLOWED_HOSTS, not to the host "evil.example:${port}": add it to ALLOWED_HOSTS, or set AUTH=on`,
      extensions: { code: 'HOST_NOT_ALLOWED' },
    });
    // Its WebSocket too, though it comes from the page's own (rebound) origin.
    expect(await overWebSocket(app, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, RULE)).toMatchObject({ status: 403 });
    expect(await rules()).toBe(0);

    for (const host of [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`, `wall.localhost:${port}`, `vigil.internal:${port}`, `VIGIL.INTERNAL`]) {
      expect((await post(app, host, '{ __typename }')).body, host).toEqual({ data: { __typename: 'Query' } });
    }
    // The fully qualified spelling of a name is the name.
    for (const host of [`localhost.:${port}`, 'vigil.internal.']) expect((await post(app, host, '{ __typename }')).body, host).toEqual({ data: { __typename: 'Query' } });
    // Probes name the pod or the service: health answers under any name, the dashboard's files do not.
    expect(await send(app, 'vigil.default.svc', 'GET', '/health')).toMatchObject({ status: 200, body: { status: 'up' } });
    expect((await send(app, 'vigil.default.svc', 'GET', '/graphql?query=%7B__typename%7D')).status).toBe(403);
  });

  it('names a bad ALLOWED_ORIGINS or ALLOWED_HOSTS item', () => {
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'https://wall.example.org, https://wall.example.org/page' })).toThrow(
      /expected a comma-separated list of origins such as https:\/\/wall.example.org, got "https:\/\/wall.example.org\/page"[\s\S]*at ALLOWED_ORIGINS/,
    );
    expect(() => loadConfig({ ALLOWED_HOSTS: 'vigil.internal:4000' })).toThrow(
      /expected a comma-separated list of host names such as vigil.internal, got "vigil.internal:4000"[\s\S]*at ALLOWED_HOSTS/,
    );
    expect(loadConfig({ ALLOWED_ORIGINS: 'HTTPS://Wall.Example.org:443', ALLOWED_HOSTS: 'Vigil.Internal' }).http).toMatchObject({
      allowedOrigins: new Set(['https://wall.example.org']),
      allowedHosts: new Set(['vigil.internal']),
    });
  });
});

describe.each(backends.slice(0, 1))('a server with keys, on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { AUTH: 'on' } });
  });
  afterAll(() => app?.close());

  it('answers under any host name (a page elsewhere has no key to use), and still refuses WebSockets from other origins', async () => {
    const answered = await post(app, 'vigil.example.org', '{ __typename }');
    expect(answered.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(await overWebSocket(app, { origin: 'http://evil.example' }, '{ __typename }')).toMatchObject({ status: 403 });
  });

  it("keeps its answers out of every cache (a GET's key in X-API-Key does not keep a shared cache from storing it) and GraphiQL out of other sites' frames", async () => {
    const { key } = await createApiKey(app.server.services.database.db, { tenantId: 'ward-7', role: 'analyst', name: 'cache', expiresAt: null, createdBy: 'test' }, { createTenant: '' });
    const query = encodeURIComponent('{ sources { edges { node { id latest { value } } } } }');
    const answers = [
      await fetch(`${app.url}/graphql?query=${query}`, { headers: { 'x-api-key': key } }),
      await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ metrics { name } }' }) }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect([answer.headers.get('cache-control'), answer.headers.get('x-content-type-options')]).toEqual(['no-store', 'nosniff']);
    }
    // The page runs the operation its URL names at one click: framed, a page elsewhere could steer that click.
    const graphiql = await fetch(`${app.url}/graphql?query=${encodeURIComponent('mutation { deleteAlertRule(id: "r") { id } }')}`, { headers: { accept: 'text/html', 'x-api-key': key } });
    expect(graphiql.headers.get('content-type')).toMatch(/^text\/html/);
    expect([graphiql.headers.get('content-security-policy'), graphiql.headers.get('x-frame-options')]).toEqual(["frame-ancestors 'none'", 'DENY']);
    await graphiql.body?.cancel();
  });
});
