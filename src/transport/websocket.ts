import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Refusal } from './browser-guard.js';
import { KeyGuessingError } from '../auth/authenticator.js';
import type { OpenConnections } from '../auth/connections.js';
import type { Principal } from '../auth/principal.js';
import { AppError, TooManyConnectionsError } from '../errors.js';
import { outageLog, type Logger } from '../log.js';
import { requestIdOf } from './request-id.js';
import type { DirectNext } from './shared-events.js';
import { watchSockets } from './socket-timers.js';

/** Close code sent to graphql-ws clients when the server shuts down (RFC 6455 "going away"). */
export const GOING_AWAY = 1001;
/** Close code for a connection_init without a valid API key (graphql-ws's "Forbidden"); the reason says why. */
export const KEY_REFUSED = 4403;
/** Closes that say "come back": graphql-ws clients (the dashboard's too) retry them; 4403 means the key, for good. */
export const SERVICE_RESTART = 1012;
/**
 * Close code for a connection beyond MAX_CONNECTIONS_PER_KEY (graphql-ws's "Too many requests", which its client
 * takes as final and does not retry: a client that retried at once would hammer the node); the reason says which
 * limit, its setting and the count.
 */
export const TOO_MANY_CONNECTIONS = 4429;
export const TRY_AGAIN_LATER = 1013;
// graphql-ws's defaults: a ping every 12 s (one unanswered by the next cuts the socket), 3 s to send connection_init.
const KEEP_ALIVE_MS = 12_000;
const INIT_WAIT_MS = 3_000;
/**
 * Longest operation id a client may choose (graphql-ws's own are UUIDs, 36 characters). graphql-ws keeps an id, and
 * the messages built with it, for the operation's life: a read key's 50 subscriptions with ids of 3.9 MB held
 * ~600 MB per socket.
 */
export const MAX_OPERATION_ID = 256;
/** graphql-ws's close code for a message it cannot take ("Invalid message received" and the like). */
const BAD_REQUEST = 4400;

/**
 * One copy of each operation text: graphql-ws keeps each subscribe message's payload (its own parsed
 * copy of the query, ~250 B) for the operation's life, and most subscribers send the same few queries.
 * Bounded by count and length; when full it starts again.
 */
const queryTexts = new Map<string, string>();
function sharedQueryText(query: string): string {
  if (query.length > 4_096) return query;
  const known = queryTexts.get(query);
  if (known !== undefined) return known;
  if (queryTexts.size >= 1_000) queryTexts.clear();
  queryTexts.set(query, query);
  return query;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * graphql-ws (graphql-transport-ws protocol) on the HTTP server's port and
 * path, executing through yoga's envelop so masking, context and plugins
 * are the same as over HTTP and SSE. While `accepting()` is false (shutdown)
 * new connections are closed with 1012 (Service Restart), which clients retry.
 */
export function attachWebSocket(options: {
  server: HttpServer;
  path: string;
  /** Why an upgrade request is refused (403, before any WebSocket exists), or null to take it. */
  refusal: (req: IncomingMessage) => Refusal | null;
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  accepting: () => boolean;
  /** The principal of a connection from its connection_init payload and upgrade request; throws AppError to refuse it. */
  authenticate: (params: Record<string, unknown> | undefined, req: IncomingMessage) => Promise<Principal>;
  /** Where sockets are tracked so a revoked or expired key closes them. */
  connections: OpenConnections;
  /** Largest message a client may send; bigger ones close the socket with 1009. */
  maxPayloadBytes: number;
  /** Operations one socket may run at once; the next is refused with TOO_MANY_SUBSCRIPTIONS. */
  subscriptionsPerConnection: number;
  log: Logger;
}) {
  // Upgrades are routed here, not through ws's `server` option: that one also re-emits the HTTP server's own
  // errors (a port in use) on this server, where graphql-ws prints them to stderr as a fault of its own.
  const wss = new WebSocketServer({ noServer: true, path: options.path, maxPayload: options.maxPayloadBytes });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = options.refusal(req);
    if (refused === null) return wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    const body = JSON.stringify({ errors: [{ message: refused.message, extensions: { code: refused.code } }] });
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };
  options.server.on('upgrade', onUpgrade);
  // By graphql-ws's per-socket `extra`: who the socket authenticated as, its short id for request ids, and
  // how it leaves the connections watched for revoked keys.
  const sockets = new WeakMap<object, { principal: Principal; id: string; untrack: () => void }>();
  let executing = 0;
  const authOutage = outageLog(options.log, 'checking the API keys of graphql-ws connections');
  const timers = watchSockets(wss, { pingEveryMs: KEEP_ALIVE_MS, initWaitMs: INIT_WAIT_MS });
  const disposable = useServer(
    {
      // Both per-socket timers are watchSockets's, which holds none for a socket's life.
      connectionInitWaitTimeout: 0,
      // Queries and mutations are counted so shutdown can let them finish, as it does for HTTP.
      execute: async (args) => {
        executing++;
        try {
          return (await (args.rootValue as EnvelopedRoot).execute(args)) as never;
        } finally {
          executing--;
        }
      },
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        timers.initialised(socket);
        if (!options.accepting()) {
          // graphql-ws would close with 4403 Forbidden, which clients take as a refused key and never retry.
          socket.close(SERVICE_RESTART, 'the server is shutting down; reconnect shortly');
          return false;
        }
        // The upgrade request (its headers, raw headers, socket ties) is needed only to authenticate: not kept for the socket's life.
        (ctx.extra as { request?: IncomingMessage }).request = undefined;
        try {
          const principal = await options.authenticate(ctx.connectionParams as Record<string, unknown> | undefined, request);
          authOutage.succeeded();
          // A socket that closed while its key was checked has had its onClose: it must not be tracked now.
          if (socket.readyState !== socket.OPEN) return false;
          // Throws TooManyConnectionsError beyond MAX_CONNECTIONS_PER_KEY: this socket is refused, the others go on.
          const untrack = options.connections.add(principal, 'websocket', (code, reason) => socket.close(code, reason));
          sockets.set(ctx.extra, { principal, id: randomUUID().slice(0, 8), untrack });
          return true;
        } catch (error) {
          // The database is down: every connecting socket meets it, so one line per outage.
          if (!(error instanceof AppError)) authOutage.failed(error);
          // A key refused is for good; a key that cannot be checked now (the database is down) is worth retrying.
          // Throttled (too many unknown keys from its address): refused without a lookup, and worth retrying later.
          if (error instanceof TooManyConnectionsError) socket.close(TOO_MANY_CONNECTIONS, error.message.slice(0, 123));
          else if (error instanceof KeyGuessingError) socket.close(TRY_AGAIN_LATER, error.message.slice(0, 120));
          else if (error instanceof AppError) socket.close(KEY_REFUSED, error.message.slice(0, 120));
          else socket.close(TRY_AGAIN_LATER, 'cannot check the API key right now; reconnect shortly');
          return false;
        }
      },
      // Untracked here rather than by a close listener per socket.
      onClose: (ctx) => sockets.get(ctx.extra)?.untrack(),
      onSubscribe: async (ctx, id, params) => {
        if (!options.accepting()) return [new GraphQLError('the server is shutting down; retry on another node or shortly', { extensions: { code: 'SHUTTING_DOWN' } })];
        // Closed rather than answered (an answer would carry the id back): graphql-ws sends nothing on a closed socket.
        if (id.length > MAX_OPERATION_ID) {
          const refusal = `operation ids may be at most ${MAX_OPERATION_ID} characters`;
          ctx.extra.socket.close(BAD_REQUEST, refusal);
          return [new GraphQLError(refusal, { extensions: { code: 'BAD_REQUEST' } })];
        }
        // graphql-ws has already registered this operation by the time onSubscribe runs.
        if (Object.keys(ctx.subscriptions).length > options.subscriptionsPerConnection) {
          return [
            new GraphQLError(`at most ${options.subscriptionsPerConnection} operations may run on one connection; complete one first or open another connection`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: options.subscriptionsPerConnection },
            }),
          ];
        }
        if (typeof params.query === 'string') (params as { query: string }).query = sharedQueryText(params.query);
        const connection = sockets.get(ctx.extra);
        // The operation's context starts with only what the context factory and yoga's plugins read: a copy of
        // graphql-ws's ctx (socket, request, subscriptions) would be held by every operation for its life.
        const { schema, execute, subscribe, contextFactory, parse, validate } = options.yoga.getEnveloped({
          principal: connection?.principal,
          // The operation id is the client's: a hostile one (any length) must not reach log lines or stream messages.
          requestId: `${connection?.id ?? 'ws'}/${requestIdOf(id)}`,
          params,
          // Shared subscription events are written to the socket directly (shared-events.ts DirectEvents).
          directNext: { socket: ctx.extra.socket, id } satisfies DirectNext,
        });
        // A syntax error is the operation's error, not the connection's: parse throws, graphql-ws would close the socket.
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
      },
    },
    wss,
    0, // keep-alive: watchSockets pings
  );
  wss.on('error', (error) => options.log.error({ err: error }, 'websocket server error'));

  return {
    get connections() {
      return wss.clients.size;
    },
    /** Queries and mutations over WebSockets still executing. */
    get executing() {
      return executing;
    },
    /** Closes every socket with 1001 (its subscriptions are cut, not completed, so clients resubscribe), cuts the ones that do not answer the close handshake, stops the server. */
    async close(graceMs = 1_000) {
      timers.stop();
      for (const socket of wss.clients) socket.close(GOING_AWAY, 'server shutting down; reconnect and resubscribe');
      const cut = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, graceMs);
      await disposable.dispose();
      clearTimeout(cut);
      options.server.off('upgrade', onUpgrade);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
