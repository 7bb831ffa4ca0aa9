import type { Plugin } from 'graphql-yoga';

/**
 * When no answer format fits the request's Accept header (a subscription asked
 * for as `application/json`), yoga answers 406 with no body. This says why and
 * what to send instead. It must come after every plugin that picks a format.
 */
export function useNotAcceptableExplained(): Plugin {
  return {
    onResultProcess({ resultProcessor, acceptableMediaTypes, setResultProcessor }) {
      if (resultProcessor) return;
      const accepted = acceptableMediaTypes.join(', ');
      setResultProcessor(
        (result, fetchAPI) => {
          // A subscription has started by now: nothing will read its stream, so it is ended here, or it would
          // stay subscribed (a feed subscriber filling its buffer) for the life of the server.
          if (isAsyncIterable(result)) void result[Symbol.asyncIterator]().return?.();
          return new fetchAPI.Response(
            JSON.stringify({
              errors: [
                {
                  message: `no answer format fits this request's Accept header; it accepts ${accepted}. A subscription's answer is a stream: send Accept: text/event-stream (SSE), or use graphql-ws`,
                  extensions: { code: 'NOT_ACCEPTABLE' },
                },
              ],
            }),
            { status: 406, headers: { 'content-type': 'application/json; charset=utf-8' } },
          );
        },
        'application/json',
      );
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
