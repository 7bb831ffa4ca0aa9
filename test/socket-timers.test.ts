import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { INIT_TIMED_OUT, watchSockets } from '../src/transport/socket-timers.js';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

async function serve(options: { pingEveryMs: number; initWaitMs: number }) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const timers = watchSockets(wss, options);
  // Server-side sockets in the order clients connected.
  const accepted: WebSocket[] = [];
  wss.on('connection', (socket) => accepted.push(socket));
  stops.push(() => {
    timers.stop();
    for (const socket of wss.clients) socket.terminate();
    wss.close();
  });
  return { accepted, timers, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

async function open(url: string, options?: WebSocket.ClientOptions) {
  const client = new WebSocket(url, options);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const closed = new Promise<{ code: number; at: number }>((resolve) => client.once('close', (code) => resolve({ code, at: Date.now() })));
  return { client, closed };
}

describe('socket timers (graphql-ws keep-alive and connection_init wait, without a timer per socket)', () => {
  it('closes a socket that sends no connection_init in time with 4408, and leaves an initialised one open', async () => {
    const { accepted, timers, url } = await serve({ pingEveryMs: 60_000, initWaitMs: 200 });
    const started = Date.now();
    const silent = await open(url);
    const initialised = await open(url);
    await vi.waitFor(() => expect(accepted).toHaveLength(2));
    timers.initialised(accepted[1]!);
    const { code, at } = await silent.closed;
    expect(code).toBe(INIT_TIMED_OUT);
    expect(at - started).toBeGreaterThanOrEqual(190);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(initialised.client.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps a peer that answers pings, and cuts one that stopped answering after one interval', async () => {
    const { accepted, timers, url } = await serve({ pingEveryMs: 100, initWaitMs: 60_000 });
    const alive = await open(url);
    const gone = await open(url, { autoPong: false });
    await vi.waitFor(() => expect(accepted).toHaveLength(2));
    for (const socket of accepted) timers.initialised(socket);
    let pings = 0;
    alive.client.on('ping', () => pings++);
    const { code } = await gone.closed;
    // Terminated, not closed: no close frame reaches the peer.
    expect(code).toBe(1006);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(alive.client.readyState).toBe(WebSocket.OPEN);
  });
});
