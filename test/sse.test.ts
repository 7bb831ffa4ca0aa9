import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/key-admin.js';
import { flushEachWrite } from '../src/transport/sse.js';
import { startTestApp, type TestApp } from './support/app.js';
import { primaryBackends } from './support/backends.js';
import { waitFor } from './support/live.js';

describe('SSE writes', () => {
  let server: Server;
  let port: number;
  /** Bytes of an event still held by the response's socket right after `write` returned, per request path. */
  const heldAfterWrite = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/flushed') flushEachWrite(res);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(':\n\n');
      // Inside a promise continuation, as an event is written while a committed batch is delivered.
      void Promise.resolve().then(() => {
        res.write('event: next\ndata: {"data":{"readings":[]}}\n\n');
        heldAfterWrite.set(req.url!, res.socket!.writableLength);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });

  it('hands each event to the socket as it is written, where Node would hold it until the next tick', async () => {
    const [plain, flushed] = [await get('/plain'), await get('/flushed')];
    expect(flushed).toBe(plain);
    expect(flushed).toContain('event: next\ndata: {"data":{"readings":[]}}\n\n');
    // Node's own behaviour, so the test shows what flushEachWrite changes: the event waits in the corked socket.
    expect(heldAfterWrite.get('/plain')).toBeGreaterThan(0);
    expect(heldAfterWrite.get('/flushed')).toBe(0);
  });
});

describe.each(primaryBackends)('SSE subscribers that hang up while they are set up, on $name', (backend) => {
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    app = await startTestApp(backend, { env: { AUTH: 'on' } });
    key = (await createApiKey(app.server.services.database.db, { tenantId: 'sse-tenant', role: 'analyst', name: 'phone', expiresAt: null, createdBy: 'test' }, { createTenant: '' })).key;
  });
  afterAll(() => app?.close());

  const feeds = () => [app.server.services.readingsFeed, ...Object.values(app.server.services.outputs)];
  const opened = () => feeds().reduce((n, feed) => n + feed.opened, 0);
  const open = () => feeds().reduce((n, feed) => n + feed.subscriberCount, 0);

  /** Sends an EventSource's GET and hangs up at once, as a phone losing its signal does: the server reads both together. */
  const hangUpAfterRequest = (query: string, variables: Record<string, unknown>) => {
    const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.end(`GET /graphql?${params} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    });
    socket.on('error', () => undefined);
  };

  it('ends their subscriptions: none is kept buffering for a client that is gone', async () => {
    const before = opened();
    for (let i = 0; i < 4; i++) {
      hangUpAfterRequest('subscription($after: String) { readings(after: $after) { cursor } }', { after: '0' });
      hangUpAfterRequest('subscription { windows { start } }', {});
      hangUpAfterRequest('subscription($after: String) { alerts(after: $after) { seq } }', { after: '0' });
    }
    await waitFor(() => opened() >= before + 12, 'the server to subscribe all twelve');
    // Before the fix every one stayed subscribed for good (a readings one until its buffer overflowed).
    await expect.poll(open, { timeout: 5_000 }).toBe(0);
  });
});
