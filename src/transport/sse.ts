import type { ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AppError } from '../errors.js';

const PING_EVERY_MS = 12_000;

/**
 * Whether yoga answers a subscription to this Accept header with an event stream (its accept.js, which this
 * follows): no header is `*\/*`; types are matched without case or spaces, wildcards on either half (`text/*`,
 * `*\/event-stream`); a type whose charset is not utf-8 is passed over.
 */
export function acceptsEventStream(accept: string | null): boolean {
  return (accept || '*/*')
    .replace(/\s/g, '')
    .toLowerCase()
    .split(',')
    .some((entry) => {
      const [type = '', ...params] = entry.split(';');
      if ((params.find((p) => p.includes('charset=')) ?? 'charset=utf-8') !== 'charset=utf-8') return false;
      const [main, sub] = type.split('/');
      return (main === '*' || main === 'text') && (sub === '*' || sub === 'event-stream');
    });
}

/**
 * Serves subscriptions as Server-Sent Events with an `id:` on every event:
 * the cursor of the last reading in it (GraphQL over SSE, distinct
 * connections mode, as yoga writes it, plus ids). A browser EventSource that
 * reconnects sends it back as Last-Event-ID and resumes without loss.
 * `cursorOf(request)` answers the cursor the request's subscription emitted last.
 * `stream.opened(res)` is told of each response that becomes a stream. Once
 * `stream.interrupted()` (shutdown), a stream whose events end is closed
 * without `event: complete`: a `complete` tells a client the subscription is
 * over for good, while a stream cut short is one it reconnects to.
 */
export function useSseEventIds(
  cursorOf: (request: Request) => string | null,
  stream: { opened(res: ServerResponse): AppError | undefined; interrupted(): boolean } = { opened: () => undefined, interrupted: () => false },
): Plugin {
  return {
    onResultProcess({ request, result, setResultProcessor, serverContext }) {
      if (!result || typeof result !== 'object' || !(Symbol.asyncIterator in result)) return;
      // Whenever yoga would answer with a stream: one it answers without this plugin is watched for nothing (a
      // revoked key's stream went on; a client that hung up left its subscription running).
      if (!acceptsEventStream(request.headers.get('accept'))) return;
      // Node's response (the HTTP server hands yoga req and res): this response is a stream of events.
      const response = (serverContext as { res?: ServerResponse }).res;
      const refused = response && stream.opened(response);
      if (refused) {
        // Its subscription has been set up (its replay, if any, begun): ended at once, and answered with why.
        return setResultProcessor((input, fetchAPI) => {
          void (input as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]().return?.();
          return refusalResponse(refused, fetchAPI);
        }, 'text/event-stream');
      }
      if (response) flushEachWrite(response);
      setResultProcessor((input, fetchAPI) => {
        const iterator = (input as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        const encoder = new fetchAPI.TextEncoder();
        let ping: NodeJS.Timeout | undefined;
        const events = new fetchAPI.ReadableStream<Uint8Array>({
          start(controller) {
            // An initial comment flushes headers through proxies and browsers that wait for a body.
            controller.enqueue(encoder.encode(':\n\n'));
            ping = setInterval(() => {
              if (controller.desiredSize !== null && controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
            }, PING_EVERY_MS);
          },
          async pull(controller) {
            try {
              const next = await iterator.next();
              if (!next.done) {
                const id = cursorOf(request);
                const data = JSON.stringify(next.value);
                controller.enqueue(encoder.encode(`${id ? `id: ${id}\n` : ''}event: next\ndata: ${data}\n\n`));
                return;
              }
              if (!stream.interrupted()) controller.enqueue(encoder.encode('event: complete\ndata:\n\n'));
              clearInterval(ping);
              controller.close();
            } catch (error) {
              clearInterval(ping);
              controller.error(error);
            }
          },
          async cancel() {
            clearInterval(ping);
            await iterator.return?.();
          },
        });
        // A client that hung up while its subscription was set up (its key checked, its resume point read) is gone
        // before the stream reaches Node's response: whatwg-node then never reads or cancels it, and the feed kept
        // the subscription, buffering for nobody, and its ping timer, for good. Node's response tells (the request's
        // signal does not: it is made after the key check, and misses a close heard before it).
        const release = () => {
          clearInterval(ping);
          void iterator.return?.();
        };
        if (response ? response.closed : request.signal.aborted) release();
        else if (response) response.once('close', release);
        else request.signal.addEventListener('abort', release, { once: true });
        return new fetchAPI.Response(events, {
          status: 200,
          headers: {
            'Content-Type': 'text/event-stream',
            'Cache-Control': 'no-cache',
            Connection: 'keep-alive',
            'Content-Encoding': 'none',
          },
        });
      }, 'text/event-stream');
    },
  };
}

/** A stream refused before it began (TOO_MANY_CONNECTIONS): its HTTP status and headers, and a GraphQL error body. */
function refusalResponse(error: AppError, fetchAPI: { Response: typeof Response }): Response {
  const { http, ...extensions } = error.details as { http?: { status: number; headers: Record<string, string> } };
  const body = JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code, ...extensions } }] });
  return new fetchAPI.Response(body, { status: http?.status ?? 400, headers: { 'content-type': 'application/json', ...http?.headers } });
}

/**
 * Ends the event stream of `res` with an error event saying why (its API key withdrawn) and `complete`, then drops
 * the connection: a client reads why its subscription ended, not a cut it would take for a network fault, and a
 * graphql-sse client does not retry it. Dropped at once if the stream has not begun, and within a second if the
 * client reads too slowly to take the event.
 */
export function endStreamWithError(res: ServerResponse, message: string, code: string): void {
  if (res.destroyed) return;
  if (!res.headersSent || res.writableEnded) return void res.destroy();
  const error = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  const drop = setTimeout(() => res.destroy(), 1_000).unref();
  const write = res.write.bind(res) as (chunk: string, callback: () => void) => boolean;
  // Nothing more of the stream (a batch already on its way) goes out after the error: the key no longer reads it.
  res.write = (() => true) as ServerResponse['write'];
  write(`event: next\ndata: ${error}\n\nevent: complete\ndata:\n\n`, () => {
    clearTimeout(drop);
    res.destroy();
  });
}

/**
 * Sends each write of `res` to the socket at once. Node corks a chunked
 * response's socket on a write and uncorks it on the next tick, and the next
 * tick comes only after every promise continuation already queued: an SSE
 * event written while the server delivers a committed batch waited behind the
 * rest of that turn's work (0.9-1.5 ms after a graphql-ws message of the same
 * batch at the median, several ms at p99). Events are small and few per second per
 * stream, so one write each costs nothing worth batching for.
 */
export function flushEachWrite(res: ServerResponse): void {
  const write = res.write as (...args: unknown[]) => boolean;
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    const accepted = write.apply(this, args);
    this.socket?.uncork();
    return accepted;
  } as ServerResponse['write'];
}
