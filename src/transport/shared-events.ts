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
import { compileEventExecutor, isPromise, type EventExecutor, type Settled } from './plain-lists.js';
import { noteRequestOfErrors } from './mask-error.js';


/**
 * Set by the graphql-ws transport in an operation's context (websocket.ts): its socket and
 * operation id, so shared events can be written as `next` messages directly (DirectEvents).
 */
export interface DirectNext {
  socket: { send(data: string, callback: (error?: Error) => void): void; readonly readyState: number; readonly OPEN: number };
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
 * to each socket directly (DirectEvents). Results are kept beside the event
 * object (a WeakMap), so they go when the event does. Events that are not
 * shared (a per-subscriber Error, an output feed's own filtered batch) simply
 * miss and execute as before.
 *
 * Safe because what a subscription's fields resolve to depends only on the
 * event, the document and the variables: access is checked once when the
 * subscription starts, and a shared event never crosses tenants.
 */
export function useSharedSubscriptionEvents({ onEvent, maskError }: SharedEventsOptions): Plugin {
  const results = new WeakMap<object, Map<string, Settled<ExecutionResult>>>();
  // A shared result's `next` payload, serialised once for all the subscribers that get it.
  const payloads = new WeakMap<ExecutionResult, string>();
  const payloadOf = (result: ExecutionResult): string | undefined => {
    if (result.errors) return undefined;
    let json = payloads.get(result);
    if (json === undefined) payloads.set(result, (json = JSON.stringify(result)));
    return json;
  };
  /**
   * The shared result of `event` for the operation `key`: cached, or by the plain loop, or by graphql-js
   * (`full`: errors, a null where none may be, an operation the plain loop does not cover).
   */
  const executeShared = (event: unknown, contextValue: unknown, plain: EventExecutor | undefined, key: string, full: FullExecutor): Settled<ExecutionResult> => {
    onEvent?.(event, contextValue);
    const shareable = typeof event === 'object' && event !== null && !(event instanceof Error);
    let byOperation = shareable ? results.get(event) : undefined;
    const cached = byOperation?.get(key);
    if (cached) return cached;
    const result = plain?.(event, contextValue) ?? full(event);
    if (shareable) {
      if (!byOperation) results.set(event, (byOperation = new Map()));
      byOperation.set(key, result);
    }
    return result;
  };
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;

  /**
   * A graphql-ws operation's events (DirectEvents). The per-event arrow lives as long as the subscription
   * and holds only what its scope names: created here, not in `subscribe`, whose scope holds the validated
   * arguments. Inline and unnamed: under tsx's keep-names a named closure costs ~250 B more per instance.
   */
  const directStream = (
    stream: AsyncIterable<unknown>,
    direct: DirectNext,
    contextValue: unknown,
    plain: EventExecutor | undefined,
    key: string,
    full: FullExecutor,
  ) => new DirectEvents(stream, direct, contextValue, (event) => executeShared(event, contextValue, plain, key, full), payloadOf, maskError);

  const subscribe = (args: ExecutionArgs) => {
    const validated = validateSubscriptionArgs(args);
    if (!('schema' in validated)) return { errors: validated };
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
    const plain = compileEventExecutor(validated);
    const key = flat(`${documentId}\u0000${validated.operation.name?.value ?? ''}\u0000${JSON.stringify(validated.rawVariableValues ?? null)}`);
    const direct = (validated.contextValue as { directNext?: DirectNext } | undefined)?.directNext;
    const full: FullExecutor = (event) => executeSubscriptionEvent({ ...validated, rootValue: event });
    const mapped = (stream: AsyncIterable<unknown> | ExecutionResult) =>
      !(Symbol.asyncIterator in stream)
        ? stream
        : direct
          ? // With the plain loop only the fallback needs the validated arguments (~1.3 KB of coerced variables
            // and null-prototype maps a subscription): it validates the caller's again.
            directStream(stream, direct, validated.contextValue, plain, key, plain ? revalidating(args) : full)
          : mapSourceToResponseEvent(validated, stream, (perEvent) => executeShared(perEvent.rootValue, perEvent.contextValue, plain, key, full));
    const stream = createSourceEventStream(validated);
    return isPromise(stream) ? stream.then(mapped) : mapped(stream);
  };

  return {
    onSubscribe: ({ args, setSubscribeFn, setResultAndStopExecution }) => {
      if (!(args.contextValue as { directNext?: DirectNext } | undefined)?.directNext) return setSubscribeFn(subscribe as never);
      // A graphql-ws operation is subscribed here and the plugins after this one are not asked: they are yoga's
      // error masking, whose per-event wrappers (envelop's onNext iterator and error iterator, holding its hook
      // lists) cost ~2.5 KB an idle subscription, and DirectEvents masks the same errors with the same maskError.
      // Plugins before this one (limits, access control, metrics) have run and their result hooks still do.
      const masked = (result: unknown) => {
        noteRequestOfErrors(args.contextValue, (result as ExecutionResult | undefined)?.errors);
        return maskResult(result, maskError);
      };
      const failed = (error: unknown) => {
        noteRequestOfErrors(args.contextValue, [error]);
        return { errors: [maskError(error)] };
      };
      let result: Settled<unknown>;
      try {
        const subscribed = subscribe(args);
        result = isPromise(subscribed) ? subscribed.then(masked, failed) : masked(subscribed);
      } catch (error) {
        result = failed(error);
      }
      setResultAndStopExecution(result as never);
    },
  };
}

/** What a client may see of an error: AppError's message and code, GraphQL's own errors, else an opaque one (transport/mask-error.ts). */
export type MaskError = (error: unknown) => Error;

export interface SharedEventsOptions {
  /** Runs for every subscriber's event (e.g. to note the stream cursor an SSE event id carries), cached or not. */
  onEvent?: (event: unknown, contextValue: unknown) => void;
  /** The masking yoga applies (its maskedErrors), for the graphql-ws operations this plugin subscribes itself. */
  maskError: MaskError;
}

/** `result` with its errors masked; a stream (or anything else) as it is. */
function maskResult<T>(result: T, mask: MaskError): T {
  const errors = (result as ExecutionResult | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return result;
  return { ...result, errors: errors.map((error) => mask(error)) };
}

/** graphql-js's execution of one subscription event. */
type FullExecutor = (event: unknown) => Settled<ExecutionResult>;

/** A FullExecutor that validates `args` again for each event it runs; its closure holds only them. */
const revalidating =
  (args: ExecutionArgs): FullExecutor =>
  (event) =>
    executeSubscriptionEvent({ ...(validateSubscriptionArgs(args) as ValidatedSubscriptionArgs), rootValue: event });

/** `text` as one flat string: a concatenation is kept as a tree of its parts (~170 B for an 80-character prefix). */
const flat = (text: string): string => (text.length === 0 ? text : JSON.parse(JSON.stringify(text)) as string);

/** Writes `data` to a graphql-ws socket; resolves once written. Module level: a closure per operation would live as long as it. */
function send(socket: DirectNext['socket'], data: string): Promise<void> {
  return new Promise<void>((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
}

/**
 * The events of a graphql-ws operation: each error-free result is written to
 * the socket as the `next` message graphql-ws would send (the same JSON,
 * its payload serialised once per shared result), and only results with
 * errors are yielded to graphql-ws, masked, and graphql-ws sends them as
 * before; so is an error the source throws. graphql-ws's own path per event
 * is an async iterator per layer (envelop, graphql-js, graphql-ws), a
 * message validation, a copy of the result and a JSON.stringify per
 * subscriber: ~2/3 of a message's cost with 1,000 subscribers. Each write is
 * awaited before the next event is read, as graphql-ws awaits its own, so a
 * slow socket still backs up into the feed's bounded buffer (SLOW_CONSUMER).
 * Completing (graphql-ws calls return) ends the source. A class: one object
 * an operation, its methods shared (an object literal's would be closures
 * per operation, each with a name built at run time).
 */
class DirectEvents implements AsyncIterableIterator<ExecutionResult> {
  private readonly iterator: AsyncIterator<unknown>;
  private readonly prefix: string;
  private closed = false;

  constructor(
    source: AsyncIterable<unknown>,
    private readonly direct: DirectNext,
    /** The operation's context: its request id goes on the log line of an error masked here. */
    private readonly contextValue: unknown,
    private readonly execute: (event: unknown) => Settled<ExecutionResult>,
    private readonly payloadOf: (result: ExecutionResult) => string | undefined,
    private readonly mask: MaskError,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
    this.prefix = flat(`{"id":${JSON.stringify(direct.id)},"type":"next","payload":`);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    try {
      for (;;) {
        const step = await this.iterator.next();
        if (step.done || this.closed) return DONE;
        const settled = this.execute(step.value);
        const result = isPromise(settled) ? await settled : settled;
        const payload = this.payloadOf(result);
        if (payload === undefined) {
          noteRequestOfErrors(this.contextValue, result.errors);
          return { done: false, value: maskResult(result, this.mask) };
        }
        const { socket } = this.direct;
        // The client hung up (its close is under way): the operation ends with it. graphql-ws skips such writes too.
        if (socket.readyState !== socket.OPEN) return this.return();
        await send(socket, this.prefix + payload + '}');
      }
    } catch (error) {
      // graphql-ws does not call return() on a stream whose next() threw: end the source here, or its feed keeps
      // this subscription (and buffers its events) after the client is gone.
      this.closed = true;
      await this.iterator.return?.()?.catch(() => undefined);
      noteRequestOfErrors(this.contextValue, [error]);
      throw this.mask(error);
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.closed = true;
    await this.iterator.return?.();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.closed = true;
    await this.iterator.return?.();
    throw error;
  }
}

const DONE = { done: true, value: undefined } as const;
