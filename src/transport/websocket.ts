import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { OpenConnections } from '../auth/connections.js';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';

/** Close code sent to graphql-ws clients when the server shuts down (RFC 6455 "going away"). */
export const GOING_AWAY = 1001;
/** Close code for a connection_init without a valid API key (graphql-ws's "Forbidden"); the reason says why. */
export const KEY_REFUSED = 4403;

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * graphql-ws (graphql-transport-ws protocol) on the HTTP server's port and
 * path, executing through yoga's envelop so masking, context and plugins
 * are the same as over HTTP and SSE. While `accepting()` is false (shutdown)
 * new connections are refused: graphql-ws closes them with 4403.
 */
export function attachWebSocket(options: {
  server: HttpServer;
  path: string;
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
  const wss = new WebSocketServer({ server: options.server, path: options.path, maxPayload: options.maxPayloadBytes });
  const principals = new WeakMap<object, Principal>();
  const socketIds = new WeakMap<object, string>();
  let executing = 0;
  const disposable = useServer(
    {
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
        if (!options.accepting()) return false;
        const socket = ctx.extra.socket;
        try {
          const principal = await options.authenticate(ctx.connectionParams as Record<string, unknown> | undefined, ctx.extra.request as IncomingMessage);
          principals.set(ctx.extra, principal);
          socketIds.set(ctx.extra, randomUUID().slice(0, 8));
          const untrack = options.connections.add(principal, (code, reason) => socket.close(code, reason));
          socket.once('close', untrack);
          return true;
        } catch (error) {
          if (!(error instanceof AppError)) options.log.error({ err: error }, 'could not authenticate a graphql-ws connection');
          socket.close(KEY_REFUSED, error instanceof AppError ? error.message.slice(0, 120) : 'cannot check the API key right now');
          return false;
        }
      },
      onSubscribe: async (ctx, _id, params) => {
        if (!options.accepting()) return [new GraphQLError('the server is shutting down; retry on another node or shortly', { extensions: { code: 'SHUTTING_DOWN' } })];
        // graphql-ws has already registered this operation by the time onSubscribe runs.
        if (Object.keys(ctx.subscriptions).length > options.subscriptionsPerConnection) {
          return [
            new GraphQLError(`at most ${options.subscriptionsPerConnection} operations may run on one connection; complete one first or open another connection`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: options.subscriptionsPerConnection },
            }),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = options.yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request as IncomingMessage,
          socket: ctx.extra.socket,
          principal: principals.get(ctx.extra),
          requestId: `${socketIds.get(ctx.extra) ?? 'ws'}/${_id}`,
          params,
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
    /** Closes every socket with 1001, cuts the ones that do not answer the close handshake, stops the server. */
    async close(graceMs = 1_000) {
      for (const socket of wss.clients) socket.close(GOING_AWAY, 'server shutting down');
      const cut = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, graceMs);
      await disposable.dispose();
      clearTimeout(cut);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
