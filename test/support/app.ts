import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { sql, type SQL } from 'drizzle-orm';
import { print, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import postgres from 'postgres';
import WebSocket from 'ws';
import { loadConfig, type Config } from '../../src/config.js';
import { rows } from '../../src/db/client.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createServer, type Server } from '../../src/server.js';
import { DATABASE_URL, REDIS_URL, type Backend } from './backends.js';
import { freshEmbeddedDataDir, seedEmbeddedDataDir } from './embedded-template.js';
import { LiveResults, waitFor } from './live.js';
import { readSse } from './sse.js';

/** A PostgreSQL connection of the test's own in `schema` (another node's, a DBA's session); the caller ends it. */
export const directConnection = (schema: string) => postgres(DATABASE_URL!, { max: 1, onnotice: () => undefined, connection: { search_path: schema } });

/**
 * Holds `table` locked (exclusive) in a transaction of `direct` until `release()`, so that whatever writes it
 * waits: resolves once held. `release()` may be called more than once.
 */
export async function lockTable(direct: postgres.Sql, table: string): Promise<{ release(): Promise<void> }> {
  let release = () => {};
  let locked!: () => void;
  const held = new Promise<void>((resolve) => (locked = resolve));
  const done = direct.begin(async (tx) => {
    await tx.unsafe(`lock table "${table}" in exclusive mode`);
    locked();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await held;
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

export interface GraphQLResponse<R> {
  data?: R | null;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: string[] }[];
}

export interface Subscription<R> {
  results: LiveResults<ExecutionResult<R>>;
  close(): Promise<void>;
}

export interface TestApp {
  server: Server;
  url: string;
  config: Config;
  /** POSTs an operation; returns the GraphQL response whatever it holds. */
  request<R, V>(document: TypedDocumentNode<R, V>, variables: V, headers?: Record<string, string>): Promise<GraphQLResponse<R>>;
  /** Like request, but fails the test on any GraphQL error. */
  mutate<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  /** A graphql-ws subscription; resolves once the server has registered it. */
  subscribeWs<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<Subscription<R>>;
  /** An SSE subscription; resolves once the server has registered it. `completedByServer` once it sent `event: complete`. */
  subscribeSse<R, V>(
    document: TypedDocumentNode<R, V>,
    variables: V,
    options?: { lastEventId?: string },
  ): Promise<Subscription<R> & { lastEventId(): string | undefined; completedByServer(): boolean }>;
  sql<T>(query: SQL): Promise<T[]>;
  /** Waits until the processors have consumed everything committed so far. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse an existing schema or data dir (restart tests). */
  schema?: string;
  dataDir?: string;
  keepSchema?: boolean;
  /** The server's logger (a test reading its lines); by default one at TEST_LOG_LEVEL, or silent. */
  log?: Logger;
}

/** Starts the real server on 127.0.0.1:0 for `backend`, with its own schema / channel prefix. */
export async function startTestApp(backend: Backend, options: TestAppOptions = {}): Promise<TestApp> {
  const tag = randomBytes(4).toString('hex');
  const schema = options.schema ?? `t_${tag}`;
  // Embedded: a copy of a migrated database (embedded-template.ts), on disk as the server's default is.
  let ownDataDir: { dir: string; remove(): void } | undefined;
  if (backend.database === 'pglite') {
    if (!options.dataDir) ownDataDir = await freshEmbeddedDataDir();
    else if (!existsSync(options.dataDir) || readdirSync(options.dataDir).length === 0) await seedEmbeddedDataDir(options.dataDir);
  }
  const env: Record<string, string> = {
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Suites about auth and limits turn these on themselves.
    AUTH: 'off',
    RATE_LIMIT: '0',
    LIVE_POLL_INTERVAL: '200ms',
    LIVE_GAP_TIMEOUT: '100ms',
    SHUTDOWN_TIMEOUT: '5s',
    ...(backend.database === 'postgres'
      ? { DATABASE_URL: DATABASE_URL!, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: '8' }
      : { DATA_DIR: options.dataDir ?? ownDataDir!.dir }),
    ...(backend.pubsub === 'redis' ? { REDIS_URL: REDIS_URL!, REDIS_CHANNEL_PREFIX: `vigil-test-${tag}:` } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const server = await createServer(config, { log: options.log ?? createLogger(env.LOG_LEVEL!) }).catch((error: unknown) => {
    ownDataDir?.remove();
    throw error;
  });
  const url = await server.listen(0, '127.0.0.1');
  const graphqlUrl = `${url}/graphql`;
  const clients: Client[] = [];
  const aborts: AbortController[] = [];

  const request = async <R, V>(document: TypedDocumentNode<R, V>, variables: V, headers: Record<string, string> = {}) => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await response.json()) as GraphQLResponse<R>;
  };

  const subscriberCount = () =>
    server.services.readingsFeed.opened + server.services.tradesFeed.opened + Object.values(server.services.outputs).reduce((n, feed) => n + feed.opened, 0);

  const app: TestApp = {
    server,
    url,
    config,
    request,
    async mutate(document, variables) {
      const response = await request(document, variables);
      if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
      return response.data!;
    },
    async subscribeWs(document, variables) {
      const before = subscriberCount();
      const results = new LiveResults<ExecutionResult<never>>();
      const client = createClient({
        url: graphqlUrl.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        on: { closed: (event) => results.complete((event as { code?: number }).code) },
      });
      clients.push(client);
      const dispose = client.subscribe(
        { query: print(document), variables: variables as Record<string, unknown> },
        { next: (value) => results.push(value as never), error: (error) => results.error(error), complete: () => results.complete() },
      );
      await waitFor(() => subscriberCount() > before || results.completed || results.errors.length > 0, 'the graphql-ws subscription to be live');
      return {
        results: results as never,
        close: async () => {
          dispose();
          await client.dispose();
        },
      };
    },
    async subscribeSse(document, variables, sseOptions = {}) {
      const before = subscriberCount();
      const results = new LiveResults<ExecutionResult<never>>();
      const abort = new AbortController();
      aborts.push(abort);
      const query = new URLSearchParams({ query: print(document), variables: JSON.stringify(variables) });
      const response = await fetch(`${graphqlUrl}?${query}`, {
        headers: { accept: 'text/event-stream', ...(sseOptions.lastEventId ? { 'last-event-id': sseOptions.lastEventId } : {}) },
        signal: abort.signal,
      });
      let lastId: string | undefined;
      let completeEvent = false;
      void (async () => {
        try {
          for await (const event of readSse(response.body!)) {
            if (event.id) lastId = event.id;
            if (event.event === 'next') results.push(JSON.parse(event.data));
            if (event.event === 'complete') {
              completeEvent = true;
              results.complete();
            }
          }
          results.complete();
        } catch (error) {
          if (!abort.signal.aborted) results.error(error);
          results.complete();
        }
      })();
      await waitFor(() => subscriberCount() > before || results.completed || results.errors.length > 0, 'the SSE subscription to be live');
      return {
        results: results as never,
        lastEventId: () => lastId,
        completedByServer: () => completeEvent,
        close: async () => abort.abort(),
      };
    },
    sql: (query) => rows(server.services.database.db, query),
    settle: async () => {
      for (const runtime of Object.values(server.services.pipelines)) await runtime.settle();
    },
    async close() {
      for (const abort of aborts) abort.abort();
      await Promise.all(clients.map((c) => c.dispose()));
      await server.close();
      ownDataDir?.remove();
      if (backend.database === 'postgres' && !options.keepSchema) await dropSchema(schema);
    },
  };
  return app;
}

export async function dropSchema(schema: string) {
  const admin = postgres(DATABASE_URL!, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin.end();
  }
}

export { sql };
