import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from './live.js';
import { readSse } from './sse.js';

export interface KeyedResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary answers
  body: any;
}

/** POSTs a raw operation with an API key (or none); returns status, headers and body whatever they hold. */
export type Gql = (key: string | null, query: string, variables?: Record<string, unknown>, options?: { header?: 'authorization' | 'x-api-key' }) => Promise<KeyedResponse>;

export function gql(graphqlUrl: string): Gql {
  return async (key, query, variables = {}, options = {}) => {
    const header = options.header ?? 'authorization';
    const auth: Record<string, string> = key === null ? {} : header === 'authorization' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key };
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...auth },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as KeyedResponse['body'] };
  };
}

export interface KeyedSocket {
  subscribe(query: string, variables?: Record<string, unknown>): { results: unknown[]; errors: any[] };
  closeCode: number | undefined;
  closeReason: string | undefined;
  close(): Promise<void>;
}

/**
 * A graphql-ws connection that sends `key` in connection_init; records how the server closed it. `localAddress`: the
 * address it connects from (127.0.0.2 is another client to a server on 127.0.0.1).
 */
export async function openWs(baseUrl: string, key: string, options: { localAddress?: string } = {}): Promise<KeyedSocket> {
  const socket: KeyedSocket = {
    closeCode: undefined,
    closeReason: undefined,
    subscribe(query, variables = {}) {
      const sink = { results: [] as unknown[], errors: [] as any[] };
      client.subscribe(
        { query, variables },
        {
          // A refused subscription arrives as one result carrying errors.
          next: (value) => (value.errors ? sink.errors.push(...value.errors) : sink.results.push(value)),
          error: (error) => sink.errors.push(...(Array.isArray(error) ? error : [error])),
          complete: () => undefined,
        },
      );
      return sink;
    },
    close: async () => {
      await client.dispose();
    },
  };
  let opened = false;
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: options.localAddress ? fromAddress(options.localAddress) : WebSocket,
    connectionParams: { apiKey: key },
    retryAttempts: 0,
    lazy: false,
    // The close is what the tests read (closeCode); graphql-ws would also print it to the console.
    onNonLazyError: () => undefined,
    on: {
      connected: () => (opened = true),
      closed: (event) => {
        socket.closeCode = (event as { code: number }).code;
        socket.closeReason = (event as { reason: string }).reason;
      },
    },
  });
  await waitFor(() => opened || socket.closeCode !== undefined, 'the socket to be accepted or refused');
  return socket;
}

/** WebSocket connecting from `localAddress`. */
function fromAddress(localAddress: string) {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { localAddress });
    }
  };
}

export interface KeyedSse {
  events: unknown[];
  /** The server ended the stream (or cut the connection). */
  ended: boolean;
  close(): void;
}

/** An SSE subscription with the key in the Authorization header; resolves once the response headers arrived. */
export async function openSse(baseUrl: string, key: string, query: string, accept: string | null = 'text/event-stream'): Promise<KeyedSse> {
  const abort = new AbortController();
  const sse: KeyedSse = { events: [], ended: false, close: () => abort.abort() };
  const response = await fetch(`${baseUrl}/graphql?${new URLSearchParams({ query })}`, {
    // null: fetch's own `*/*`, as curl sends, which is answered with a stream too.
    headers: { ...(accept === null ? {} : { accept }), authorization: `Bearer ${key}` },
    signal: abort.signal,
  });
  void (async () => {
    try {
      for await (const event of readSse(response.body!)) if (event.event === 'next') sse.events.push(JSON.parse(event.data));
    } catch {
      // cut by the server or aborted by the test
    }
    sse.ended = true;
  })();
  return sse;
}
