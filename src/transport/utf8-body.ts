import { isUtf8 } from 'node:buffer';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * POST bodies must be UTF-8 (server.ts refuses another declared charset). One that only claims it (a client that
 * encodes in Latin-1 and names no charset) was decoded with each bad byte replaced, and stored so: "M\xfcller"
 * became "M\ufffdller" for good. yoga's JSON parser is handed a request whose `json()` refuses such a body (400
 * BAD_REQUEST) and otherwise parses as before: a byte order mark is kept, so JSON.parse still calls it invalid JSON.
 */
export function useUtf8Bodies(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser }) {
      if (request.method !== 'POST' || !requestParser) return;
      setRequestParser((sent) =>
        requestParser(
          new Proxy(sent, {
            get(target, property) {
              if (property === 'json') return () => utf8Json(target);
              const value: unknown = Reflect.get(target, property, target);
              return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          }),
        ),
      );
    },
  };
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

async function utf8Json(request: Request): Promise<unknown> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (!isUtf8(bytes)) {
    throw new GraphQLError('the request body is not valid UTF-8: encode it as UTF-8 (text in another encoding would be stored with its letters replaced)', {
      extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
    });
  }
  return JSON.parse(decoder.decode(bytes));
}
