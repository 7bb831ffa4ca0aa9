/**
 * The raw baseline of the live benchmarks, in its own process (startChild):
 * a Redis SUBSCRIBE on the channel the load generator PUBLISHes to (the same
 * batch messages the platform publishes, src/live/wire.ts), and a plain `ws`
 * WebSocket server plus a plain SSE endpoint on 127.0.0.1 that send each
 * client the readings it asked for. No GraphQL, no database, no cursors kept,
 * no buffering limits: what a hand-written fan-out does.
 *
 *   ws://host:port/ws       first client message: {"sourceIds": [...] | null}
 *   http://host:port/sse?sourceIds=a,b
 *
 * Each delivery is `{"readings":[{cursor, sourceId, metric, time, value, unit, quality}]}`.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveChild } from './child.js';
import { sleep } from './stats.js';

/** A stream batch message in the platform's columns: offsets from `from`, epoch ms, one array per field. */
interface WireBatch {
  from: string;
  cursor: number[];
  time: number[];
  sourceId: string[];
  metric: string[];
  value: number[];
  unit: string[];
  quality: string[];
  tenantId: string[];
}
/** What a client gets per reading: the platform's Reading fields as its GraphQL answer spells them. */
interface Out {
  cursor: string;
  sourceId: string;
  metric: string;
  time: string;
  value: number;
  unit: string;
  quality: string;
}

interface RawClient {
  sources: Set<string> | null;
  pending: Out[];
  send(body: string, lastCursor: string): void;
}

const TENANT = 'default';
const redisUrl = process.env.RAW_REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = process.env.RAW_CHANNEL ?? 'vigil-bench-raw:readings';

const everything = new Set<RawClient>();
const bySource = new Map<string, Set<RawClient>>();

function add(client: RawClient) {
  if (!client.sources) everything.add(client);
  else
    for (const id of client.sources) {
      let set = bySource.get(id);
      if (!set) bySource.set(id, (set = new Set()));
      set.add(client);
    }
}

function remove(client: RawClient) {
  everything.delete(client);
  for (const id of client.sources ?? []) bySource.get(id)?.delete(client);
}

let connected = 0;

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname !== '/sse') {
    res.writeHead(404).end();
    return;
  }
  const ids = url.searchParams.get('sourceIds');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(':\n\n');
  const client: RawClient = {
    sources: ids ? new Set(ids.split(',')) : null,
    pending: [],
    send: (body, lastCursor) => void (res as ServerResponse).write(`id: ${lastCursor}\nevent: next\ndata: ${body}\n\n`),
  };
  add(client);
  connected++;
  req.on('close', () => {
    remove(client);
    connected--;
  });
});

const wss = new WebSocketServer({ server: http, path: '/ws' });
wss.on('connection', (socket: WebSocket) => {
  connected++;
  let client: RawClient | undefined;
  socket.once('message', (data) => {
    const { sourceIds } = JSON.parse(String(data)) as { sourceIds: string[] | null };
    client = { sources: sourceIds ? new Set(sourceIds) : null, pending: [], send: (body) => socket.send(body) };
    add(client);
  });
  socket.on('close', () => {
    connected--;
    if (client) remove(client);
  });
  socket.on('error', () => undefined);
});

const redis = new Redis(redisUrl, { lazyConnect: true });
await redis.connect();
await redis.subscribe(channel);
redis.on('message', (_channel: string, message: string) => {
  // The platform's column layout (src/live/wire.ts), read without its checks.
  const batch = JSON.parse(message) as WireBatch;
  const from = Number(batch.from);
  const touched: RawClient[] = [];
  const deliver = (client: RawClient, out: Out) => {
    if (client.pending.length === 0) touched.push(client);
    client.pending.push(out);
  };
  for (let i = 0; i < batch.cursor.length; i++) {
    if (batch.tenantId[i] !== TENANT) continue;
    const sourceId = batch.sourceId[i]!;
    const out: Out = { cursor: String(from + batch.cursor[i]!), sourceId, metric: batch.metric[i]!, time: new Date(batch.time[i]!).toISOString(), value: batch.value[i]!, unit: batch.unit[i]!, quality: batch.quality[i]! };
    for (const client of everything) deliver(client, out);
    const subscribed = bySource.get(sourceId);
    if (subscribed) for (const client of subscribed) deliver(client, out);
  }
  for (const client of touched) {
    client.send(JSON.stringify({ readings: client.pending }), client.pending.at(-1)!.cursor);
    client.pending = [];
  }
});

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
const { port } = http.address() as AddressInfo;

serveChild(
  {
    connections: () => connected,
    /** Full GC (the process runs with --expose-gc), then this process's memory. */
    async memory() {
      for (let i = 0; i < 3; i++) {
        (globalThis as { gc?: () => void }).gc?.();
        await sleep(50);
      }
      return process.memoryUsage();
    },
  },
  { url: `http://127.0.0.1:${port}`, pid: process.pid },
  async () => {
    for (const socket of wss.clients) socket.terminate();
    http.closeAllConnections();
    redis.disconnect();
  },
);
