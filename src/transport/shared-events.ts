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
 * Executes each subscription event once per distinct operation instead of
 * once per subscriber. Feeds hand the same event object to every subscriber
 * that asked for the same thing (the readings feed: same tenant and filters),
 * so subscribers running the same document with the same variables get the
 * same result object, executed once (by compileEventExecutor's plain loop
 * when the operation has that shape); graphql-ws and SSE then only serialise
 * it. Results are kept beside the event object (a WeakMap), so they go when
 * the event does. Events that are not shared (a per-subscriber Error, an
 * output feed's own filtered batch) simply miss and execute as before.
 *
 * Safe because what a subscription's fields resolve to depends only on the
 * event, the document and the variables: access is checked once when the
 * subscription starts, and a shared event never crosses tenants.
 * `onEvent` runs for every subscriber's event (e.g. to note the stream
 * cursor an SSE event id carries), cached or not.
 */
export function useSharedSubscriptionEvents(onEvent?: (event: unknown, contextValue: unknown) => void): Plugin {
  const results = new WeakMap<object, Map<string, Settled<ExecutionResult>>>();
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
    const mapped = (stream: AsyncIterable<unknown> | ExecutionResult) =>
      Symbol.asyncIterator in stream ? mapSourceToResponseEvent(validated, stream, (perEvent) => executeShared(perEvent, plain, key)) : stream;
    const stream = createSourceEventStream(validated);
    return isPromise(stream) ? stream.then(mapped) : mapped(stream);
  };

  return {
    onSubscribe: ({ setSubscribeFn }) => setSubscribeFn(subscribe as never),
  };
}
