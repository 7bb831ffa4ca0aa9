import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { createMetrics, useOperationMetrics } from './observability/metrics.js';
import type { z } from 'zod';
import type { Config } from './config.js';
import { openDatabase } from './db/client.js';
import { committedOffset } from './db/offsets.js';
import { readingsAfter, type Reading } from './db/readings.js';
import { startRetention } from './db/retention.js';
import { READINGS_STREAM } from './ingest/ingest-readings.js';
import { TRADES_STREAM } from './ingest/ingest-trades.js';
import { tradesAfter, type Trade } from './db/trades.js';
import { transactionsAfter, type Transaction } from './db/transactions.js';
import type { Db } from './db/client.js';
import { TRANSACTIONS_STREAM } from './ingest/ingest-transactions.js';
import { ALERTS_CHANNEL, AlertService } from './alerts/alert-service.js';
import { startEscalation } from './alerts/escalation.js';
import { RuleRegistry } from './alerts/rule-registry.js';
import { SignalMonitor } from './alerts/signal-monitor.js';
import { SourceRegistry } from './ingest/source-registry.js';
import { StreamPublisher } from './live/publisher.js';
import { ReadingsFeed } from './live/readings-feed.js';
import { StreamTail } from './live/stream-tail.js';
import { readingsCodec, tradesCodec, transactionsCodec, type BatchCodec } from './live/wire.js';
import { OutputFeed } from './live/output-feed.js';
import {
  AlertsMessage,
  ANOMALIES_CHANNEL,
  AnomaliesMessage,
  CANDLES_CHANNEL,
  CandlesMessage,
  FRAUD_CHANNEL,
  FraudMessage,
  NEWS2_CHANNEL,
  News2Message,
  WINDOWS_CHANNEL,
  WindowsMessage,
} from './live/output-wire.js';
import { buildPipelines } from './processors/pipelines.js';
import { createLogger, type Logger } from './log.js';
import { openPubSub } from './pubsub/pubsub.js';
import type { GraphQLContext } from './schema/context.js';
import { schema } from './schema/index.js';
import type { Services } from './services.js';
import { createMaskError } from './transport/mask-error.js';
import { useSseEventIds } from './transport/sse.js';
import { attachWebSocket } from './transport/websocket.js';

export interface Server {
  readonly services: Services;
  /** Starts listening; port 0 picks a free port. Resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** The base URL once listening, e.g. http://127.0.0.1:4000. */
  readonly url: string;
  /** HTTP requests being served now, open SSE streams included. */
  readonly activeRequests: number;
  /** HTTP requests received since start. */
  readonly requestsReceived: number;
  /**
   * Graceful shutdown: refuses new requests (503 SHUTTING_DOWN), completes
   * every subscription, lets in-flight requests finish (up to
   * SHUTDOWN_TIMEOUT), closes sockets with 1001, then pub/sub and database.
   */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/**
 * Builds the whole platform from config: database (PGlite or postgres.js),
 * pub/sub (in-process or Redis), the readings stream tail, yoga over HTTP,
 * SSE and graphql-ws. Nothing listens until `listen()`. Throws, having
 * closed what it opened, when the database or Redis cannot be reached.
 */
export async function createServer(config: Config, options: { log?: Logger } = {}): Promise<Server> {
  const log = options.log ?? createLogger(config.logLevel);
  const database = await openDatabase(config.database, log);
  const closers: (() => Promise<void> | void)[] = [() => database.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch((error: unknown) => log.warn({ err: error }, 'error while closing'));
  };

  try {
    const pubsub = await openPubSub(config.pubsub, log);
    closers.push(() => pubsub.close());
    const retention = await startRetention(database, config.retention, log);
    closers.push(() => retention.stop());

    type AfterQuery = (db: Db, after: bigint, options: { upTo?: bigint; limit: number }) => Promise<unknown[]>;
    const tail = <E extends { cursor: bigint }>(stream: string, after: AfterQuery, codec: BatchCodec<E>) =>
      new StreamTail<E>({
        channel: stream,
        pubsub,
        source: {
          committed: () => committedOffset(database.db, stream),
          after: (from, upTo, limit) => after(database.db, from, { upTo, limit }) as Promise<unknown> as Promise<E[]>,
        },
        decode: codec.decode,
        gapTimeoutMs: config.live.gapTimeoutMs,
        pollIntervalMs: config.live.pollIntervalMs,
        log,
      });
    const readingsTail = tail<Reading>(READINGS_STREAM, readingsAfter, readingsCodec);
    const tradesTail = tail<Trade>(TRADES_STREAM, tradesAfter, tradesCodec);
    const transactionsTail = tail<Transaction>(TRANSACTIONS_STREAM, transactionsAfter, transactionsCodec);
    for (const t of [readingsTail, tradesTail, transactionsTail] as { start(): Promise<void>; stop(): Promise<void> }[]) {
      await t.start();
      closers.push(() => t.stop());
    }

    const feed = <T>(channel: string, schema: z.ZodType<T[]>) =>
      new OutputFeed<T>({ pubsub, channel, schema, noun: channel, subscriberBuffer: config.live.subscriberBuffer, log });
    const outputs = {
      windows: feed(WINDOWS_CHANNEL, WindowsMessage),
      candles: feed(CANDLES_CHANNEL, CandlesMessage),
      anomalies: feed(ANOMALIES_CHANNEL, AnomaliesMessage),
      news2: feed(NEWS2_CHANNEL, News2Message),
      fraud: feed(FRAUD_CHANNEL, FraudMessage),
      alerts: feed(ALERTS_CHANNEL, AlertsMessage),
    };
    for (const f of Object.values(outputs)) {
      await f.start();
      closers.push(() => f.close());
    }

    const publisher = new StreamPublisher(pubsub, log);
    const rules = new RuleRegistry({ db: database.db, pubsub, log, reloadIntervalMs: 5_000 });
    await rules.start();
    closers.push(() => rules.stop());
    const alerts = new AlertService(database.db, publisher, log);
    const signals = new SignalMonitor({ db: database.db, tail: readingsTail, registry: rules, alerts, log, checkIntervalMs: config.alerts.checkIntervalMs });
    await signals.start();
    closers.push(() => signals.stop());
    const escalation = startEscalation({ alerts, afterMs: config.alerts.escalateAfterMs, checkIntervalMs: config.alerts.checkIntervalMs, log });
    closers.push(() => escalation.stop());
    const pipelines = buildPipelines({ config: config.processors, database, publisher, readingsTail, tradesTail, transactionsTail, rules, alerts, log });
    if (config.processors.enabled) {
      // Not awaited: catching up with a long stored stream must not hold back the API (the embedded
      // database runs one query at a time). Each runtime logs its progress and retries on failure.
      for (const runtime of Object.values(pipelines)) {
        runtime.start().catch((error: unknown) => log.error({ pipeline: runtime.name, err: error }, 'processor runtime did not start'));
        closers.push(() => runtime.stop());
      }
    } else {
      log.info('PROCESSORS=off: this node serves the API only; windows, candles and flags come from another node');
    }

    const registry = new SourceRegistry(database.db);
    const services: Services = {
      config,
      log,
      database,
      pubsub,
      registry,
      readingsTail,
      tradesTail,
      transactionsTail,
      rules,
      alerts,
      readingsFeed: new ReadingsFeed(readingsTail, database.db, { subscriberBuffer: config.live.subscriberBuffer, log }),
      outputs,
      pipelines,
      ingest: { database, publisher, registry, log, ...config.ingest },
    };
    return assemble(config, services, closeAll);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function assemble(config: Config, services: Services, closeAll: () => Promise<void>): Server {
  const { log } = services;
  const streamCursors = new WeakMap<Request, GraphQLContext['stream']>();
  const metrics = createMetrics(services);
  services.ingest.observe = metrics.observeIngest;

  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    renderGraphiQL,
    graphiql: { title: 'Vigil: live telemetry API', subscriptionsProtocol: 'WS' },
    maskedErrors: { maskError: createMaskError(log) },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      // yoga reports every GraphQL error here, client mistakes included; real
      // faults are logged with their stack by maskError.
      error: (...args) => log.debug(args.map(String).join(' ')),
    },
    plugins: [useSseEventIds((request) => streamCursors.get(request)?.lastCursor ?? null), useOperationMetrics(metrics)],
    context: (initial): GraphQLContext => {
      const request = initial.request as Request | undefined;
      const req = (initial as { req?: IncomingMessage }).req;
      const stream = { lastCursor: null as string | null };
      if (request) streamCursors.set(request, stream);
      return {
        services,
        caller: callerOf(request?.headers.get('x-client-id') ?? req?.headers['x-client-id'], req),
        lastEventId: request?.headers.get('last-event-id') ?? null,
        stream,
      };
    },
  });

  let draining = false;
  let inFlight = 0;
  let received = 0;
  let drained: (() => void) | undefined;

  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (draining) return refuse(res);
    if (req.url === '/ready') return void ready(services, res);
    if (req.url === '/metrics') return void serveMetrics(metrics.registry, res);
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ status: 'up', uptimeSeconds: Math.round(process.uptime()) }));
    }
    log.debug({ method: req.method, url: req.url?.split('?')[0] }, 'request received');
    inFlight++;
    received++;
    res.on('close', () => {
      if (--inFlight === 0) drained?.();
    });
    void yoga(req, res, {});
  });
  http.keepAliveTimeout = 5_000;
  const ws = attachWebSocket({ server: http, path: GRAPHQL_PATH, yoga: yoga as never, accepting: () => !draining, log });

  let url = '';
  let closing: Promise<void> | undefined;
  return {
    services,
    get url() {
      return url;
    },
    get activeRequests() {
      return inFlight;
    },
    get requestsReceived() {
      return received;
    },
    listen: (port = config.http.port, host = config.http.host) =>
      new Promise<string>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          const address = http.address() as AddressInfo;
          url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
          log.info({ url: `${url}${GRAPHQL_PATH}` }, 'listening: GraphQL, GraphiQL, graphql-ws and SSE');
          resolve(url);
        });
      }),
    close: () =>
      (closing ??= (async () => {
        draining = true;
        log.info({ inFlight, sockets: ws.connections }, 'shutting down: completing subscriptions, finishing in-flight requests');
        services.readingsFeed.close();
        for (const f of Object.values(services.outputs)) void f.close();
        const allDone = (async () => {
          if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
          while (ws.executing > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        })();
        const timedOut = await Promise.race([
          allDone.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), config.http.shutdownTimeoutMs).unref()),
        ]);
        if (timedOut) log.warn({ inFlight }, 'shutdown timeout: closing remaining connections');
        await ws.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await closeAll();
        log.info('shut down');
      })()),
  };
}

function callerOf(clientId: string | string[] | null | undefined, req: IncomingMessage | undefined): string {
  const address = req?.socket.remoteAddress ?? 'unknown';
  const id = Array.isArray(clientId) ? clientId[0] : clientId;
  return id ? `${id.slice(0, 64)}@${address}` : `anonymous@${address}`;
}

function refuse(res: ServerResponse) {
  res.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
  res.end(JSON.stringify({ errors: [{ message: 'the server is shutting down; retry shortly', extensions: { code: 'SHUTTING_DOWN' } }] }));
}

/** 200 when the database and pub/sub answer; 503 with the reason otherwise. */
async function serveMetrics(registry: Registry, res: ServerResponse) {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`metrics unavailable: ${(error as Error).message}`);
  }
}

async function ready(services: Services, res: ServerResponse) {
  const checks = await Promise.allSettled([services.database.ping(), services.pubsub.ping()]);
  const [database, pubsub] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : `unreachable: ${(c.reason as Error).message}`));
  const ok = checks.every((c) => c.status === 'fulfilled');
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ready: ok, database, pubsub }));
}
