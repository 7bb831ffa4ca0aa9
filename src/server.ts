import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { createMetrics, useOperationMetrics } from './observability/metrics.js';
import type { z } from 'zod';
import { ConfigError, type Config } from './config.js';
import { fraudSignalsAfter, lastFraudSeq, type StoredFraudSignal } from './db/fraud.js';
import { checkpointsWithOtherPartitions } from './db/processor-state.js';
import { openDatabase } from './db/client.js';
import { DatabaseClock } from './db/clock.js';
import { databaseWhere, deploymentId } from './db/deployment.js';
import { committedOffset, ConflictAwareInserts } from './db/offsets.js';
import { readingsAfter, type Reading } from './db/readings.js';
import { startRetention } from './db/retention.js';
import { startClaimJanitor } from './ingest/claim-janitor.js';
import { READINGS_STREAM } from './ingest/ingest-readings.js';
import { TRADES_STREAM } from './ingest/ingest-trades.js';
import { tradesAfter, type Trade } from './db/trades.js';
import { transactionsAfter, type Transaction } from './db/transactions.js';
import type { Db } from './db/client.js';
import { TRANSACTIONS_STREAM } from './ingest/ingest-transactions.js';
import { ALERTS_CHANNEL, AlertService, storedAlertEvents } from './alerts/alert-service.js';
import { startEscalation } from './alerts/escalation.js';
import { RuleRegistry } from './alerts/rule-registry.js';
import { SignalMonitor } from './alerts/signal-monitor.js';
import { SourceRegistry } from './ingest/source-registry.js';
import { StreamPublisher } from './live/publisher.js';
import { StreamFeed } from './live/stream-feed.js';
import { ReplaySlots } from './live/replay-slots.js';
import { StreamTail } from './live/stream-tail.js';
import { readingsCodec, tradesCodec, transactionsCodec, type BatchCodec } from './live/wire.js';
import { OutputFeed, type StoredOutputs } from './live/output-feed.js';
import {
  ANOMALIES_CHANNEL,
  AnomaliesMessage,
  CANDLES_CHANNEL,
  CandlesMessage,
  FRAUD_CHANNEL,
  NEWS2_CHANNEL,
  News2Message,
  WINDOWS_CHANNEL,
  WindowsMessage,
} from './live/output-wire.js';
import { buildPipelines } from './processors/pipelines.js';
import { createLogger, outageLog, reasonOf, type Logger } from './log.js';
import { openPubSub, PrefixInUse } from './pubsub/pubsub.js';
import type { GraphQLContext } from './schema/context.js';
import { noteStreamCursor } from './schema/live.js';
import { useGraphqlJsExecute } from './transport/graphql-js-execute.js';
import { schema } from './schema/index.js';
import type { Services } from './services.js';
import { useAccessControl } from './auth/access-control.js';
import { AuditTrail } from './auth/audit-trail.js';
import { Authenticator, KeyGuessingError, presentedKey } from './auth/authenticator.js';
import { OpenConnections } from './auth/connections.js';
import type { Principal } from './auth/principal.js';
import { memoryCounter, RateLimiter } from './auth/rate-limit.js';
import { TenantScope } from './auth/tenant-scope.js';
import { AppError, TooManyConnectionsError } from './errors.js';
import { serveDashboard } from './transport/dashboard.js';
import { CACHED_DOCUMENT_LENGTH, documentCache } from './transport/document-cache.js';
import { GRAPHIQL_EXAMPLE } from './transport/graphiql-example.js';
import { requestIdOf } from './transport/request-id.js';
import { createMaskError, useCardNumbersMaskedInValidation, useRequestIdOnErrors, UNEXPECTED_ERROR } from './transport/mask-error.js';
import { useNotAcceptableExplained } from './transport/not-acceptable.js';
import { useQueryLimits } from './transport/query-limits.js';
import { endStreamWithError, useSseEventIds } from './transport/sse.js';
import { useUtf8Bodies } from './transport/utf8-body.js';
import { useSharedSubscriptionEvents } from './transport/shared-events.js';
import { attachWebSocket } from './transport/websocket.js';
import { browserRefusal, type BrowserGuard } from './transport/browser-guard.js';

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
   * Graceful shutdown: refuses new requests (503 SHUTTING_DOWN), lets
   * in-flight requests finish (up to SHUTDOWN_TIMEOUT) while subscriptions
   * go on delivering, closes sockets with 1001 and SSE streams without
   * completing their subscriptions (clients reconnect and resubscribe), then
   * pub/sub and database.
   */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/** How long ingest waits for the cursors before its batch to become visible (see `visible` below). */
const VISIBLE_WAIT_MS = 5_000;

/**
 * Builds the whole platform from config: database (PGlite or postgres.js),
 * pub/sub (in-process or Redis), the readings stream tail, yoga over HTTP,
 * SSE and graphql-ws. Nothing listens until `listen()`. Throws, having
 * closed what it opened, when the database or Redis cannot be reached.
 */
/** How often a node measures its clock against the database's (db/clock.ts). */
const CLOCK_SYNC_INTERVAL_MS = 60_000;

export async function createServer(config: Config, options: { log?: Logger } = {}): Promise<Server> {
  const log = options.log ?? createLogger(config.logLevel, { pretty: config.logPretty });
  // Before the database: a missing or mismatched file is reported at once, not after the embedded one opens and migrates.
  const tlsFiles = config.http.tls ? readTls(config.http.tls) : undefined;
  const database = await openDatabase(config.database, log);
  const closers: (() => Promise<void> | void)[] = [() => database.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch((error: unknown) => log.warn({ err: error }, 'error while closing'));
  };

  try {
    const pubsub = await openPubSub(config.pubsub, log);
    closers.push(() => pubsub.close());
    await pubsub.claim({ id: await deploymentId(database.db), database: databaseWhere(config.database), host: hostname() });
    const retention = await startRetention(database, config.retention, log);
    closers.push(() => retention.stop());
    const claims = startClaimJanitor(database, log, { parallel: config.ingest.parallel });
    closers.push(() => claims.stop());
    const clock = new DatabaseClock(database.db, log);
    await clock.start(CLOCK_SYNC_INTERVAL_MS);
    closers.push(() => clock.stop());

    const publisher = new StreamPublisher(pubsub, log);
    closers.push(() => publisher.stop());
    type AfterQuery = (db: Db, after: bigint, options: { upTo?: bigint; limit: number }) => Promise<unknown[]>;
    const tail = <E extends { cursor: bigint }>(stream: string, after: AfterQuery, codec: BatchCodec<E>) => {
      const made = new StreamTail<E>({
        channel: stream,
        pubsub,
        source: {
          committed: () => committedOffset(database.db, stream),
          after: (from, upTo, limit) => after(database.db, from, { upTo, limit }) as Promise<unknown> as Promise<E[]>,
        },
        decode: codec.decode,
        ownPrefix: publisher.ownPrefix,
        gapTimeoutMs: config.live.gapTimeoutMs,
        pollIntervalMs: config.live.pollIntervalMs,
        log,
      });
      publisher.deliverLocally<E>(stream, (batch) => made.accept(batch));
      return made;
    };
    const readingsTail = tail<Reading>(READINGS_STREAM, readingsAfter, readingsCodec);
    const tradesTail = tail<Trade>(TRADES_STREAM, tradesAfter, tradesCodec);
    const transactionsTail = tail<Transaction>(TRANSACTIONS_STREAM, transactionsAfter, transactionsCodec);
    for (const t of [readingsTail, tradesTail, transactionsTail] as { start(): Promise<void>; stop(): Promise<void> }[]) {
      await t.start();
      closers.push(() => t.stop());
    }
    const tails = new Map<string, { reached(cursor: bigint, timeoutMs: number): Promise<boolean> }>([
      [READINGS_STREAM, readingsTail],
      [TRADES_STREAM, tradesTail],
      [TRANSACTIONS_STREAM, transactionsTail],
    ]);
    // With PARALLEL_INGEST, earlier batches of the stream may still be committing (db/offsets.ts). A writer
    // that died is abandoned within a sweep and two polls (about 3 s); one cut off with its backend alive, at
    // 30 s. After this bound the answer goes out anyway, its lastCursor then briefly ahead of the stream.
    // Without PARALLEL_INGEST on every node, a batch commits after every cursor before it: nothing to wait for.
    const visible = async (stream: string, cursor: bigint) => {
      if (!(await tails.get(stream)?.reached(cursor, VISIBLE_WAIT_MS))) {
        log.warn({ stream, cursor: cursor.toString(), waitedMs: VISIBLE_WAIT_MS }, 'batch stored, but earlier cursors of its stream are still not visible; answering anyway');
      }
    };

    const registry = new SourceRegistry(database.db);
    const replays = new ReplaySlots(config.limits.replays);
    // Tenant-wide subscriptions filter outputs by their source's owner: learn owners this node has not seen first.
    // Outputs with a schema are passed on as published; stored ones are read from the database, in commit order.
    const feed = <T>(channel: string, source: { schema: z.ZodType<T[]> } | { stored: StoredOutputs<T> }, sourceOf?: (item: T) => string) =>
      new OutputFeed<T>({
        pubsub,
        channel,
        ...source,
        noun: channel,
        subscriberBuffer: config.live.subscriberBuffer,
        log,
        learn: sourceOf && ((items) => registry.learn(items.map(sourceOf))),
        pollIntervalMs: config.live.pollIntervalMs,
        replays,
      });
    const outputs = {
      windows: feed(WINDOWS_CHANNEL, { schema: WindowsMessage }, (w) => w.sourceId),
      candles: feed(CANDLES_CHANNEL, { schema: CandlesMessage }, (c) => c.symbol),
      anomalies: feed(ANOMALIES_CHANNEL, { schema: AnomaliesMessage }, (a) => a.sourceId),
      news2: feed(NEWS2_CHANNEL, { schema: News2Message }, (n) => n.sourceId),
      fraud: feed<StoredFraudSignal>(FRAUD_CHANNEL, {
        stored: {
          cursorOf: (signal) => BigInt(signal.seq),
          read: (after, upTo, limit, tenantId) => fraudSignalsAfter(database.db, after, upTo, limit, tenantId),
          last: () => lastFraudSeq(database.db),
        },
      }),
      alerts: feed(ALERTS_CHANNEL, { stored: storedAlertEvents(database.db) }, (e) => e.alert.sourceId),
    };
    for (const f of Object.values(outputs)) {
      await f.start();
      closers.push(() => f.close());
    }

    const rules = new RuleRegistry({ db: database.db, pubsub, log, reloadIntervalMs: 5_000 });
    await rules.start();
    closers.push(() => rules.stop());
    const alerts = new AlertService(database.db, publisher, log);
    const signals = new SignalMonitor({ db: database.db, tail: readingsTail, registry: rules, alerts, log, checkIntervalMs: config.alerts.checkIntervalMs, clock });
    await signals.start();
    closers.push(() => signals.stop());
    const escalation = startEscalation({ alerts, afterMs: config.alerts.escalateAfterMs, checkIntervalMs: config.alerts.checkIntervalMs, log });
    closers.push(() => escalation.stop());
    const pipelines = buildPipelines({ config: config.processors, database, publisher, readingsTail, tradesTail, transactionsTail, rules, alerts, log });
    if (config.processors.enabled) {
      // A runtime refuses a checkpoint of another partition count, then retries for ever while /ready says ready.
      const mismatched = await checkpointsWithOtherPartitions(database.db, config.processors.partitions);
      if (mismatched.length > 0) {
        const found = mismatched.map((m) => `${m.pipeline} (${m.partitions})`).join(', ');
        throw new ConfigError(
          `invalid configuration:\nPROCESSOR_PARTITIONS is ${config.processors.partitions}, but these pipelines were checkpointed with another count: ${found}. Set it back, or delete their processor_checkpoints and processor_series_states rows to rebuild them from the stored streams`,
        );
      }
      // Not awaited: catching up with a long stored stream must not hold back the API (the embedded
      // database runs one query at a time). Each runtime logs its progress and retries on failure.
      for (const runtime of Object.values(pipelines)) {
        runtime.start().catch((error: unknown) => log.error({ pipeline: runtime.name, err: error }, 'processor runtime did not start'));
        closers.push(() => runtime.stop());
      }
    } else {
      log.info('PROCESSORS=off: this node serves the API only; windows, candles and flags come from another node');
    }

    const authenticator = new Authenticator({ db: database.db, required: config.auth.required, log });
    const connections = new OpenConnections({ db: database.db, log, checkIntervalMs: config.auth.keyCheckIntervalMs, perKey: config.limits.connectionsPerKey });
    connections.start();
    closers.push(() => connections.stop());
    const audit = new AuditTrail({ db: database.db, log, flushIntervalMs: 1_000, maxBuffered: 100_000 });
    audit.start();
    closers.push(() => audit.stop());
    const limiter = new RateLimiter({ ...config.limits.rate, counter: pubsub.countInWindow, fallback: memoryCounter(), log });
    if (!config.auth.required) {
      log.warn(
        'AUTH is off: every caller is an admin of the default tenant with no API key. Fine on your own machine; set AUTH=on (the default whenever DATABASE_URL is set) anywhere else',
      );
    }
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
      readingsFeed: new StreamFeed<Reading>(
        readingsTail,
        {
          noun: 'readings',
          sourceOf: (r) => r.sourceId,
          metricOf: (r) => r.metric,
          read: (after, upTo, limit, { tenantId, sourceIds, metrics }) => readingsAfter(database.db, after, { upTo, limit, filter: { tenantId, sourceIds, metrics } }),
        },
        { subscriberBuffer: config.live.subscriberBuffer, log, replays },
      ),
      tradesFeed: new StreamFeed<Trade>(
        tradesTail,
        {
          noun: 'trades',
          sourceOf: (t) => t.symbol,
          read: (after, upTo, limit, { tenantId, sourceIds }) => tradesAfter(database.db, after, { upTo, limit, filter: { tenantId, symbols: sourceIds } }),
        },
        { subscriberBuffer: config.live.subscriberBuffer, log, replays },
      ),
      replays,
      outputs,
      pipelines,
      claims,
      ingest: { database, publisher, registry, log, clock, visible: config.ingest.parallel ? visible : undefined, inserts: new ConflictAwareInserts(), ...config.ingest },
      auth: { authenticator, connections, audit, limiter },
    };
    return assemble(config, services, closeAll, tlsFiles);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function assemble(config: Config, services: Services, closeAll: () => Promise<void>, tls: ReturnType<typeof readTls> | undefined): Server {
  const { log } = services;
  const streamCursors = new WeakMap<Request, GraphQLContext['stream']>();
  const principals = new WeakMap<IncomingMessage, Principal>();
  const requestIds = new WeakMap<IncomingMessage, string>();
  const { authenticator, connections } = services.auth;
  const metrics = createMetrics(services);
  services.ingest.observe = metrics.observeIngest;

  const maskError = createMaskError(log);
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Same-origin only: no other web page may read answers from this server through a visitor's browser.
    cors: false,
    renderGraphiQL: renderedOnce(renderGraphiQL),
    // Subscriptions over SSE: a request that carries the Headers tab's key. Over graphql-ws GraphiQL put no key in
    // connection_init, and a browser sets no header on a WebSocket, so on a server with keys they were refused.
    graphiql: config.http.graphiql ? { title: 'Vigil: live telemetry API', subscriptionsProtocol: 'SSE', defaultQuery: GRAPHIQL_EXAMPLE } : false,
    maskedErrors: { maskError, errorMessage: UNEXPECTED_ERROR },
    parserAndValidationCache: { documentCache: documentCache(CACHED_DOCUMENT_LENGTH), errorCache: documentCache(CACHED_DOCUMENT_LENGTH) },
    logging: {
      debug: (...args) => log.debug(yogaLine(args)),
      info: (...args) => log.info(yogaLine(args)),
      warn: (...args) => log.warn(yogaLine(args)),
      // yoga reports every GraphQL error here, client mistakes included; real
      // faults are logged with their stack by maskError. A client mistake's
      // message quotes what it sent (graphql-js: 'Found: { …, value: 187.25 }'),
      // so only its kind is logged.
      error: (...args) => log.debug({ errors: args.map(errorKind) }, 'graphql error answered'),
    },
    plugins: [
      useGraphqlJsExecute(),
      useRequestIdOnErrors(),
      // Before the plugins that refuse operations, so their refusals count as errors.
      useOperationMetrics(metrics),
      useQueryLimits(config.limits.query),
      useCardNumbersMaskedInValidation(),
      useAccessControl({ limiter: services.auth.limiter, audit: services.auth.audit }),
      useSseEventIds((request) => streamCursors.get(request)?.lastCursor ?? null, {
        opened: (res) => {
          // A client that left while its subscription was being set up: its close has been heard already.
          if (res.closed || streams.has(res)) return undefined;
          // Counted against MAX_CONNECTIONS_PER_KEY, and watched for its key, whatever Accept made it a stream
          // (text/event-stream, `*/*` or none, as curl and fetch send): a stream of a revoked or expired key is ended
          // within KEY_CHECK_INTERVAL.
          const principal = principals.get(res.req);
          if (principal) {
            try {
              res.on('close', connections.add(principal, 'sse', (_code, reason) => endStreamWithError(res, `${reason}: this subscription has ended, and the key is refused from now on`, 'UNAUTHENTICATED')));
            } catch (error) {
              if (error instanceof TooManyConnectionsError) return error;
              throw error;
            }
          }
          streams.add(res);
          streamsOpen++;
          return undefined;
        },
        interrupted: () => draining,
      }),
      // Last of ours: it subscribes graphql-ws operations itself, masking as yoga does (shared-events.ts).
      useSharedSubscriptionEvents({ onEvent: noteStreamCursor, maskError: (error) => maskError(error, UNEXPECTED_ERROR) }),
      // After yoga's own result processors (they come first): explains the 406 when none fits.
      useNotAcceptableExplained(),
      useUtf8Bodies(),
    ],
    context: (initial): GraphQLContext => {
      const request = initial.request as Request | undefined;
      const req = (initial as { req?: IncomingMessage }).req;
      // graphql-ws passes the socket's principal; HTTP requests were authenticated before reaching yoga.
      const principal = (initial as { principal?: Principal }).principal ?? (req && principals.get(req));
      if (!principal) throw new Error('request reached GraphQL without being authenticated');
      const requestId = (initial as { requestId?: string }).requestId ?? (req && requestIds.get(req)) ?? randomUUID();
      // Only an HTTP response (SSE) sends the cursor as an event id; a graphql-ws operation has no use for it.
      let stream: GraphQLContext['stream'];
      if (request) streamCursors.set(request, (stream = { lastCursor: null }));
      return {
        services,
        principal,
        scope: new TenantScope(principal, services.registry),
        requestId,
        // An EventSource whose last event had an empty id sends none; a proxy may pass an empty header on.
        lastEventId: request?.headers.get('last-event-id') || null,
        stream,
      };
    },
  });

  const authOutage = outageLog(log, 'checking API keys');
  const guard: BrowserGuard = { origins: config.http.allowedOrigins, hosts: config.http.allowedHosts, keysRequired: config.auth.required };
  let draining = false;
  /** HTTP requests being served, SSE streams (`streamsOpen`) among them. */
  let inFlight = 0;
  let streamsOpen = 0;
  const streams = new WeakSet<ServerResponse>();
  let received = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (draining) return isEventSource(req) ? void req.socket.destroy() : refuse(res);
    const path = req.url?.split('?')[0];
    if (path === '/ready') return void ready(services, res);
    if (path === '/metrics') return void serveMetrics(metrics.registry, res);
    if (path === '/health') {
      // The embedded database's thread died: nothing but a restart brings it back, so liveness fails.
      const { reason } = services.database.failure;
      res.writeHead(reason ? 503 : 200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(reason ? { status: 'down', reason: `the embedded database stopped (${reason}); restart the server` } : { status: 'up', uptimeSeconds: Math.round(process.uptime()) }));
    }
    const refused = browserRefusal(req, guard, false);
    if (refused) return void reject(res, 403, refused.code, refused.message);
    // The dashboard's static files (GET/HEAD outside /graphql and the paths above); its data needs a key like any client.
    if (serveDashboard(req, res)) return;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > config.limits.maxBodyBytes) {
      return void reject(res, 413, 'PAYLOAD_TOO_LARGE', `the request body of ${declared} bytes exceeds MAX_BODY_BYTES (${config.limits.maxBodyBytes}); send smaller batches`);
    }
    if (req.method === 'POST' && req.headers['content-length'] === undefined) {
      return void reject(res, 411, 'LENGTH_REQUIRED', 'POST requests need a Content-Length header');
    }
    // JSON only: a browser sends form and multipart posts cross-site without a preflight, so accepting them
    // would let any web page run mutations against an open local server (CSRF).
    if (req.method === 'POST' && !/^application\/(graphql-response\+)?json\b/i.test(req.headers['content-type'] ?? '')) {
      return void reject(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'POST bodies must be JSON: send Content-Type: application/json');
    }
    // Bodies are read as UTF-8: one in another charset would be stored with its accented letters replaced.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (req.method === 'POST' && charset !== undefined && !/^utf-?8$/i.test(charset)) {
      return void reject(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(charset)} is not supported: send the body as UTF-8`);
    }
    // yoga parses a GET's variables and extensions with a bare JSON.parse: a client's typo would be a server fault.
    const malformed = req.method === 'GET' ? malformedSearchParam(req.url ?? '/') : undefined;
    if (malformed) return void reject(res, 400, 'BAD_REQUEST', malformed);
    // A compressed body would otherwise be read as text and fail as "invalid JSON", which names the wrong problem.
    const encoding = req.headers['content-encoding'];
    if (req.method === 'POST' && encoding !== undefined && !/^\s*identity\s*$/i.test(encoding)) {
      return void reject(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(encoding)} is not supported: send the body uncompressed`);
    }
    const requestId = requestIdOf(req.headers['x-request-id']);
    requestIds.set(req, requestId);
    res.setHeader('x-request-id', requestId);
    // An answer holds a tenant's data (a patient's vitals, a key's secret): no cache, a proxy's or the browser's,
    // keeps it. A GET with its key in X-API-Key was stored by any shared cache (RFC 9111 spares only Authorization).
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    // GraphiQL (any GET accepting HTML) runs the operation in its URL at a click: no page elsewhere may frame it
    // and steer that click (on an open server, any mutation as admin).
    res.setHeader('content-security-policy', "frame-ancestors 'none'");
    res.setHeader('x-frame-options', 'DENY');
    log.debug({ method: req.method, url: req.url?.split('?')[0], requestId }, 'request received');
    inFlight++;
    received++;
    res.on('close', () => {
      inFlight--;
      if (streams.has(res)) streamsOpen--;
    });
    // GraphiQL's page itself carries no data; everything else needs a principal.
    const wantsPage = req.method === 'GET' && req.headers.accept?.includes('text/html') && !new URL(req.url ?? '/', 'http://host').searchParams.has('query');
    if (!wantsPage) {
      try {
        const clientId = req.headers['x-client-id'];
        const principal = await authenticator.authenticate(
          presentedKey({ authorization: req.headers.authorization, 'x-api-key': req.headers['x-api-key'] }),
          req.socket.remoteAddress ?? 'unknown',
          Array.isArray(clientId) ? clientId[0] : clientId,
        );
        principals.set(req, principal);
        authOutage.succeeded();
      } catch (error) {
        if (error instanceof KeyGuessingError) return void reject(res, 429, error.code, error.message, error.headers);
        if (error instanceof AppError) return void reject(res, 401, error.code, error.message, { 'www-authenticate': 'Bearer realm="vigil"' });
        // The database is down (or worse): every request with a key meets it, so one line per outage, not per request.
        authOutage.failed(error);
        return void reject(res, 503, 'UNAVAILABLE', 'cannot check the API key right now; retry shortly', { 'retry-after': '1' });
      }
    }
    await yoga(req, res, {});
  };
  // A client that declares a body and never sends it is answered 408 and cut after requestTimeoutMs.
  const timeouts = {
    requestTimeout: config.http.requestTimeoutMs,
    headersTimeout: Math.min(config.http.requestTimeoutMs, 10_000),
    connectionsCheckingInterval: Math.min(config.http.requestTimeoutMs, 1_000),
  };
  const http: HttpServer = tls
    ? (createHttpsServer({ ...timeouts, ...tls }, (req, res) => void handle(req, res)) as unknown as HttpServer)
    : createHttpServer(timeouts, (req, res) => void handle(req, res));
  http.keepAliveTimeout = 5_000;
  const ws = attachWebSocket({
    server: http,
    path: GRAPHQL_PATH,
    refusal: (req) => browserRefusal(req, guard, true),
    yoga: yoga as never,
    accepting: () => !draining,
    // The key from connection_init, else from the upgrade request's headers (clients that can set them).
    authenticate: (params, req) =>
      authenticator.authenticate(
        presentedKey(params ?? {}) ?? presentedKey({ authorization: req.headers.authorization, 'x-api-key': req.headers['x-api-key'] }),
        req.socket.remoteAddress ?? 'unknown',
      ),
    connections,
    maxPayloadBytes: config.limits.maxBodyBytes,
    subscriptionsPerConnection: config.limits.subscriptionsPerConnection,
    log,
  });

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
        http.once('error', (error: NodeJS.ErrnoException) => reject(new Error(listenFailure(error, port, host), { cause: error })));
        http.listen(port, host, () => {
          const address = http.address() as AddressInfo;
          url = `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
          log.info(
            { url: `${url}${GRAPHQL_PATH}`, dashboard: `${url}/`, tls: Boolean(tls), auth: config.auth.required ? 'API keys required' : 'open' },
            'listening: GraphQL, GraphiQL, graphql-ws and SSE; the dashboard at /',
          );
          resolve(url);
        });
      }),
    close: () =>
      (closing ??= (async () => {
        draining = true;
        const working = () => inFlight - streamsOpen + ws.executing;
        log.info({ inFlight: working(), streams: streamsOpen, sockets: ws.connections }, 'shutting down: finishing in-flight requests, then closing live connections');
        // Subscriptions go on delivering meanwhile.
        const allDone = (async () => {
          while (working() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        })();
        const timedOut = await Promise.race([
          allDone.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), config.http.shutdownTimeoutMs).unref()),
        ]);
        if (timedOut) log.warn({ inFlight: working() }, 'shutdown timeout: closing remaining connections');
        // Subscriptions are cut, never completed: `complete` tells a client an operation is over for good, so
        // graphql-ws clients would not resubscribe, nor EventSource reconnect. Sockets close with 1001 first, then
        // the feeds end what is left (SSE streams, which end without `complete` while draining).
        await ws.close();
        services.readingsFeed.close();
        services.tradesFeed.close();
        for (const f of Object.values(services.outputs)) void f.close();
        // Their ends written before the connections are cut, which a client would read as a broken stream.
        const streamsEnd = Date.now() + 1_000;
        while (streamsOpen > 0 && Date.now() < streamsEnd) await new Promise((resolve) => setTimeout(resolve, 10));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await closeAll();
        log.info('shut down');
      })()),
  };
}

/**
 * Why the server could not listen, naming the setting to change: node's own words ("listen EADDRNOTAVAIL: address
 * not available 1.2.3.4:4000", "getaddrinfo ENOTFOUND nohost") name neither.
 */
export function listenFailure(error: NodeJS.ErrnoException, port: number, host: string): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use by another process: choose another with PORT (or HOST)`;
    case 'EACCES':
      return `port ${port} on ${host} needs privileges this process lacks: choose another with PORT (or HOST)`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine (${error.message}): set HOST to one of its addresses, or 0.0.0.0 for all`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `HOST ${host} does not resolve to an address (${error.message}): set HOST to an address of this machine, or 0.0.0.0 for all`;
    default:
      return `cannot listen on port ${port} of ${host} (PORT, HOST): ${error.message}`;
  }
}

function reject(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  // Closing means an unread body (a 10 MB one, say) is not drained over a kept-alive connection.
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/**
 * The certificate and key, checked as a pair: OpenSSL's own words ("key values mismatch", "no start line") name
 * neither the file nor the setting.
 */
function readTls({ certFile, keyFile }: { certFile: string; keyFile: string }) {
  const files = `TLS_CERT_FILE (${certFile}) and TLS_KEY_FILE (${keyFile})`;
  try {
    const pair = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    createSecureContext(pair);
    return pair;
  } catch (error) {
    throw new Error(`cannot serve HTTPS with ${files}: ${reasonOf(error)}; they must be a PEM certificate and its own private key`, { cause: error });
  }
}

/** What is wrong with a GET's `variables` or `extensions` parameter, if either is not JSON. */
function malformedSearchParam(url: string): string | undefined {
  const params = new URL(url, 'http://host').searchParams;
  for (const name of ['variables', 'extensions']) {
    const value = params.get(name);
    if (!value) continue;
    try {
      JSON.parse(value);
    } catch (error) {
      return `${name} is not valid JSON: ${(error as Error).message}`;
    }
  }
  return undefined;
}

/**
 * What an EventSource sends. It takes any answer but a 200 stream as final and never reconnects, while a dropped
 * connection it retries after its reconnection time (by which the node has gone and another, or this one restarted,
 * answers): so while draining it is dropped, not answered 503.
 */
function isEventSource(req: IncomingMessage): boolean {
  return req.method === 'GET' && Boolean(req.headers.accept?.includes('text/event-stream'));
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
  const [database, pubsub] = checks.map((c) =>
    c.status === 'fulfilled' ? 'ok' : c.reason instanceof PrefixInUse ? c.reason.message : `unreachable: ${(c.reason as Error).message}`,
  );
  const ok = checks.every((c) => c.status === 'fulfilled');
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ready: ok, database, pubsub }));
}

/**
 * GraphiQL's page, rendered once per set of options (the server's are fixed) and kept as bytes. It is ~9 MB, its
 * editor and workers inlined, and yoga rendered and encoded it again for every GET that accepts HTML, which needs no
 * key: 60 such requests at once held the event loop for up to 6.8 s, every live delivery with it.
 */
function renderedOnce<O>(render: (options: O) => string): (options: O) => Uint8Array<ArrayBuffer> {
  const pages = new Map<string, Uint8Array<ArrayBuffer>>();
  return (options) => {
    const key = JSON.stringify(options);
    let page = pages.get(key);
    if (!page) pages.set(key, (page = new TextEncoder().encode(render(options))));
    return page;
  };
}

/** A line of graphql-yoga's own: an error by its reason, since a failed statement's message holds its values. */
function yogaLine(args: unknown[]): string {
  return args.map((arg) => (arg instanceof Error ? reasonOf(arg) : String(arg))).join(' ');
}

/** What may be logged of an error a client's request met: its type and code, never its message. */
function errorKind(error: unknown): { type: string; code?: unknown } {
  if (!(error instanceof Error)) return { type: typeof error };
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  return code === undefined ? { type: error.name } : { type: error.name, code };
}
