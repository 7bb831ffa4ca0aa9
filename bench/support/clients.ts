/**
 * The benchmarks' client fleet, in its own process (started with startChild):
 * opens subscribers over graphql-ws (the graphql-ws client library), SSE, or
 * the raw baseline server's plain WebSocket / SSE, records the cursor and
 * arrival time (wall clock, sub-ms) of every reading each subscriber receives,
 * and turns them into latencies against commit times the parent sends later.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { LiveReadingsDocument } from '../../src/generated/graphql.js';
import { serveChild, wallClock } from './child.js';
import { percentiles, Samples, sleep, type Percentiles } from './stats.js';

export type Transport = 'graphql-ws' | 'raw-ws' | 'sse' | 'raw-sse';

export interface OpenArgs {
  transport: Transport;
  /** graphql-ws / sse: the platform's http://…/graphql; raw-*: the raw server's http://host:port. */
  url: string;
  /** One subscriber per entry: the source ids it asks for, or null for everything. */
  filters: (string[] | null)[];
  /** Connections opened at once. */
  concurrency?: number;
}

export interface Counts {
  subscribers: number;
  /** Subscribers that have received at least one reading since they opened. */
  ready: number;
  /** Readings received (all subscribers) since the last reset; only those in the given cursor ranges, if any. */
  received: number;
  errors: string[];
}

export interface CollectArgs {
  /** Committed cursor ranges (from, to] with their commit time (epoch ms), in cursor order. */
  from: number[];
  to: number[];
  committedAt: number[];
  /** Only readings committed in [windowFrom, windowTo) count. */
  windowFrom: number;
  windowTo: number;
}

export interface Collected {
  latency: Percentiles;
  /** Deliveries of readings committed in the window. */
  delivered: number;
  /** Deliveries since the last reset whose cursor is in no range (e.g. late priming readings). */
  unmatched: number;
  /** Receipts not kept because the sample buffer was full. */
  dropped: number;
  errors: string[];
}

interface Subscriber {
  received: number;
  close(): Promise<void>;
}

interface Wire {
  cursor: string;
}

const subscribers: Subscriber[] = [];
const cursors = new Samples();
const arrivals = new Samples();
const errors: string[] = [];
let errorCount = 0;

function record(subscriber: Subscriber, readings: readonly Wire[] | undefined, at: number) {
  if (!readings) return;
  subscriber.received += readings.length;
  for (const r of readings) {
    cursors.push(Number(r.cursor));
    arrivals.push(at);
  }
}

function fail(what: string) {
  errorCount++;
  if (errors.length < 10) errors.push(what);
}

const QUERY = print(LiveReadingsDocument);

async function openGraphqlWs(url: string, filter: string[] | null): Promise<Subscriber> {
  const subscriber: Subscriber = { received: 0, close: async () => undefined };
  let closing = false;
  const connected = new Promise<void>((resolve, reject) => {
    const client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: () => resolve(),
        closed: (event) => {
          if (!closing) fail(`graphql-ws closed: ${(event as { code?: number; reason?: string }).code} ${(event as { reason?: string }).reason ?? ''}`);
          reject(new Error('graphql-ws connection closed before it was acknowledged'));
        },
      },
    });
    const dispose = client.subscribe(
      { query: QUERY, variables: filter ? { sourceIds: filter } : {} },
      {
        next: (value) => {
          const at = wallClock();
          if (value.errors?.length) fail(`graphql-ws error: ${JSON.stringify(value.errors).slice(0, 300)}`);
          record(subscriber, (value.data as { readings?: Wire[] } | null | undefined)?.readings, at);
        },
        error: (error) => {
          if (!closing) fail(`graphql-ws subscription error: ${JSON.stringify(error).slice(0, 300)}`);
        },
        complete: () => {
          if (!closing) fail('graphql-ws subscription completed by the server');
        },
      },
    );
    subscriber.close = async () => {
      closing = true;
      dispose();
      await client.dispose();
    };
  });
  await connected;
  return subscriber;
}

async function openRawWs(url: string, filter: string[] | null): Promise<Subscriber> {
  const subscriber: Subscriber = { received: 0, close: async () => undefined };
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
  let closing = false;
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('message', (data) => {
    const at = wallClock();
    record(subscriber, (JSON.parse(String(data)) as { readings: Wire[] }).readings, at);
  });
  socket.on('close', () => {
    if (!closing) fail('raw ws closed by the server');
  });
  socket.send(JSON.stringify({ sourceIds: filter }));
  subscriber.close = async () => {
    closing = true;
    if (socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.close();
    await Promise.race([closed, sleep(2_000)]);
    socket.terminate();
  };
  return subscriber;
}

/** GET with Accept: text/event-stream; each `data:` is `{data: {readings}}` (platform) or `{readings}` (raw). */
async function openSse(target: string): Promise<Subscriber> {
  const subscriber: Subscriber = { received: 0, close: async () => undefined };
  let closing = false;
  let req: ClientRequest;
  await new Promise<void>((resolve, reject) => {
    req = httpRequest(target, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`SSE answered ${res.statusCode}`));
        res.resume();
        return;
      }
      resolve();
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = wallClock();
        buffer += chunk;
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          for (const line of block.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const text = line.slice(5).trim();
            if (!text) continue;
            const parsed = JSON.parse(text) as { data?: { readings?: Wire[] }; readings?: Wire[]; errors?: unknown };
            if (parsed.errors) fail(`SSE error: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
            record(subscriber, parsed.data?.readings ?? parsed.readings, at);
          }
        }
      });
      res.on('end', () => {
        if (!closing) fail('SSE stream ended by the server');
      });
      res.on('error', () => undefined);
    });
    req.on('error', (error) => {
      if (!closing) reject(error);
    });
    req.end();
  });
  subscriber.close = async () => {
    closing = true;
    req.destroy();
  };
  return subscriber;
}

function open(transport: Transport, url: string, filter: string[] | null): Promise<Subscriber> {
  switch (transport) {
    case 'graphql-ws':
      return openGraphqlWs(url, filter);
    case 'raw-ws':
      return openRawWs(url, filter);
    case 'sse': {
      const params = new URLSearchParams({ query: QUERY, variables: JSON.stringify(filter ? { sourceIds: filter } : {}) });
      return openSse(`${url}?${params}`);
    }
    case 'raw-sse':
      return openSse(`${url}/sse${filter ? `?sourceIds=${encodeURIComponent(filter.join(','))}` : ''}`);
  }
}

function findRange(from: number[], cursor: number): number {
  let lo = 0;
  let hi = from.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (from[mid]! < cursor) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const handlers = {
  async open({ transport, url, filters, concurrency = 50 }: OpenArgs) {
    for (let i = 0; i < filters.length; i += concurrency) {
      const wave = filters.slice(i, i + concurrency);
      subscribers.push(...(await Promise.all(wave.map((filter) => open(transport, url, filter)))));
    }
    return subscribers.length;
  },
  /** With `from`/`to` (cursor ranges (from, to], sorted), counts only the receipts inside them. */
  counts(args?: { from: number[]; to: number[] }): Counts {
    let received = cursors.length + cursors.dropped;
    if (args) {
      received = 0;
      for (let i = 0; i < cursors.length; i++) {
        const cursor = cursors.at(i);
        const range = findRange(args.from, cursor);
        if (range >= 0 && cursor <= args.to[range]!) received++;
      }
    }
    return {
      subscribers: subscribers.length,
      ready: subscribers.filter((s) => s.received > 0).length,
      received,
      errors: errorCount ? [`${errorCount} errors`, ...errors] : [],
    };
  },
  reset() {
    cursors.clear();
    arrivals.clear();
    return true;
  },
  collect({ from, to, committedAt, windowFrom, windowTo }: CollectArgs): Collected {
    const latencies = new Samples(Math.max(1024, cursors.length));
    let unmatched = 0;
    for (let i = 0; i < cursors.length; i++) {
      const cursor = cursors.at(i);
      const range = findRange(from, cursor);
      if (range < 0 || cursor > to[range]!) {
        unmatched++;
        continue;
      }
      const at = committedAt[range]!;
      if (at < windowFrom || at >= windowTo) continue;
      latencies.push(arrivals.at(i) - at);
    }
    const dropped = cursors.dropped;
    const values = new Float64Array(latencies.length);
    for (let i = 0; i < latencies.length; i++) values[i] = latencies.at(i);
    cursors.clear();
    arrivals.clear();
    return { latency: percentiles(values), delivered: values.length, unmatched, dropped, errors: errorCount ? [`${errorCount} errors`, ...errors] : [] };
  },
  async closeAll() {
    const all = subscribers.splice(0);
    for (let i = 0; i < all.length; i += 200) await Promise.all(all.slice(i, i + 200).map((s) => s.close().catch(() => undefined)));
    cursors.clear();
    arrivals.clear();
    errors.length = 0;
    errorCount = 0;
    return all.length;
  },
};

serveChild(handlers, { pid: process.pid }, async () => {
  await handlers.closeAll();
});
