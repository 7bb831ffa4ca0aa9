import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushEachWrite } from '../src/transport/sse.js';

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
