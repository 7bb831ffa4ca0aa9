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
        (_result, fetchAPI) =>
          new fetchAPI.Response(
            JSON.stringify({
              errors: [
                {
                  message: `no answer format fits this request's Accept header; it accepts ${accepted}. A subscription's answer is a stream: send Accept: text/event-stream (SSE), or use graphql-ws`,
                  extensions: { code: 'NOT_ACCEPTABLE' },
                },
              ],
            }),
            { status: 406, headers: { 'content-type': 'application/json; charset=utf-8' } },
          ),
        'application/json',
      );
    },
  };
}
