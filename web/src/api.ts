import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';

/**
 * The page's only way to the API: typed documents from codegen
 * (web/src/generated), queries and mutations as same-origin JSON POSTs to
 * /graphql, subscriptions over one graphql-ws connection that reconnects on
 * its own. The API key (when the server wants one) comes from local storage.
 */
export type Document<R, V> = DocumentTypeDecoration<R, V> & { toString(): string };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** Where a subscription may resume (`extensions.resumeAfter`): after SLOW_CONSUMER, or a cursor the server refused. */
    readonly resumeAfter?: string | null,
  ) {
    super(message);
    // Named for the console: the minified build renames the class.
    this.name = code ? `ApiError ${code}` : 'ApiError';
  }
}

/** A refusal the key explains: reading again cannot help until the key changes. */
export const forbidden = (error: unknown) => error instanceof ApiError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED');

/** How soon a read that failed `failures` times in a row for another reason (the server busy or starting) is tried again: 3 s, doubling to 30 s. */
export const retryWait = (failures: number) => Math.min(3_000 * 2 ** (failures - 1), 30_000);

const KEY_STORAGE = 'vigil.apiKey';

export function storedApiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function storeApiKey(key: string) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

export async function request<R, V>(document: Document<R, V>, variables: V, options: { signal?: AbortSignal } = {}): Promise<R> {
  const key = storedApiKey();
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query: document.toString(), variables }),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError('the server cannot be reached', 'UNREACHABLE');
  }
  let body: { data?: R | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status} ${response.statusText}`, 'BAD_RESPONSE');
  }
  if (body.errors?.length) {
    throw new ApiError(body.errors.map((e) => e.message).join('; '), body.errors[0]!.extensions?.code);
  }
  if (!body.data) throw new ApiError('the server answered without data', 'BAD_RESPONSE');
  return body.data;
}

// ---- Connection state, shown by the indicator in the header ----

export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'live'; since: number; reconnects: number }
  | { kind: 'reconnecting'; since: number; attempts: number }
  | { kind: 'refused'; reason: string }
  /** The server holds as many connections of this key (or address) as it allows (4429): tried again at `retryAt`. */
  | { kind: 'busy'; reason: string; retryAt: number };

let state: ConnectionState = { kind: 'connecting' };
const stateListeners = new Set<(state: ConnectionState) => void>();
/** Called after each reconnection (not the first connection): outputs without a cursor are read again. */
const reconnectListeners = new Set<() => void>();
let connections = 0;
let attempts = 0;
let downSince = 0;

function setState(next: ConnectionState) {
  state = next;
  for (const listener of stateListeners) listener(state);
}

export function connectionState() {
  return state;
}

export function onConnectionState(listener: (state: ConnectionState) => void): () => void {
  stateListeners.add(listener);
  listener(state);
  return () => stateListeners.delete(listener);
}

export function onReconnected(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

// Closed by the server for the key: 4401 revoked or expired, 4403 refused. Retrying cannot help until the key changes.
const KEY_CLOSE_CODES = new Set([4401, 4403]);
const isKeyClose = (event: unknown): event is CloseEvent =>
  typeof event === 'object' && event !== null && 'code' in event && KEY_CLOSE_CODES.has((event as CloseEvent).code);

// Closed because the key (or address) holds MAX_CONNECTIONS_PER_KEY connections already. graphql-ws does not retry it,
// and every live stream of the page would resubscribe, each opening a socket, twice a second: instead the page waits
// the server's Retry-After (30 s), twice as long after each refusal in a row up to 5 min, and says so.
const TOO_MANY_CONNECTIONS = 4429;
const BUSY_WAIT_MS = 30_000;
const BUSY_WAIT_MAX_MS = 300_000;
let busyRefusals = 0;
const isBusyClose = (event: unknown): event is CloseEvent =>
  typeof event === 'object' && event !== null && 'code' in event && (event as CloseEvent).code === TOO_MANY_CONNECTIONS;

let client: Client | undefined;

function socketUrl() {
  const url = new URL('/graphql', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

let generation = 0;

function getClient(): Client {
  if (client) return client;
  // graphql-ws may call `on` listeners synchronously from createClient: compare generations, not the client itself.
  const mine = ++generation;
  client = createClient({
    url: socketUrl(),
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Infinity,
    // A server restart takes seconds: retry every 0.25-2 s (with jitter), not the default's growing minutes.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 2_000) + Math.random() * 250)),
    shouldRetry: (event) => !isKeyClose(event),
    connectionParams: () => {
      const apiKey = storedApiKey();
      return apiKey ? { apiKey } : {};
    },
    onNonLazyError: () => undefined,
    on: {
      connecting: (isRetry) => {
        if (mine !== generation) return;
        if (isRetry || connections > 0) {
          attempts++;
          setState({ kind: 'reconnecting', since: downSince || Date.now(), attempts });
        } else setState({ kind: 'connecting' });
      },
      connected: () => {
        if (mine !== generation) return;
        const wasReconnect = connections > 0;
        connections++;
        attempts = 0;
        busyRefusals = 0;
        downSince = 0;
        setState({ kind: 'live', since: Date.now(), reconnects: connections - 1 });
        if (wasReconnect) for (const listener of reconnectListeners) listener();
      },
      closed: (event) => {
        if (mine !== generation) return;
        if (isKeyClose(event)) {
          setState({ kind: 'refused', reason: event.reason || (event.code === 4401 ? 'API key revoked or expired' : 'API key refused') });
          return;
        }
        downSince ||= Date.now();
        if (isBusyClose(event)) {
          const waitMs = Math.min(BUSY_WAIT_MS * 2 ** busyRefusals++, BUSY_WAIT_MAX_MS) + Math.random() * 1_000;
          setState({ kind: 'busy', reason: event.reason || 'too many connections for this API key', retryAt: Date.now() + waitMs });
          return;
        }
        if (state.kind !== 'refused') setState({ kind: 'reconnecting', since: downSince, attempts });
      },
    },
  });
  return client;
}

// ---- Live streams that survive reconnections ----

interface Stream {
  start(): void;
  halt(): void;
}

/**
 * Subscribes and keeps subscribed: through dropped sockets (graphql-ws
 * retries), through the server completing subscriptions at shutdown, and
 * through errors such as SLOW_CONSUMER, until `stop()`. `variables` is read
 * each time the subscription is (re)sent, so a readings stream resumes after
 * the last cursor it processed.
 */
export function live<R, V>(
  document: Document<R, V>,
  variables: () => V,
  handlers: { next(data: R): void; error?(error: ApiError): void },
): { stop(): void } {
  let stopped = false;
  // Each (re)subscription has its own token: callbacks of one that was replaced or halted are ignored.
  let current: { dispose?: () => void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Subscriptions refused in a row with nothing received: each waits twice as long as the one before, up to 30 s. A
  // refusal that stands (a patient of another tenant, a link to one that does not exist) was asked again twice a
  // second for as long as the page stayed open.
  let refusals = 0;
  const restartSoon = (token: object, refused = false) => {
    if (token !== current || stopped) return;
    current = undefined;
    if (state.kind === 'refused') return;
    refusals = refused ? refusals + 1 : 0;
    clearTimeout(timer);
    timer = setTimeout(stream.start, Math.min(500 * 2 ** Math.max(0, refusals - 1), 30_000));
  };
  const stream: Stream = {
    start() {
      if (stopped) return;
      clearTimeout(timer);
      // Refused for too many connections: every stream, new ones too, waits for the one retry time, and they share its socket.
      if (state.kind === 'busy' && state.retryAt > Date.now()) {
        timer = setTimeout(stream.start, state.retryAt - Date.now());
        return;
      }
      const token: { dispose?: () => void } = {};
      current = token;
      // Ended with errors and nothing received: refused (as an error, or as errors then complete).
      let errored = false;
      let received = false;
      const payload = {
        query: document.toString(),
        // A getter: graphql-ws sends this object again on every reconnection, and each time it must carry the latest cursor.
        get variables() {
          return variables() as Record<string, unknown>;
        },
      };
      token.dispose = getClient().subscribe<R>(payload, {
        next: (result) => {
          if (token !== current) return;
          if (result.errors?.length) {
            errored = true;
            const first = result.errors[0] as { message: string; extensions?: { code?: string; resumeAfter?: string | null } };
            handlers.error?.(new ApiError(first.message, first.extensions?.code, first.extensions?.resumeAfter));
          }
          if (result.data) {
            received = true;
            refusals = 0;
            handlers.next(result.data as R);
          }
        },
        error: (error) => {
          if (token !== current) return;
          if (isKeyClose(error)) {
            setState({ kind: 'refused', reason: error.reason || 'API key refused' });
          } else {
            const list = Array.isArray(error) ? (error as { message: string; extensions?: { code?: string; resumeAfter?: string | null } }[]) : [];
            if (list.length) handlers.error?.(new ApiError(list.map((e) => e.message).join('; '), list[0]!.extensions?.code, list[0]!.extensions?.resumeAfter));
          }
          restartSoon(token, (Array.isArray(error) || errored) && !received);
        },
        complete: () => restartSoon(token, errored && !received),
      });
    },
    halt() {
      clearTimeout(timer);
      const token = current;
      current = undefined;
      token?.dispose?.();
    },
  };
  stream.start();
  return {
    stop() {
      stopped = true;
      stream.halt();
    },
  };
}
