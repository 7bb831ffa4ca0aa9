import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  executeSubscriptionEvent,
  mapSourceToResponseEvent,
  type ValidatedSubscriptionArgs,
  validateSubscriptionArgs,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { compileEventExecutor, type EventExecutor } from './compiled-events.js';

type Settled<T> = T | Promise<T>;

const isPromise = <T>(value: Settled<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

/**
 * Set by the graphql-ws transport in an operation's context (websocket.ts): its socket and
 * operation id, so shared events can be written as `next` messages directly (directEvents).
 */
export interface DirectNext {
  socket: { send(data: string, callback: (error?: Error) => void): void };
  id: string;
}

/**
 * Executes each subscription event once per distinct operation instead of
 * once per subscriber. Feeds hand the same event object to every subscriber
 * that asked for the same thing (the readings feed: same tenant and filters),
 * so subscribers running the same document with the same variables get the
 * same result object, executed once (by compileEventExecutor's plain loop
 * when the operation has that shape). Over SSE each subscriber's stream then
 * serialises it; over graphql-ws its payload is serialised once and written
 * to each socket directly (directEvents). Results are kept beside the event
 * object (a WeakMap), so they go when the event does. Events that are not
 * shared (a per-subscriber Error, an output feed's own filtered batch) simply
 * miss and execute as before.
 *
 * Safe because what a subscription's fields resolve to depends only on the
 * event, the document and the variables: access is checked once when the
 * subscription starts, and a shared event never crosses tenants.
 * `onEvent` runs for every subscriber's event (e.g. to note the stream
 * cursor an SSE event id carries), cached or not.
 */
export function useSharedSubscriptionEvents(onEvent?: (event: unknown, contextValue: unknown) => void): Plugin {
  const results = new WeakMap<object, Map<string, Settled<ExecutionResult>>>();
  // A shared result's `next` payload, serialised once for all the subscribers that get it.
  const payloads = new WeakMap<ExecutionResult, string>();
  const payloadOf = (result: ExecutionResult): string | undefined => {
    if (result.errors) return undefined;
    let json = payloads.get(result);
    if (json === undefined) payloads.set(result, (json = JSON.stringify(result)));
    return json;
  };
  const executeShared = (args: ValidatedSubscriptionArgs, plain: EventExecutor | undefined, key: string): Settled<ExecutionResult> => {
    const event = args.rootValue;
    onEvent?.(event, args.contextValue);
    const shareable = typeof event === 'object' && event !== null && !(event instanceof Error);
    let byOperation = shareable ? results.get(event) : undefined;
    const cached = byOperation?.get(key);
    if (cached) return cached;
    const result = plain?.(event, args.contextValue) ?? executeSubscriptionEvent(args);
    if (shareable) {
      if (!byOperation) results.set(event, (byOperation = new Map()));
      byOperation.set(key, result);
    }
    return result;
  };
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;

  const subscribe = (args: ExecutionArgs) => {
    const validated = validateSubscriptionArgs(args);
    if (!('schema' in validated)) return { errors: validated };
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
    const plain = compileEventExecutor(validated);
    const key = `${documentId}\u0000${validated.operation.name?.value ?? ''}\u0000${JSON.stringify(validated.rawVariableValues ?? null)}`;
    // The per-event arrow lives as long as the subscription: inline and unnamed (under tsx's keep-names a
    // named closure costs ~250 B more per instance); the work is in executeShared.
    const direct = (args.contextValue as { directNext?: DirectNext } | undefined)?.directNext;
    const mapped = (stream: AsyncIterable<unknown> | ExecutionResult) =>
      !(Symbol.asyncIterator in stream)
        ? stream
        : direct
          ? directEvents(stream, direct, (event) => executeShared({ ...validated, rootValue: event }, plain, key), payloadOf)
          : mapSourceToResponseEvent(validated, stream, (perEvent) => executeShared(perEvent, plain, key));
    const stream = createSourceEventStream(validated);
    return isPromise(stream) ? stream.then(mapped) : mapped(stream);
  };

  return {
    onSubscribe: ({ setSubscribeFn }) => setSubscribeFn(subscribe as never),
  };
}

/**
 * The events of a graphql-ws operation: each error-free result is written to
 * the socket as the `next` message graphql-ws would send (the same JSON,
 * its payload serialised once per shared result), and only results with
 * errors are yielded to graphql-ws, so envelop masks them and graphql-ws
 * sends them as before. graphql-ws's own path per event is an async
 * iterator per layer (envelop, graphql-js, graphql-ws), a message
 * validation, a copy of the result and a JSON.stringify per subscriber:
 * ~2/3 of a message's cost with 1,000 subscribers. Each write is awaited
 * before the next event is read, as graphql-ws awaits its own, so a slow
 * socket still backs up into the feed's bounded buffer (SLOW_CONSUMER).
 * Completing (graphql-ws calls return) ends the source.
 */
function directEvents(
  source: AsyncIterable<unknown>,
  direct: DirectNext,
  execute: (event: unknown) => Settled<ExecutionResult>,
  payloadOf: (result: ExecutionResult) => string | undefined,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const prefix = `{"id":${JSON.stringify(direct.id)},"type":"next","payload":`;
  const write = (data: string) => new Promise<void>((resolve, reject) => direct.socket.send(data, (error) => (error ? reject(error) : resolve())));
  let closed = false;
  const done = { done: true, value: undefined } as const;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<ExecutionResult>> {
      for (;;) {
        const step = await iterator.next();
        if (step.done || closed) return done;
        const settled = execute(step.value);
        const result = isPromise(settled) ? await settled : settled;
        const payload = payloadOf(result);
        if (payload === undefined) return { done: false, value: result };
        await write(prefix + payload + '}');
      }
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      closed = true;
      await iterator.return?.();
      return done;
    },
    async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
      closed = true;
      await iterator.return?.();
      throw error;
    },
  };
}

