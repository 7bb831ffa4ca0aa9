/**
 * A corpus of hostile and malformed requests, sent over real HTTP (fetch, SSE
 * and raw TCP) to a real server. Every case must get a clear refusal: an HTTP
 * 4xx, a GraphQL error whose message names the problem (with a stable
 * `extensions.code` where the server gives one), or per-item ingest errors
 * with index, field and code. Never a 5xx or an INTERNAL_SERVER_ERROR, and
 * stored rows change only by the number of items the answer reports accepted.
 * After the corpus the server must still ingest and answer normally.
 *
 * A few inputs are hostile-looking but legitimate (emoji and right-to-left
 * letters in display names, -0, 5e-324): those are `handled` cases, answered
 * without an error and stored verbatim. Control characters and bidirectional
 * overrides are refused in names people read (display-text.ts).
 */
import { gzipSync } from 'node:zlib';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { readSse } from './support/sse.js';

const MAX_BATCH = 20;
const MAX_BODY_BYTES = 4 * 1024 * 1024; // the default
const ACCEPT = 'application/graphql-response+json, application/json';

// Event times: unique per item (so no accepted item is a duplicate of an earlier case), in the past, after 2000.
const T0 = Date.now() - 2 * 3_600_000;
let seconds = 0;
const nextTime = () => new Date(T0 + 1_000 * seconds++).toISOString();
let transactionIds = 0;

const kb100 = 'x'.repeat(100_000);
const RTL = 'bed\u202E1-txt.exe';
const CONTROL = 'name\u0007\u001b[31m\u0008\u200B';

// ---------------------------------------------------------------- requests

type Request =
  /** POST application/json {query, variables, operationName, ...extra}. */
  | { gql: string; variables?: unknown; operationName?: unknown; extra?: Record<string, unknown> }
  /** Any fetch. */
  | { http: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } }
  /** A subscription over SSE; the answer is the first event's payload. */
  | { sse: string; variables?: unknown }
  /** Bytes written to a raw TCP connection (framing the HTTP client would refuse to send). */
  | { socket: (string | Buffer)[]; halfClose?: boolean; timeoutMs?: number };

interface Answer {
  status: number;
  /** The parsed JSON body (or SSE event payload); null when there was none. */
  body: any;
  text: string;
}

type ItemRow = [index: number, field: string | null, code: string];

type Expectation =
  /** Refused at the HTTP layer. */
  | { kind: 'http'; status: number; code?: string; message?: RegExp }
  /** A GraphQL error naming the problem; `code` where the server gives one. */
  | { kind: 'error'; message: RegExp; code?: string; only?: boolean; none?: string }
  /** An ingest answer: counts and per-item errors [index, field, code]. */
  | { kind: 'items'; accepted: number; duplicates: number; errors: ItemRow[]; message?: RegExp }
  /** Hostile-looking but legitimate: answered without errors. */
  | { kind: 'handled'; check?: (data: Record<string, unknown>) => void };

interface Case {
  category: string;
  name: string;
  request: Request;
  expect: Expectation;
  /** A server fault this suite may not fix: the case is skipped with this reason. */
}

const refused = (status: number, code?: string, message?: RegExp): Expectation => ({ kind: 'http', status, code, message });
/** `only`: no other error; `none`: no error of that code. */
const error = (message: RegExp, code?: string, options: { only?: boolean; none?: string } = {}): Expectation => ({ kind: 'error', message, code, ...options });
/**
 * Variable coercion errors: graphql-js (17, which executes every operation:
 * transport/graphql-js-execute.ts) reports them as
 * `Variable "$r" has invalid value at [1].value: <reason>`, and mask-error
 * adds code BAD_USER_INPUT. These cases check the reason names the type and
 * the value.
 */
const coercion = (message: RegExp): Expectation => ({ kind: 'error', message });
const items = (accepted: number, errors: ItemRow[], options: { duplicates?: number; message?: RegExp } = {}): Expectation => ({
  kind: 'items',
  accepted,
  duplicates: options.duplicates ?? 0,
  errors,
  message: options.message,
});
const handled = (check?: (data: Record<string, unknown>) => void): Expectation => ({ kind: 'handled', check });

const VALIDATION = 'GRAPHQL_VALIDATION_FAILED';
const PARSE = 'GRAPHQL_PARSE_FAILED';
const TOO_COMPLEX = 'QUERY_TOO_COMPLEX';
const BAD_INPUT = 'BAD_USER_INPUT';
const NUL_REFUSED = /must not contain the NUL character/;

// ---------------------------------------------------------------- documents and items

const RESULT = '{ accepted duplicates rejected lastCursor errors { index field code message } }';
const INGEST_READINGS = `mutation IngestReadings($r: [ReadingInput!]!) { ingestReadings(readings: $r) ${RESULT} }`;
const INGEST_TRADES = `mutation IngestTrades($t: [TradeInput!]!) { ingestTrades(trades: $t) ${RESULT} }`;
const INGEST_TRANSACTIONS = `mutation IngestTransactions($x: [TransactionInput!]!) { ingestTransactions(transactions: $x) ${RESULT} }`;

const reading = (over: Record<string, unknown> = {}) => ({ sourceId: 'bed-1', metric: 'heart_rate', time: nextTime(), value: 72, ...over });
const trade = (over: Record<string, unknown> = {}) => ({ symbol: 'ACME', time: nextTime(), price: 101.5, size: 3, ...over });
const transaction = (over: Record<string, unknown> = {}) => ({
  id: `tx-${++transactionIds}`,
  cardId: 'card-7f3a',
  time: nextTime(),
  amount: 42.5,
  currency: 'EUR',
  merchant: 'Corner Shop',
  location: { lat: 52.37, lon: 4.89 },
  ip: '192.0.2.10',
  ...over,
});
const readings = (...list: unknown[]): Request => ({ gql: INGEST_READINGS, variables: { r: list } });
const trades = (...list: unknown[]): Request => ({ gql: INGEST_TRADES, variables: { t: list } });
const transactions = (...list: unknown[]): Request => ({ gql: INGEST_TRANSACTIONS, variables: { x: list } });
/** One reading written inline in the document, `fields` being GraphQL literal syntax. */
const inlineReading = (fields: string): Request => ({
  gql: `mutation { ingestReadings(readings: [{ sourceId: "bed-1", metric: "heart_rate", time: "${nextTime()}", ${fields} }]) ${RESULT} }`,
});
const inlineTransaction = (fields: string): Request => ({
  gql: `mutation { ingestTransactions(transactions: [{ id: "tx-${++transactionIds}", cardId: "card-7f3a", time: "${nextTime()}", currency: "EUR", merchant: "Shop", ip: "192.0.2.1", ${fields} }]) ${RESULT} }`,
});
const post = (body: string | Buffer, contentType = 'application/json', method = 'POST'): Request => ({
  http: { method, headers: { 'content-type': contentType, accept: ACCEPT }, body },
});
const get = (params: Record<string, string>, headers: Record<string, string> = { accept: ACCEPT }): Request => ({
  http: { method: 'GET', path: `/graphql?${new URLSearchParams(params)}`, headers },
});
const head = (lines: string[]) => `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
const tiny = JSON.stringify({ query: '{ __typename }' });
const nested = (depth: number, open: string, close: string, inner: string) => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
const ids = (n: number, prefix = 'bed-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// ---------------------------------------------------------------- the corpus

const CASES: Case[] = [
  // ------------------------------------------------ broken JSON bodies and wrong content types
  ...(
    [
      ['an empty body', '', /invalid JSON/],
      ['truncated JSON', '{"query": "{ metrics { name } }"', /invalid JSON/],
      ['plain words', 'hello', /invalid JSON/],
      ['single-quoted JSON', "{'query': '{ __typename }'}", /invalid JSON/],
      ['a trailing comma', '{"query": "{ __typename }",}', /invalid JSON/],
      ['a UTF-8 byte order mark', '\uFEFF{"query": "{ __typename }"}', /invalid JSON/],
      ['a bare NaN token', `{"query": ${JSON.stringify(INGEST_READINGS)}, "variables": {"r": [{"sourceId": "bed-1", "metric": "heart_rate", "time": "${nextTime()}", "value": NaN}]}}`, /invalid JSON/],
      ['a bare Infinity token', `{"query": ${JSON.stringify(INGEST_READINGS)}, "variables": {"r": [{"sourceId": "bed-1", "metric": "heart_rate", "time": "${nextTime()}", "value": Infinity}]}}`, /invalid JSON/],
      ['a bare -Infinity token', `{"query": ${JSON.stringify(INGEST_TRADES)}, "variables": {"t": [{"symbol": "ACME", "time": "${nextTime()}", "price": -Infinity, "size": 1}]}}`, /invalid JSON/],
      ['a JSON array (batched operations)', '[{"query": "{ __typename }"}]', /Batching is not supported/],
      ['JSON null', 'null', /expected to be object but received null/],
      ['a JSON number', '42', /expected to be object but received number/],
      ['a JSON string', '"{ metrics { name } }"', /expected to be object but received string/],
      ['query as a number', '{"query": 42}', /"query" param to be a string/],
      ['query as an object', '{"query": {"metrics": "name"}}', /"query" param to be a string/],
      ['variables as a string', '{"query": "{ __typename }", "variables": "{}"}', /"variables" param to be empty or an object/],
      ['variables as an array', '{"query": "{ __typename }", "variables": [1, 2]}', /"variables" param to be empty or an object/],
      ['extensions as a string', '{"query": "{ __typename }", "extensions": "x"}', /"extensions" param to be empty or an object/],
    ] as const
  ).map(([name, body, message]): Case => ({ category: 'body', name, request: post(body), expect: refused(400, 'BAD_REQUEST', message) })),
  { category: 'body', name: 'invalid UTF-8 bytes', request: post(Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x7d])), expect: refused(400, 'BAD_REQUEST', /not valid UTF-8/) },
  {
    category: 'body',
    // A client that encodes in Latin-1 and names no charset: decoded as UTF-8 with the bad bytes replaced, the name
    // was stored as "M\ufffdller".
    name: 'a name in Latin-1 bytes in a mutation, no charset named (it would be stored with its letters replaced)',
    request: post(Buffer.from('{"query":"mutation { registerSources(sources: [{ id: \\"latin1-1\\", kind: PATIENT, name: \\"M\xfcller\\" }]) { name } }"}', 'latin1')),
    expect: refused(400, 'BAD_REQUEST', /^the request body is not valid UTF-8/),
  },
  { category: 'body', name: 'no query in the body', request: post('{"variables": {}}'), expect: error(/Must provide query string/, 'BAD_REQUEST') },
  { category: 'body', name: 'query null', request: post('{"query": null}'), expect: error(/Must provide query string/, 'BAD_REQUEST') },
  { category: 'body', name: 'content type text/plain', request: post(tiny, 'text/plain'), expect: refused(415) },
  { category: 'body', name: 'content type application/xml', request: post('<query>{ __typename }</query>', 'application/xml'), expect: refused(415) },
  { category: 'body', name: 'content type application/octet-stream', request: post(tiny, 'application/octet-stream'), expect: refused(415) },
  { category: 'body', name: 'JSON in charset iso-8859-1 (its accented letters would be stored replaced)', request: post(Buffer.from('{"query":"{ __typename }","x":"Jos\xe9"}', 'latin1'), 'application/json; charset=iso-8859-1'), expect: refused(415, 'UNSUPPORTED_MEDIA_TYPE', /charset "iso-8859-1"/) },
  { category: 'body', name: 'JSON declared charset=UTF-8, answered', request: post(tiny, 'application/json; charset=UTF-8'), expect: { kind: 'handled' } },
  { category: 'body', name: 'GET subscription asking for application/json only', request: get({ query: 'subscription { readings { cursor } }' }, { accept: 'application/json' }), expect: refused(406, 'NOT_ACCEPTABLE', /send Accept: text\/event-stream/) },
  { category: 'body', name: 'GET with variables that are not JSON', request: get({ query: '{ __typename }', variables: '{bad' }), expect: refused(400, 'BAD_REQUEST', /^variables is not valid JSON/) },
  { category: 'body', name: 'GET subscription over SSE with extensions that are not JSON', request: get({ query: 'subscription { readings { cursor } }', extensions: '[' }, { accept: 'text/event-stream' }), expect: refused(400, 'BAD_REQUEST', /^extensions is not valid JSON/) },
  { category: 'body', name: 'multipart with a broken boundary', request: post('--x\r\nContent-Disposition: form-data; name="operations"\r\n', 'multipart/form-data; boundary=x'), expect: refused(415, 'UNSUPPORTED_MEDIA_TYPE', /must be JSON/) },
  {
    category: 'body',
    name: 'a gzip-compressed body (Content-Encoding: gzip)',
    request: { http: { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', accept: ACCEPT }, body: gzipSync(tiny) } },
    expect: refused(415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Encoding "gzip" is not supported: send the body uncompressed/),
  },
  { category: 'body', name: 'Content-Encoding: identity', request: { http: { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity', accept: ACCEPT }, body: tiny } }, expect: handled((data) => expect(data).toEqual({ __typename: 'Query' })) },
  { category: 'body', name: 'method PUT', request: post(tiny, 'application/json', 'PUT'), expect: refused(405, 'BAD_REQUEST', /only supports GET and POST/) },
  { category: 'body', name: 'method DELETE', request: post(tiny, 'application/json', 'DELETE'), expect: refused(405, 'BAD_REQUEST', /only supports GET and POST/) },
  {
    category: 'body',
    name: 'a mutation posted as an HTML form (application/x-www-form-urlencoded)',
    request: post(`query=${encodeURIComponent('mutation { registerSources(sources: [{ id: "csrf-1", kind: PATIENT, name: "from a web page" }]) { id } }')}`, 'application/x-www-form-urlencoded'),
    // Browsers send form posts cross-site without a CORS preflight: accepting them would let any web page run
    // mutations against an open local server (CSRF).
    expect: refused(415, 'UNSUPPORTED_MEDIA_TYPE', /must be JSON/),
  },

  // ------------------------------------------------ HTTP framing and body size
  {
    category: 'http',
    name: 'a 10 MiB body: 413 after only 64 KiB were sent (the server does not wait for the rest)',
    request: { socket: [head([`Content-Length: ${10 * 1024 * 1024}`]), Buffer.alloc(64 * 1024, 0x20)] },
    expect: refused(413, 'PAYLOAD_TOO_LARGE', /10485760 bytes exceeds MAX_BODY_BYTES \(4194304\)/),
  },
  {
    category: 'http',
    name: 'a real 10 MiB ingest body sent with fetch',
    request: post(JSON.stringify({ query: INGEST_READINGS, variables: { r: [reading({ sourceId: 'x'.repeat(10 * 1024 * 1024) })] } })),
    expect: refused(413, 'PAYLOAD_TOO_LARGE', /exceeds MAX_BODY_BYTES/),
  },
  { category: 'http', name: 'Content-Length one byte above MAX_BODY_BYTES', request: { socket: [head([`Content-Length: ${MAX_BODY_BYTES + 1}`])] }, expect: refused(413, 'PAYLOAD_TOO_LARGE', /4194305 bytes/) },
  {
    category: 'http',
    name: 'a GET declaring a 100 MB body',
    request: { socket: ['GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n'] },
    expect: refused(413, 'PAYLOAD_TOO_LARGE'),
  },
  { category: 'http', name: 'a Content-Length smaller than the body (the rest is garbage)', request: { socket: [head(['Content-Length: 10']) + tiny] }, expect: refused(400) },
  { category: 'http', name: 'a Content-Length larger than the body, then the client closes its side', request: { socket: [head(['Content-Length: 1000']) + tiny], halfClose: true }, expect: refused(400) },
  {
    category: 'http',
    name: 'a Content-Length larger than the body, and the client goes silent',
    request: { socket: [head(['Content-Length: 1000']) + tiny], timeoutMs: 15_000 },
    expect: refused(408),
  },
  { category: 'http', name: 'a non-numeric Content-Length', request: { socket: [head(['Content-Length: abc']) + tiny] }, expect: refused(400) },
  { category: 'http', name: 'a negative Content-Length', request: { socket: [head(['Content-Length: -1']) + tiny] }, expect: refused(400) },
  { category: 'http', name: 'a Content-Length of 23 digits', request: { socket: [head(['Content-Length: 99999999999999999999999']) + tiny] }, expect: refused(400) },
  { category: 'http', name: 'two different Content-Length headers', request: { socket: [head([`Content-Length: ${tiny.length}`, 'Content-Length: 5']) + tiny] }, expect: refused(400) },
  { category: 'http', name: 'Content-Length together with Transfer-Encoding: chunked (request smuggling)', request: { socket: [head([`Content-Length: ${tiny.length}`, 'Transfer-Encoding: chunked']) + tiny] }, expect: refused(400) },
  {
    category: 'http',
    name: 'a chunked POST without Content-Length',
    request: { socket: [head(['Transfer-Encoding: chunked']) + `${tiny.length.toString(16)}\r\n${tiny}\r\n0\r\n\r\n`] },
    expect: refused(411, 'LENGTH_REQUIRED', /Content-Length/),
  },
  {
    category: 'http',
    name: 'an HTTP/1.0 POST without Content-Length',
    request: { socket: [`POST /graphql HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n${tiny}`], halfClose: true },
    expect: refused(411, 'LENGTH_REQUIRED'),
  },
  { category: 'http', name: 'a 100 KB header', request: { socket: [`GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${kb100}\r\n\r\n`] }, expect: refused(431) },
  { category: 'http', name: 'a garbage request line', request: { socket: ['GARBAGE / NOT-HTTP\r\n\r\n'] }, expect: refused(400) },

  // ------------------------------------------------ GraphQL syntax errors
  ...(
    [
      ['an unclosed selection set', '{ metrics { name }', /Expected Name, found <EOF>/],
      ['stray closing braces', '}}}', /Unexpected "}"/],
      ['an empty document', '', /Unexpected <EOF>/],
      ['whitespace only', '  \n\t  ', /Unexpected <EOF>/],
      ['a comment only', '# nothing to run', /Unexpected <EOF>/],
      ['an unterminated string', '{ sources(ids: ["bed-1) { edges { cursor } } }', /Unterminated string/],
      ['an unterminated block string', '{ sources(ids: ["""bed-1]) { edges { cursor } } }', /Unterminated string/],
      ['a bad unicode escape', '{ sources(ids: ["\\u12"]) { edges { cursor } } }', /Invalid Unicode escape sequence/],
      ['an invalid character', '{ metrics { name } } ~', /Unexpected character: "~"/],
      ['a NUL character in the document', '{ metrics { \u0000name } }', /Unexpected character: U\+0000/],
      ['a field name starting with a digit', '{ 1metrics { name } }', /Unexpected Int "1"|Invalid number/],
      ['an argument without a name', '{ readings(: 1) { edges { cursor } } }', /Expected Name, found ":"/],
      ['a variable without a type', 'query ($x) { __typename }', /Expected ":", found "\)"/],
      ['mismatched brackets in a literal', 'mutation { ingestReadings(readings: [{ ] ) { accepted } }', /Expected Name, found "\]"/],
      ['the keyword alone', 'query', /Expected "\{", found <EOF>/],
      ['-Infinity as a literal', `mutation { ingestReadings(readings: [{ sourceId: "bed-1", metric: "heart_rate", time: "${nextTime()}", value: -Infinity }]) { accepted } }`, /Invalid number, expected digit but got: "I"/],
    ] as const
  ).map(([name, query, message]): Case => ({ category: 'syntax', name, request: { gql: query }, expect: error(message, PARSE) })),

  // ------------------------------------------------ wrong types for every input field
  // ReadingInput, through variables
  { category: 'types', name: 'ReadingInput.sourceId as a number', request: readings(reading({ sourceId: 17 })), expect: coercion(/String cannot represent a non string value: 17/) },
  { category: 'types', name: 'ReadingInput.sourceId as a boolean', request: readings(reading({ sourceId: true })), expect: coercion(/String cannot represent a non string value: true/) },
  { category: 'types', name: 'ReadingInput.sourceId null', request: readings(reading({ sourceId: null })), expect: coercion(/non-null type "String!" not to be null/) },
  { category: 'types', name: 'ReadingInput.metric as an object', request: readings(reading({ metric: { name: 'heart_rate' } })), expect: coercion(/String cannot represent a non string value: \{ name: "heart_rate" \}/) },
  { category: 'types', name: 'ReadingInput.metric as an array', request: readings(reading({ metric: ['heart_rate'] })), expect: coercion(/String cannot represent a non string value: \["heart_rate"\]/) },
  { category: 'types', name: 'ReadingInput.time as epoch milliseconds (a number)', request: readings(reading({ time: 1_767_225_600_000 })), expect: coercion(/String cannot represent a non string value: 1767225600000/) },
  { category: 'types', name: 'ReadingInput.time null', request: readings(reading({ time: null })), expect: coercion(/non-null type "String!" not to be null/) },
  { category: 'types', name: 'ReadingInput.value as a string', request: readings(reading({ value: 'seventy' })), expect: coercion(/Float cannot represent non numeric value: "seventy"/) },
  { category: 'types', name: 'ReadingInput.value as a numeric string', request: readings(reading({ value: '72' })), expect: coercion(/Float cannot represent non numeric value: "72"/) },
  { category: 'types', name: 'ReadingInput.value as an object (operator injection)', request: readings(reading({ value: { $gt: 0 } })), expect: coercion(/Float cannot represent non numeric value: \{ \$gt: 0 \}/) },
  { category: 'types', name: 'ReadingInput.value as an array', request: readings(reading({ value: [72] })), expect: coercion(/Float cannot represent non numeric value: \[72\]/) },
  { category: 'types', name: 'ReadingInput.value as a boolean', request: readings(reading({ value: true })), expect: coercion(/Float cannot represent non numeric value: true/) },
  { category: 'types', name: 'ReadingInput.value null', request: readings(reading({ value: null })), expect: coercion(/non-null type "Float!" not to be null/) },
  { category: 'types', name: 'ReadingInput.unit as a number', request: readings(reading({ unit: 60 })), expect: coercion(/String cannot represent a non string value: 60/) },
  { category: 'types', name: 'ReadingInput.quality not in the enum', request: readings(reading({ quality: 'EXCELLENT' })), expect: coercion(/Value "EXCELLENT" does not exist in "Quality" enum/) },
  { category: 'types', name: 'ReadingInput.quality in lower case', request: readings(reading({ quality: 'good' })), expect: coercion(/Value "good" does not exist in "Quality" enum/) },
  { category: 'types', name: 'ReadingInput.quality as a number', request: readings(reading({ quality: 1 })), expect: coercion(/"Quality" cannot represent non-string value: 1/) },
  { category: 'types', name: 'a ReadingInput item null', request: readings(reading(), null), expect: coercion(/non-null type "ReadingInput!" not to be null/) },
  { category: 'types', name: 'a ReadingInput item as a string', request: readings('bed-1,heart_rate,72'), expect: coercion(/"ReadingInput" to be an object/) },
  { category: 'types', name: 'the readings list null', request: { gql: INGEST_READINGS, variables: { r: null } }, expect: coercion(/Variable "\$r" has invalid value: Expected value of non-null type "\[ReadingInput!\]!" not to be null/) },
  { category: 'types', name: 'a ReadingInput with an unknown field', request: readings(reading({ tenantId: 'other' })), expect: coercion(/not to include unknown field "tenantId"/) },
  { category: 'types', name: 'a ReadingInput without value', request: readings({ sourceId: 'bed-1', metric: 'heart_rate', time: nextTime() }), expect: coercion(/to include required field "value"/) },
  // ReadingInput, inline literals (validation errors, with a code)
  { category: 'types', name: 'inline ReadingInput.value as a string literal', request: inlineReading('value: "72"'), expect: error(/Float cannot represent non numeric value: "72"/, VALIDATION) },
  { category: 'types', name: 'inline ReadingInput.quality as a string instead of an enum', request: inlineReading('value: 72, quality: "GOOD"'), expect: error(/"Quality" cannot represent non-enum value: "GOOD"/, VALIDATION) },
  { category: 'types', name: 'inline ReadingInput.unit as an object', request: inlineReading('value: 72, unit: { name: "/min" }'), expect: error(/String cannot represent a non string value: \{ name: "\/min" \}/, VALIDATION) },
  // TradeInput
  { category: 'types', name: 'TradeInput.symbol as a number', request: trades(trade({ symbol: 42 })), expect: coercion(/String cannot represent a non string value: 42/) },
  { category: 'types', name: 'TradeInput.time as a boolean', request: trades(trade({ time: false })), expect: coercion(/String cannot represent a non string value: false/) },
  { category: 'types', name: 'TradeInput.price as a string', request: trades(trade({ price: '101.50' })), expect: coercion(/Float cannot represent non numeric value: "101.50"/) },
  { category: 'types', name: 'TradeInput.size as an object', request: trades(trade({ size: { lots: 3 } })), expect: coercion(/Float cannot represent non numeric value: \{ lots: 3 \}/) },
  { category: 'types', name: 'TradeInput.price null', request: trades(trade({ price: null })), expect: coercion(/non-null type "Float!" not to be null/) },
  { category: 'types', name: 'a TradeInput without size', request: trades({ symbol: 'ACME', time: nextTime(), price: 1 }), expect: coercion(/to include required field "size"/) },
  { category: 'types', name: 'inline TradeInput.price as a boolean', request: { gql: `mutation { ingestTrades(trades: [{ symbol: "ACME", time: "${nextTime()}", price: true, size: 1 }]) ${RESULT} }` }, expect: error(/Float cannot represent non numeric value: true/, VALIDATION) },
  // TransactionInput
  { category: 'types', name: 'TransactionInput.id as a number', request: transactions(transaction({ id: 123 })), expect: coercion(/String cannot represent a non string value: 123/) },
  { category: 'types', name: 'TransactionInput.cardId as an array', request: transactions(transaction({ cardId: ['card-1'] })), expect: coercion(/String cannot represent a non string value: \["card-1"\]/) },
  { category: 'types', name: 'TransactionInput.amount as a boolean', request: transactions(transaction({ amount: true })), expect: coercion(/Float cannot represent non numeric value: true/) },
  { category: 'types', name: 'TransactionInput.currency null', request: transactions(transaction({ currency: null })), expect: coercion(/non-null type "String!" not to be null/) },
  { category: 'types', name: 'TransactionInput.merchant as a number', request: transactions(transaction({ merchant: 7 })), expect: coercion(/String cannot represent a non string value: 7/) },
  { category: 'types', name: 'TransactionInput.location as a string', request: transactions(transaction({ location: '52.37,4.89' })), expect: coercion(/"LocationInput" to be an object, found: "52.37,4.89"/) },
  { category: 'types', name: 'TransactionInput.location as an array', request: transactions(transaction({ location: [52.37, 4.89] })), expect: coercion(/"LocationInput" to be an object, found: \[52.37, 4.89\]/) },
  { category: 'types', name: 'TransactionInput.location null', request: transactions(transaction({ location: null })), expect: coercion(/non-null type "LocationInput!" not to be null/) },
  { category: 'types', name: 'LocationInput.lat as a string', request: transactions(transaction({ location: { lat: '52.37', lon: 4.89 } })), expect: coercion(/Float cannot represent non numeric value: "52.37"/) },
  { category: 'types', name: 'LocationInput without lon', request: transactions(transaction({ location: { lat: 52.37 } })), expect: coercion(/"LocationInput" to include required field "lon"/) },
  { category: 'types', name: 'TransactionInput.ip as a number', request: transactions(transaction({ ip: 3_232_235_777 })), expect: coercion(/String cannot represent a non string value: 3232235777/) },
  { category: 'types', name: 'TransactionInput.time as an object', request: transactions(transaction({ time: { epoch: 0 } })), expect: coercion(/String cannot represent a non string value: \{ epoch: 0 \}/) },
  { category: 'types', name: 'inline TransactionInput.location as a list', request: inlineTransaction('amount: 1, location: [1, 2]'), expect: error(/LocationInput/, VALIDATION) },

  // ------------------------------------------------ NaN, Infinity, overflow, -0, huge and tiny numbers
  { category: 'numbers', name: 'value: NaN as a GraphQL literal', request: inlineReading('value: NaN'), expect: error(/Float cannot represent non numeric value: NaN/, VALIDATION) },
  { category: 'numbers', name: 'value: Infinity as a GraphQL literal', request: inlineReading('value: Infinity'), expect: error(/Float cannot represent non numeric value: Infinity/, VALIDATION) },
  { category: 'numbers', name: 'value "NaN" as a JSON string', request: readings(reading({ value: 'NaN' })), expect: coercion(/Float cannot represent non numeric value: "NaN"/) },
  { category: 'numbers', name: 'value "Infinity" as a JSON string', request: readings(reading({ value: 'Infinity' })), expect: coercion(/Float cannot represent non numeric value: "Infinity"/) },
  { category: 'numbers', name: 'price "-Infinity" as a JSON string', request: trades(trade({ price: '-Infinity' })), expect: coercion(/Float cannot represent non numeric value: "-Infinity"/) },
  {
    category: 'numbers',
    name: 'value 1e309 in JSON variables (parses to Infinity)',
    request: post(`{"query": ${JSON.stringify(INGEST_READINGS)}, "variables": {"r": [{"sourceId": "bed-1", "metric": "heart_rate", "time": "${nextTime()}", "value": 1e309}]}}`),
    expect: coercion(/Float cannot represent non numeric value: Infinity/),
  },
  {
    category: 'numbers',
    name: 'size -1e309 in JSON variables',
    request: post(`{"query": ${JSON.stringify(INGEST_TRADES)}, "variables": {"t": [{"symbol": "ACME", "time": "${nextTime()}", "price": 1, "size": -1e309}]}}`),
    expect: coercion(/Float cannot represent non numeric value: -Infinity/),
  },
  { category: 'numbers', name: 'value: 1e309 as a GraphQL literal', request: inlineReading('value: 1e309'), expect: items(0, [[0, 'value', 'INVALID_VALUE']], { message: /finite number/ }) },
  { category: 'numbers', name: 'value: -1e309 as a GraphQL literal', request: inlineReading('value: -1e309'), expect: items(0, [[0, 'value', 'INVALID_VALUE']], { message: /finite number/ }) },
  { category: 'numbers', name: 'value 1e300 (squares overflow SQL avg and window stddev)', request: readings(reading({ value: 1e300 })), expect: items(0, [[0, 'value', 'INVALID_VALUE']], { message: /between -1e15 and 1e15/ }) },
  { category: 'numbers', name: 'value -1.7e308', request: readings(reading({ value: -1.7e308 })), expect: items(0, [[0, 'value', 'INVALID_VALUE']], { message: /between -1e15 and 1e15/ }) },
  { category: 'numbers', name: 'value 1e15, the largest accepted (stored SUSPECT)', request: readings(reading({ value: 1e15 })), expect: items(1, []) },
  { category: 'numbers', name: 'value -0 as a literal, stored as 0', request: inlineReading('value: -0'), expect: items(1, []) },
  { category: 'numbers', name: 'value 5e-324 (the smallest subnormal), stored', request: readings(reading({ value: 5e-324 })), expect: items(1, []) },
  { category: 'numbers', name: 'value 2^53 + 1 (above 1e15)', request: readings(reading({ value: 9_007_199_254_740_993 })), expect: items(0, [[0, 'value', 'INVALID_VALUE']], { message: /between -1e15 and 1e15/ }) },
  { category: 'numbers', name: 'trade price 1e300 (price × size overflows volume and VWAP)', request: trades(trade({ price: 1e300 })), expect: items(0, [[0, 'price', 'INVALID_PRICE']], { message: /at most 1e15/ }) },
  { category: 'numbers', name: 'trade size 1.7e308', request: trades(trade({ size: 1.7e308 })), expect: items(0, [[0, 'size', 'INVALID_SIZE']], { message: /at most 1e15/ }) },
  { category: 'numbers', name: 'trade price 0 and size -1', request: trades(trade({ price: 0, size: -1 })), expect: items(0, [[0, 'price', 'INVALID_PRICE'], [0, 'size', 'INVALID_SIZE']], { message: /greater than 0/ }) },
  { category: 'strings', name: 'trade id of 65 characters', request: trades(trade({ tradeId: 'T'.repeat(65) })), expect: items(0, [[0, 'tradeId', 'INVALID_TRADE_ID']], { message: /1-64 characters/ }) },
  { category: 'numbers', name: 'trade price 5e-324, stored', request: trades(trade({ price: 5e-324 })), expect: items(1, []) },
  { category: 'numbers', name: 'transaction amount 1e300', request: transactions(transaction({ amount: 1e300 })), expect: items(0, [[0, 'amount', 'INVALID_AMOUNT']], { message: /^amount must be at most 1e12 \(implausibly large\)$/ }) },
  { category: 'numbers', name: 'transaction amount -0', request: transactions(transaction({ amount: -0 })), expect: items(0, [[0, 'amount', 'INVALID_AMOUNT']], { message: /greater than 0/ }) },
  { category: 'numbers', name: 'location lat: 1e309 as a literal', request: inlineTransaction('amount: 1, location: { lat: 1e309, lon: 0 }'), expect: items(0, [[0, 'location', 'INVALID_LOCATION']], { message: /location.lat/ }) },
  { category: 'numbers', name: 'location lon -180.000001', request: transactions(transaction({ location: { lat: 0, lon: -180.000001 } })), expect: items(0, [[0, 'location', 'INVALID_LOCATION']], { message: /between -180 and 180/ }) },
  { category: 'numbers', name: 'first: 2147483648 (past Int)', request: { gql: '{ readings(first: 2147483648) { edges { cursor } } }' }, expect: error(/Int cannot represent non 32-bit signed integer value: 2147483648/, VALIDATION) },
  { category: 'numbers', name: 'first: 1.5', request: { gql: '{ readings(first: 1.5) { edges { cursor } } }' }, expect: error(/Int cannot represent non-integer value: 1.5/, VALIDATION) },
  { category: 'numbers', name: 'first: -1', request: { gql: '{ readings(first: -1) { edges { cursor } } }' }, expect: error(/first must be between 1 and 1000, got -1/, BAD_INPUT) },
  { category: 'numbers', name: 'first: 2147483647', request: { gql: '{ readings(first: 2147483647) { edges { cursor } } }' }, expect: error(/first must be between 1 and 1000, got 2147483647/, BAD_INPUT) },

  // ------------------------------------------------ timestamps
  ...(
    [
      ['far in the future (2999)', '2999-01-01T00:00:00Z', 'TIME_OUT_OF_RANGE'],
      ['ten minutes ahead (past MAX_FUTURE_SKEW)', new Date(Date.now() + 10 * 60_000).toISOString(), 'TIME_OUT_OF_RANGE'],
      ['year 1', '0001-01-01T00:00:00Z', 'TIME_OUT_OF_RANGE'],
      ['year 1900', '1900-01-01T00:00:00Z', 'TIME_OUT_OF_RANGE'],
      ['the Unix epoch (a clock reset to 1970)', '1970-01-01T00:00:00Z', 'TIME_OUT_OF_RANGE'],
      ['year 275760 (the end of the JS Date range)', '+275760-09-13T00:00:00Z', 'INVALID_TIME'],
      ['a negative year', '-000001-01-01T00:00:00Z', 'INVALID_TIME'],
      ['no time zone', '2026-01-01T08:00:00', 'INVALID_TIME'],
      ['a date only', '2026-01-01', 'INVALID_TIME'],
      ['February 30th', '2026-02-30T00:00:00Z', 'INVALID_TIME'],
      ['February 29th of a common year', '2025-02-29T00:00:00Z', 'INVALID_TIME'],
      ['hour 25', '2026-01-01T25:00:00Z', 'INVALID_TIME'],
      ['minute 60', '2026-01-01T23:60:00Z', 'INVALID_TIME'],
      ['offset +99:99', '2026-01-01T00:00:00+99:99', 'INVALID_TIME'],
      ['epoch milliseconds as a string', '1767225600000', 'INVALID_TIME'],
      ['an RFC 2822 date', 'Thu, 01 Jan 2026 00:00:00 GMT', 'INVALID_TIME'],
      ['a word', 'yesterday', 'INVALID_TIME'],
      ['an ISO week date', '2026-W01-1T00:00:00Z', 'INVALID_TIME'],
      // ISO-8601 forms outside RFC 3339, which ingest keeps to: the message says which form it takes.
      ['an offset without its colon', '2026-01-01T10:00:00+0100', 'INVALID_TIME'],
      ['no seconds', '2026-01-01T10:00Z', 'INVALID_TIME'],
      ['hour 24 (the end of the day)', '2026-01-01T24:00:00Z', 'INVALID_TIME'],
    ] as const
  ).map(([name, time, code]): Case => ({
    category: 'time',
    name: `reading time ${name}`,
    request: readings(reading({ time })),
    expect: items(0, [[0, 'time', code]], { message: code === 'INVALID_TIME' ? /ISO-8601 timestamp with seconds and a time zone \(Z or ±hh:mm\)/ : /outside the accepted range/ }),
  })),
  { category: 'time', name: 'trade time February 30th', request: trades(trade({ time: '2026-02-30T12:00:00Z' })), expect: items(0, [[0, 'time', 'INVALID_TIME']]) },
  { category: 'time', name: 'transaction time far in the future', request: transactions(transaction({ time: '2500-01-01T00:00:00Z' })), expect: items(0, [[0, 'time', 'TIME_OUT_OF_RANGE']]) },
  { category: 'time', name: 'readings(from:) year 0 (PostgreSQL cannot store it)', request: { gql: '{ readings(from: "0000-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/outside the years 0001 to 9999/, VALIDATION) },
  { category: 'time', name: 'readings(from:) year 1 with an offset that makes it year 0 in UTC', request: { gql: '{ readings(from: "0001-01-01T00:00:00+01:00") { edges { cursor } } }' }, expect: error(/outside the years 0001 to 9999/, VALIDATION) },
  { category: 'time', name: 'readings(from:) February 30th', request: { gql: '{ readings(from: "2026-02-30T00:00:00Z") { edges { cursor } } }' }, expect: error(/not a calendar date/, VALIDATION) },
  { category: 'time', name: 'readings(to:) year 275760', request: { gql: '{ readings(to: "275760-09-13T00:00:00Z") { edges { cursor } } }' }, expect: error(/DateTime must be an ISO-8601 timestamp with seconds and a time zone/, VALIDATION) },
  { category: 'time', name: 'readings(from:) without a time zone', request: { gql: '{ readings(from: "2026-01-01T00:00:00") { edges { cursor } } }' }, expect: error(/DateTime must be an ISO-8601 timestamp with seconds and a time zone/, VALIDATION) },
  // As ingest: 24:00 is refused, not rolled over to the next day, and seconds are required.
  { category: 'time', name: 'createApiKey(expiresAt:) at 24:00', request: { gql: 'mutation { createApiKey(role: read, name: "k", expiresAt: "2030-01-01T24:00:00Z") { key } }' }, expect: error(/DateTime must be an ISO-8601 timestamp with seconds and a time zone/, VALIDATION) },
  { category: 'time', name: 'readings(from:) without seconds', request: { gql: '{ readings(from: "2026-12-06T10:00Z") { edges { cursor } } }' }, expect: error(/DateTime must be an ISO-8601 timestamp with seconds and a time zone/, VALIDATION) },
  { category: 'time', name: 'readings(from:) as an epoch number', request: { gql: '{ readings(from: 1767225600000) { edges { cursor } } }' }, expect: error(/DateTime must be an ISO-8601 timestamp with seconds and a time zone, e\.g\. 2026-01-01T12:00:00Z; got 1767225600000$/, VALIDATION) },
  {
    category: 'time',
    name: 'history(from:) year 0 through a variable',
    request: { gql: 'query ($f: DateTime!) { history(sourceId: "bed-1", metric: "heart_rate", bucket: "1d", from: $f, to: "2026-01-01T00:00:00Z") { bucket value } }', variables: { f: '0000-01-01T00:00:00Z' } },
    expect: coercion(/outside the years 0001 to 9999/),
  },
  { category: 'time', name: 'alerts(from:) year 0', request: { gql: '{ alerts(from: "0000-06-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/outside the years 0001 to 9999/, VALIDATION) },
  { category: 'time', name: 'fraudSignals(to:) negative year', request: { gql: '{ fraudSignals(to: "-2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/DateTime must be an ISO-8601/, VALIDATION) },
  { category: 'time', name: 'windows(from:) year 0', request: { gql: '{ windows(sourceId: "bed-1", metric: "heart_rate", window: "1m", from: "0000-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/outside the years 0001 to 9999/, VALIDATION) },
  { category: 'time', name: 'createApiKey(expiresAt:) in year 10000 UTC', request: { gql: 'mutation { createApiKey(name: "far", role: read, expiresAt: "9999-12-31T23:59:59-14:00") { key } }' }, expect: error(/outside the years 0001 to 9999/, VALIDATION) },
  { category: 'time', name: 'createApiKey(expiresAt:) in the past', request: { gql: 'mutation { createApiKey(name: "past", role: read, expiresAt: "2001-01-01T00:00:00Z") { key } }' }, expect: error(/expiresAt must be in the future/, BAD_INPUT) },
  { category: 'time', name: 'readings with to before from', request: { gql: '{ readings(from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/to must be after from/, BAD_INPUT) },
  { category: 'operations', name: 'readings page after an empty cursor', request: { gql: '{ readings(after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  // Every list alike: these took "" as no cursor, and a client that blanked its cursor started over for as long as it polled.
  { category: 'operations', name: 'windows page after an empty cursor', request: { gql: '{ windows(sourceId: "bed-1", metric: "heart_rate", window: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  { category: 'operations', name: 'news2Scores page after an empty cursor', request: { gql: '{ news2Scores(after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  { category: 'operations', name: 'sources page after an empty cursor', request: { gql: '{ sources(after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  { category: 'operations', name: 'apiKeys page after an empty cursor', request: { gql: '{ apiKeys(after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  { category: 'time', name: 'alerts with to equal to from', request: { gql: '{ alerts(from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/to must be after from/, BAD_INPUT) },
  { category: 'time', name: 'fraudSignals with to before from', request: { gql: '{ fraudSignals(from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/to must be after from/, BAD_INPUT) },
  { category: 'time', name: 'anomalies with to before from', request: { gql: '{ anomalies(from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { edges { cursor } } }' }, expect: error(/to must be after from/, BAD_INPUT) },
  { category: 'time', name: 'history with to before from', request: { gql: '{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "1m", from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { bucket } }' }, expect: error(/to must be after from/, BAD_INPUT) },
  { category: 'time', name: 'history bucket "0s"', request: { gql: '{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "0s", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }' }, expect: error(/^bucket must be greater than 0, got "0s"$/, BAD_INPUT) },
  {
    category: 'time',
    name: 'history bucket "99999999999999d"',
    request: { gql: '{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "99999999999999d", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }' },
    expect: error(/^bucket may be at most 3650d, got "99999999999999d"$/, BAD_INPUT),
  },
  {
    category: 'time',
    name: 'history bucket of 320 digits (Infinity as a number)',
    request: { gql: `{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "${'9'.repeat(320)}d", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }` },
    expect: error(/^bucket may be at most 3650d, got "9{320}d"$/, BAD_INPUT),
  },
  {
    category: 'time',
    name: 'NO_DATA rule expecting data every 320-digit days',
    request: { gql: `mutation { createAlertRule(input: { kind: NO_DATA, name: "x", metric: "heart_rate", expectedInterval: "${'9'.repeat(320)}d" }) { id } }` },
    expect: error(/^expectedInterval is too long, got "9{320}d"$/, BAD_INPUT),
  },
  { category: 'time', name: 'windows(after:) past the last instant a date can hold', request: { gql: '{ windows(sourceId: "bed-1", metric: "heart_rate", window: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "8640000000000001") { edges { cursor } } }' }, expect: error(/after must be an endCursor returned by this API/, BAD_INPUT) },
  { category: 'time', name: 'candles(after:) past the last instant a date can hold', request: { gql: '{ candles(symbol: "ACME", interval: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "-8640000000000001") { edges { cursor } } }' }, expect: error(/after must be an endCursor returned by this API/, BAD_INPUT) },
  { category: 'operations', name: 'candles page after an empty cursor', request: { gql: '{ candles(symbol: "ACME", interval: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "") { edges { cursor } } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  {
    category: 'time',
    name: 'history from the year 0001 in buckets that align it down before the year 0001',
    request: { gql: '{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "3650d", from: "0001-01-01T00:00:00Z", to: "9999-12-31T00:00:00Z") { bucket } }' },
    expect: error(/^from 0001-01-01T00:00:00.000Z aligned down to its 3650d bucket falls before the year 0001: use a later from or a smaller bucket$/, BAD_INPUT),
  },
  { category: 'time', name: 'windows(after:) before the year 0001', request: { gql: '{ windows(sourceId: "bed-1", metric: "heart_rate", window: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "-62200000000000") { edges { cursor } } }' }, expect: error(/after must be an endCursor returned by this API/, BAD_INPUT) },
  { category: 'strings', name: 'candles of a patient (not an instrument)', request: { gql: '{ candles(symbol: "bed-1", interval: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { edges { cursor } } }' }, expect: error(/^symbol: "bed-1" is a patient or device, not an instrument: candles are made from trades$/, BAD_INPUT) },
  { category: 'subscriptions', name: 'live candles of a patient (not an instrument)', request: { sse: 'subscription { candles(symbols: ["ACME", "bed-1"]) { open } }' }, expect: error(/^symbols: "bed-1" is a patient or device, not an instrument/, BAD_INPUT) },
  { category: 'time', name: 'candles(after:) far before the year 0001', request: { gql: '{ candles(symbol: "ACME", interval: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", after: "-8000000000000000") { edges { cursor } } }' }, expect: error(/after must be an endCursor returned by this API/, BAD_INPUT) },
  { category: 'strings', name: 'history of a misspelt metric', request: { gql: '{ history(sourceId: "bed-1", metric: "heart-rate", bucket: "1h", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }' }, expect: error(/metric "heart-rate" is not in the catalog/, BAD_INPUT) },
  { category: 'strings', name: 'readings(metrics:) with a misspelt metric', request: { gql: '{ readings(metrics: ["heart_rate", "sp02"]) { edges { cursor } } }' }, expect: error(/metric "sp02" is not in the catalog/, BAD_INPUT) },
  { category: 'strings', name: 'sources { latest(metrics:) } with a misspelt metric', request: { gql: '{ sources { edges { node { latest(metrics: ["temp"]) { value } } } } }' }, expect: error(/metric "temp" is not in the catalog/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings(metrics:) live with a misspelt metric', request: { sse: 'subscription { readings(metrics: ["HR"]) { cursor } }' }, expect: error(/metric "HR" is not in the catalog/, BAD_INPUT) },
  { category: 'operations', name: 'readings filtered by an empty list of sources (not "all")', request: { gql: '{ readings(sourceIds: []) { edges { node { cursor } } } }' }, expect: error(/sourceIds is an empty list: name at least one value, or leave sourceIds out for all/, BAD_INPUT) },
  { category: 'operations', name: 'alerts filtered by an empty list of states, through a variable', request: { gql: 'query A($s: [AlertState!]) { alerts(states: $s) { edges { node { id } } } }', variables: { s: [] } }, expect: error(/states is an empty list/, BAD_INPUT) },
  { category: 'operations', name: 'a subscription filtered by an empty list of metrics', request: { sse: 'subscription { readings(metrics: []) { cursor } }' }, expect: error(/metrics is an empty list/, BAD_INPUT) },
  // A default is the client's value too: `= []` must not read as "all" (it answered the whole tenant).
  { category: 'operations', name: 'readings filtered by a variable whose default is an empty list', request: { gql: 'query($s: [ID!] = []) { readings(sourceIds: $s, first: 3) { edges { cursor } } }' }, expect: error(/^sourceIds is an empty list/, BAD_INPUT) },
  { category: 'operations', name: 'a subscription filtered by a variable whose default is an empty list', request: { sse: 'subscription($m: [String!] = []) { readings(metrics: $m) { cursor } }' }, expect: error(/^metrics is an empty list/, BAD_INPUT) },
  {
    category: 'operations',
    name: 'a variable default that is not empty, and a sent value that overrides an empty default',
    request: { gql: 'query($s: [ID!] = ["bed-1"], $m: [String!] = []) { readings(sourceIds: $s, metrics: $m, first: 3) { edges { cursor } } }', variables: { m: ['heart_rate'] } },
    expect: handled((data) => expect(data.readings).toMatchObject({ edges: expect.any(Array) })),
  },
  { category: 'operations', name: 'a variable default with NUL in it', request: { gql: 'query($s: [ID!] = ["bed-1\\u0000"]) { readings(sourceIds: $s) { edges { cursor } } }' }, expect: error(/^sourceIds must not contain the NUL character/, BAD_INPUT) },
  // graphql-js coerces variables recursively: 10,000 levels overflowed the stack (an internal error, a stack trace at error level).
  {
    category: 'complexity',
    name: 'a filter variable nested 10,000 lists deep',
    // Written as text: JSON.stringify overflows on it too.
    request: post(`{"query":"query($s: [ID!]) { readings(sourceIds: $s, first: 1) { edges { cursor } } }","variables":{"s":${nested(10_000, '[', ']', '"bed-1"')}}}`),
    expect: error(/^variable \$s nests lists and objects more than 32 deep$/, BAD_INPUT),
  },
  {
    category: 'complexity',
    name: 'an ingest item nested 100,000 objects deep',
    request: post(`{"query":${JSON.stringify(INGEST_READINGS)},"variables":{"r":[${JSON.stringify(reading()).slice(0, -1)},"location":${nested(100_000, '{"a":', '}', '1')}}]}}`),
    expect: error(/^variable \$r nests lists and objects more than 32 deep$/, BAD_INPUT),
  },
  { category: 'operations', name: 'a LAST threshold rule with a window it would not use', request: { gql: 'mutation { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: "heart_rate", above: 120, window: "5m" }) { id } }' }, expect: error(/aggregate LAST judges each reading alone and takes no window/, BAD_INPUT) },
  {
    category: 'operations',
    name: 'an alert rule naming one source twice',
    request: { gql: 'mutation { createAlertRule(input: { kind: THRESHOLD, name: "twice", metric: "heart_rate", above: 150, sourceIds: ["bed-1", "bed-1"] }) { sourceIds } }' },
    expect: handled((data) => expect(data.createAlertRule).toEqual({ sourceIds: ['bed-1'] })),
  },
  { category: 'operations', name: 'an alert rule on an empty list of sources', request: { gql: 'mutation { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: "heart_rate", above: 120, sourceIds: [] }) { id } }' }, expect: error(/sourceIds must name at least one source/, BAD_INPUT) },

  // ------------------------------------------------ query depth, width, aliases, directives, tokens, fragments
  { category: 'complexity', name: '13 nested inline fragments (depth 12 + 1)', request: { gql: `{ ${nested(13, '... on Query { ', ' }', 'metrics { name }')} }` }, expect: error(/Query depth limit of 12 exceeded/, TOO_COMPLEX) },
  {
    category: 'complexity',
    name: 'a chain of 20 named fragments',
    request: { gql: `{ ...F1 } ${Array.from({ length: 19 }, (_, i) => `fragment F${i + 1} on Query { ...F${i + 2} }`).join(' ')} fragment F20 on Query { metrics { name } }` },
    expect: error(/Query depth limit of 12 exceeded/, TOO_COMPLEX),
  },
  {
    category: 'complexity',
    name: 'inline fragments inside named fragments',
    request: { gql: `{ ${nested(7, '... on Query { ', ' }', '...F')} } fragment F on Query { ${nested(7, '... on Query { ', ' }', '__typename')} }` },
    expect: error(/Query depth limit of 12 exceeded/, TOO_COMPLEX),
  },
  // graphql-js's own work budget for overlapping fields: its bare "Validation aborted." named no limit.
  { category: 'complexity', name: '1,000 __typename at one level', request: { gql: `{ ${'__typename '.repeat(1_000)}}` }, expect: error(/^the document is too large to check: too many fields in one selection/, TOO_COMPLEX) },
  {
    category: 'complexity',
    name: '101 misspelt fields: each named, none said to be too complex',
    request: { gql: `{ ${Array.from({ length: 101 }, (_, i) => `nope${i}`).join(' ')} }` },
    expect: error(/^Cannot query field "nope0" on type "Query"/, VALIDATION, { none: TOO_COMPLEX }),
  },
  { category: 'complexity', name: '500 metrics { name } at one level', request: { gql: `{ ${'metrics { name } '.repeat(500)}}` }, expect: error(/^the document is too large to check/, TOO_COMPLEX) },
  {
    category: 'complexity',
    name: 'a document too deep for both depth limits is refused once, by the lower one',
    request: { gql: `{ ${nested(40, '... on Query { ', ' }', 'metrics { name }')} }` },
    expect: error(/^Query depth limit of 12 exceeded/, TOO_COMPLEX, { only: true }),
  },
  { category: 'complexity', name: 'an alias bomb: 300 aliases of one field', request: { gql: `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: metrics { name unit }`).join(' ')} }` }, expect: error(/Aliases limit of 15 exceeded, found 300/, TOO_COMPLEX) },
  { category: 'complexity', name: '16 aliases (one over MAX_ALIASES)', request: { gql: `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: metrics { name }`).join(' ')} }` }, expect: error(/Aliases limit of 15 exceeded, found 16/, TOO_COMPLEX) },
  { category: 'complexity', name: 'aliases hidden in a fragment', request: { gql: `{ ...A } fragment A on Query { ${Array.from({ length: 40 }, (_, i) => `m${i}: metrics { name }`).join(' ')} }` }, expect: error(/Aliases limit of 15 exceeded/, TOO_COMPLEX) },
  { category: 'complexity', name: 'a directive flood: 200 @include on one field', request: { gql: `{ metrics ${'@include(if: true) '.repeat(200)}{ name } }` }, expect: error(/Directives limit of 50 exceeded, found 200/, TOO_COMPLEX) },
  { category: 'complexity', name: '60 fields with one @skip each', request: { gql: `{ ${'metrics @skip(if: false) { name } '.repeat(60)}}` }, expect: error(/Directives limit of 50 exceeded, found 60/, TOO_COMPLEX) },
  { category: 'complexity', name: 'a token flood: 50,000 tokens', request: { gql: `{ metrics { ${'name '.repeat(50_000)}} }` }, expect: error(/more than 10000 tokens/, TOO_COMPLEX) },
  { category: 'complexity', name: 'a wide query: 3,000 selections', request: { gql: `{ ${'metrics { name unit min max description } '.repeat(3_000)}}` }, expect: error(/more than 10000 tokens/, TOO_COMPLEX) },
  {
    category: 'complexity',
    name: 'an expensive query within the token and alias limits: 10 month-long histories by the minute',
    request: {
      gql: `{ ${Array.from({ length: 10 }, (_, i) => `h${i}: history(sourceId: "p1", metric: "heart_rate", from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", bucket: "1m") { bucket value }`).join(' ')} }`,
    },
    expect: error(/the operation may answer 100000 objects, more than MAX_QUERY_COST \(50000\); h0 costs the most: .*fewer history buckets \(a shorter range or a wider bucket\)/, TOO_COMPLEX),
  },
  {
    category: 'complexity',
    name: 'page sizes as variables count as literals do: 15 full pages of sources with their latest readings',
    request: {
      gql: `query($f: Int) { ${Array.from({ length: 15 }, (_, i) => `s${i}: sources(first: $f) { edges { node { id latest { value } } } }`).join(' ')} }`,
      variables: { f: 500 },
    },
    expect: error(/the operation may answer 9\d{4} objects, more than MAX_QUERY_COST \(50000\); s0 costs the most/, TOO_COMPLEX),
  },
  { category: 'complexity', name: 'a fragment cycle A → B → A', request: { gql: '{ metrics { ...A } } fragment A on Metric { name ...B } fragment B on Metric { unit ...A }' }, expect: error(/Cannot spread fragment "A" within itself via "B"/, VALIDATION) },
  { category: 'complexity', name: 'a fragment that spreads itself', request: { gql: '{ metrics { ...A } } fragment A on Metric { name ...A }' }, expect: error(/Cannot spread fragment "A" within itself/, VALIDATION) },
  { category: 'complexity', name: 'a spread of an unknown fragment', request: { gql: '{ metrics { ...Nope } }' }, expect: error(/Unknown fragment "Nope"/, VALIDATION) },
  { category: 'complexity', name: 'an unused fragment', request: { gql: '{ metrics { name } } fragment A on Metric { name }' }, expect: error(/Fragment "A" is never used/, VALIDATION) },
  { category: 'complexity', name: 'a fragment on a type that does not exist', request: { gql: '{ metrics { ...A } } fragment A on Nope { name }' }, expect: error(/Unknown type "Nope"/, VALIDATION) },
  {
    category: 'complexity',
    name: 'selections nested 2,500 deep (about 7,500 tokens, under MAX_TOKENS)',
    request: { gql: `{ __schema { types { ${nested(2_500, 'ofType { ', ' }', 'name')} } } }` },
    expect: error(/depth|nest/i, TOO_COMPLEX),
  },
  {
    category: 'complexity',
    name: 'a list literal nested 2,500 deep',
    request: { gql: `{ readings(sourceIds: ${nested(2_500, '[', ']', '"bed-1"')}) { edges { cursor } } }` },
    expect: error(/depth|nest/i, TOO_COMPLEX),
  },

  // ------------------------------------------------ hostile strings: unknown names, traversal, injection, NUL, control, RTL, emoji, 100 KB
  ...(
    [
      ['a path-traversal sourceId', '../../etc/passwd'],
      ['an SQL-injection sourceId', "'; drop table readings; --"],
      ['an SQL-injection sourceId (tautology)', "bed-1' OR '1'='1"],
      ['a sourceId with NUL', 'bed-1\u0000'],
      ['a sourceId with a trailing newline', 'bed-1\n'],
      ['a sourceId with an RTL override', RTL],
      ['a sourceId with control characters', 'bed\u0007\u001b1'],
      ['an emoji sourceId', '🛏️-1'],
      ['a 100 KB sourceId', kb100],
      ['an empty sourceId', ''],
    ] as const
  ).map(([name, sourceId]): Case => ({
    category: 'strings',
    name,
    request: readings(reading({ sourceId })),
    expect: items(0, [[0, 'sourceId', 'INVALID_SOURCE_ID']], { message: /sourceId must be 1-128 characters/ }),
  })),
  { category: 'strings', name: 'an unregistered source', request: readings(reading({ sourceId: 'ghost-bed' })), expect: items(0, [[0, 'sourceId', 'UNKNOWN_SOURCE']], { message: /"ghost-bed" is not registered/ }) },
  ...(
    [
      ['an unknown metric', 'heart_rat', /"heart_rat" is not in the catalog/],
      ['a metric in upper case', 'HEART_RATE', /not in the catalog/],
      ['an SQL-injection metric', "heart_rate'; drop table readings; --", /not in the catalog/],
      ['a metric with NUL', 'heart_rate\u0000', /not in the catalog/],
      ['a metric with a Cyrillic homoglyph', 'he\u0430rt_rate', /not in the catalog/],
      // Readings once carried prices, before trades had a mutation of their own.
      ['a price sent as a reading', 'price', /metric "price" is no longer taken in readings: prices are trades, sent with ingestTrades for an INSTRUMENT source/],
      ['a 100 KB metric', kb100, /metric is longer than 64 characters/],
    ] as const
  ).map(([name, metric, message]): Case => ({ category: 'strings', name, request: readings(reading({ metric })), expect: items(0, [[0, 'metric', 'UNKNOWN_METRIC']], { message }) })),
  { category: 'strings', name: 'a 100 KB unit', request: readings(reading({ unit: kb100 })), expect: items(0, [[0, 'unit', 'UNIT_MISMATCH']], { message: /unit is longer than 32 characters/ }) },
  { category: 'strings', name: 'a unit with an RTL override', request: readings(reading({ unit: '\u202Enim/' })), expect: items(0, [[0, 'unit', 'UNIT_MISMATCH']], { message: /does not match heart_rate's unit "\/min"/ }) },
  ...(
    [
      ['a path-traversal symbol', '../../etc/passwd'],
      ['an SQL-injection symbol', "ACME'; drop table trades; --"],
      ['a symbol with NUL', 'ACME\u0000'],
      ['a 100 KB symbol', kb100],
      ['an emoji symbol', '🚀MOON'],
    ] as const
  ).map(([name, symbol]): Case => ({ category: 'strings', name, request: trades(trade({ symbol })), expect: items(0, [[0, 'symbol', 'INVALID_SYMBOL']], { message: /symbol must be 1-32 characters/ }) })),
  { category: 'strings', name: 'a 100 KB merchant', request: transactions(transaction({ merchant: kb100 })), expect: items(0, [[0, 'merchant', 'INVALID_MERCHANT']], { message: /longer than 128 characters/ }) },
  { category: 'strings', name: 'a merchant with NUL', request: transactions(transaction({ merchant: 'Shop\u0000' })), expect: items(0, [[0, 'merchant', 'INVALID_MERCHANT']], { message: /NUL/ }) },
  { category: 'strings', name: 'a merchant with a lone surrogate (stored as U+FFFD otherwise)', request: transactions(transaction({ merchant: 'Caf\ud800' })), expect: items(0, [[0, 'merchant', 'INVALID_MERCHANT']], { message: /lone UTF-16 surrogate/ }) },
  {
    category: 'strings',
    name: 'a source name with a lone surrogate, through a variable',
    request: { gql: 'mutation ($s: [SourceInput!]!) { registerSources(sources: $s) { id } }', variables: { s: [{ id: 'bed-surrogate', kind: 'PATIENT', name: 'Zo\udc00e' }] } },
    expect: error(/^sources must not contain the NUL character \(\\u0000\) or a lone UTF-16 surrogate/, BAD_INPUT),
  },
  { category: 'strings', name: 'an alert rule name with an escaped lone surrogate, inline', request: { gql: 'mutation { createAlertRule(input: { kind: NEWS2, name: "x\\ud800" }) { id } }' }, expect: refused(400, 'GRAPHQL_PARSE_FAILED', /Invalid Unicode escape sequence/) },
  { category: 'strings', name: 'a reading whose sourceId holds a lone surrogate: rejected by item, the batch stored', request: readings(reading(), reading({ sourceId: 'bed-\ud800' })), expect: items(1, [[1, 'sourceId', 'INVALID_SOURCE_ID']]) },
  { category: 'strings', name: 'a blank merchant', request: transactions(transaction({ merchant: ' \t\n ' })), expect: items(0, [[0, 'merchant', 'INVALID_MERCHANT']], { message: /must not be empty/ }) },
  { category: 'strings', name: 'a path-traversal transaction id', request: transactions(transaction({ id: '../../etc/passwd' })), expect: items(0, [[0, 'id', 'INVALID_ID']]) },
  { category: 'strings', name: 'an SQL-injection transaction id', request: transactions(transaction({ id: "tx'; drop table transactions; --" })), expect: items(0, [[0, 'id', 'INVALID_ID']]) },
  { category: 'strings', name: 'a 100 KB transaction id', request: transactions(transaction({ id: kb100 })), expect: items(0, [[0, 'id', 'INVALID_ID']]) },
  { category: 'strings', name: 'a card number as cardId', request: transactions(transaction({ cardId: '4111111111111111' })), expect: items(0, [[0, 'cardId', 'INVALID_CARD']], { message: /looks like a card number/ }) },
  // Searched for card numbers as it is refused, and masked in its dead letter: 2 s each before a length bound.
  { category: 'strings', name: 'a 2 MB merchant of digit groups', request: transactions(transaction({ merchant: '1.'.repeat(1_000_000) })), expect: items(0, [[0, 'merchant', 'INVALID_MERCHANT']]) },
  { category: 'strings', name: 'an SQL-injection ip', request: transactions(transaction({ ip: "1.1.1.1' OR 1=1 --" })), expect: items(0, [[0, 'ip', 'INVALID_IP']], { message: /IPv4 or IPv6/ }) },
  { category: 'strings', name: 'an IPv6 address with a zone id', request: transactions(transaction({ ip: 'fe80::1%eth0' })), expect: items(0, [[0, 'ip', 'INVALID_IP']]) },
  { category: 'strings', name: 'a currency in lower case', request: transactions(transaction({ currency: 'eur' })), expect: items(0, [[0, 'currency', 'INVALID_CURRENCY']], { message: /ISO 4217/ }) },
  {
    category: 'strings',
    name: 'a merchant with an RTL override, zero-width space and BEL is stored verbatim',
    request: transactions(transaction({ id: 'tx-rtl', merchant: `Shop ${'\u202E'}cod.exe\u200B\u0007` })),
    expect: items(1, []),
  },
  { category: 'strings', name: 'an emoji merchant is stored verbatim', request: transactions(transaction({ id: 'tx-emoji', merchant: '☕🍩 Café Ünïcode' })), expect: items(1, []) },
  {
    category: 'strings',
    name: 'registerSources with a 100 KB name',
    request: { gql: 'mutation ($n: String!) { registerSources(sources: [{ id: "long-1", kind: PATIENT, name: $n }]) { id } }', variables: { n: kb100 } },
    expect: error(/sources\[0\]\.name is longer than 200 characters/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'registerSources with NUL in the name',
    request: { gql: 'mutation ($n: String!) { registerSources(sources: [{ id: "nul-1", kind: PATIENT, name: $n }]) { id } }', variables: { n: 'Ann\u0000' } },
    expect: error(NUL_REFUSED, BAD_INPUT),
  },
  { category: 'strings', name: 'registerSources with a path-traversal id', request: { gql: 'mutation { registerSources(sources: [{ id: "../../etc/passwd", kind: PATIENT, name: "x" }]) { id } }' }, expect: error(/"\.\.\/\.\.\/etc\/passwd" is not a valid source id: it must be 1-128 characters: letters, digits/, BAD_INPUT) },
  {
    category: 'strings',
    // Shown on every screen and printed by `keys list`: an override hides who is named, an escape rewrites a terminal.
    name: 'registerSources with an RTL override in the name',
    request: { gql: 'mutation ($n: String!) { registerSources(sources: [{ id: "rtl-1", kind: PATIENT, name: $n }]) { id name } }', variables: { n: `${RTL} ok` } },
    expect: error(/^sources\[0\]\.name must not contain control characters or bidirectional overrides \(found U\+202E at \d+\)$/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'registerSources with a terminal escape in the name',
    request: { gql: 'mutation ($n: String!) { registerSources(sources: [{ id: "esc-1", kind: PATIENT, name: $n }]) { id name } }', variables: { n: `Ann ${CONTROL}` } },
    expect: error(/^sources\[0\]\.name must not contain control characters or bidirectional overrides \(found U\+0007 at 8\)$/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert by a name that is only spaces',
    request: { gql: 'mutation { acknowledgeAlert(id: "no-such-alert", by: "   ") { id } }' },
    expect: error(/^by must not be empty or only spaces$/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert by a name with backspaces over it',
    request: { gql: 'mutation ($b: String!) { acknowledgeAlert(id: "no-such-alert", by: $b) { id } }', variables: { b: 'Bob\b\b\bEve' } },
    expect: error(/^by must not contain control characters or bidirectional overrides \(found U\+0008 at 3\)$/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert with a note of several lines (taken)',
    request: { gql: 'mutation ($n: String) { acknowledgeAlert(id: "no-such-alert", by: "nurse-1", note: $n) { id } }', variables: { n: 'gave O2\n\tchecked at 10:05' } },
    expect: error(/no alert with id/, 'NOT_FOUND'),
  },
  {
    category: 'strings',
    name: 'registerSources with an emoji name (stored verbatim)',
    request: { gql: 'mutation ($n: String!) { registerSources(sources: [{ id: "emoji-1", kind: PATIENT, name: $n }]) { id name } }', variables: { n: '🫀 Zoë 👩🏽‍⚕️' } },
    expect: handled((data) => expect(data.registerSources).toEqual([{ id: 'emoji-1', name: '🫀 Zoë 👩🏽‍⚕️' }])),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert with a 100 KB note',
    request: { gql: 'mutation ($n: String) { acknowledgeAlert(id: "no-such-alert", by: "nurse-1", note: $n) { id } }', variables: { n: kb100 } },
    expect: error(/note is longer than 2000 characters/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert with a 100 KB by',
    request: { gql: 'mutation ($b: String!) { acknowledgeAlert(id: "no-such-alert", by: $b) { id } }', variables: { b: kb100 } },
    expect: error(/by is longer than 200 characters/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert with NUL in the note',
    request: { gql: 'mutation ($n: String) { acknowledgeAlert(id: "no-such-alert", by: "nurse-1", note: $n) { id } }', variables: { n: 'ok\u0000' } },
    expect: error(NUL_REFUSED, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'acknowledgeAlert of an SQL-injection id',
    request: { gql: `mutation { acknowledgeAlert(id: "1' OR '1'='1", by: "nurse-1") { id } }` },
    expect: error(/no alert with id/, 'NOT_FOUND'),
  },
  // NUL in any argument but an ingest batch's items is refused before execution, naming the argument
  // (PostgreSQL text cannot hold it). Ingest items refuse NUL one by one (above).
  ...(
    [
      ['deadLetters(after:)', 'query ($n: String) { deadLetters(after: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['alerts(after:)', 'query ($n: String) { alerts(after: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['lateEvents(pipeline:)', 'query ($n: String!) { lateEvents(pipeline: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['createAlertRule(input: { metric })', 'mutation ($n: String!) { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: $n, above: 1 }) { id } }', NUL_REFUSED, BAD_INPUT],
      ['createAlertRule(input: { window })', 'mutation ($n: String!) { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: "heart_rate", above: 1, aggregate: AVG, window: $n }) { id } }', NUL_REFUSED, BAD_INPUT],
      ['registerSources(sources: [{ id }])', 'mutation ($n: ID!) { registerSources(sources: [{ id: $n, kind: PATIENT, name: "x" }]) { id } }', NUL_REFUSED, BAD_INPUT],
      ['readings(sourceIds:)', 'query ($n: ID!) { readings(sourceIds: [$n]) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['readings(metrics:)', 'query ($n: String!) { readings(metrics: [$n]) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['sources(after:)', 'query ($n: String) { sources(after: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['history(sourceId:)', 'query ($n: ID!) { history(sourceId: $n, metric: "heart_rate", bucket: "1h", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }', NUL_REFUSED, BAD_INPUT],
      ['deadLetters(stream:)', 'query ($n: String) { deadLetters(stream: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['fraudSignals(subjects:)', 'query ($n: String!) { fraudSignals(subjects: [$n]) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['auditLog(keyId:)', 'query ($n: String) { auditLog(keyId: $n) { edges { cursor } } }', NUL_REFUSED, BAD_INPUT],
      ['revokeApiKey(id:)', 'mutation ($n: ID!) { revokeApiKey(id: $n) { id } }', NUL_REFUSED, BAD_INPUT],
      ['deleteAlertRule(id:)', 'mutation ($n: ID!) { deleteAlertRule(id: $n) { id } }', NUL_REFUSED, BAD_INPUT],
      ['createAlertRule(input: { sourceIds })', 'mutation ($n: ID!) { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: "heart_rate", above: 1, sourceIds: [$n] }) { id } }', NUL_REFUSED, BAD_INPUT],
    ] as const
  ).map(
    ([name, query, message, code]): Case => ({
      category: 'strings',
      name: `NUL in ${name}`,
      request: { gql: query, variables: { n: 'bed\u00001' } },
      expect: error(message, code),
    }),
  ),
  {
    category: 'strings',
    name: 'acknowledgeAlert of an id with NUL',
    request: { gql: 'mutation ($i: ID!) { acknowledgeAlert(id: $i, by: "nurse-1") { id } }', variables: { i: 'a\u0000b' } },
    expect: error(NUL_REFUSED, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'alert(id:) with NUL',
    request: { gql: 'query ($i: ID!) { alert(id: $i) { id } }', variables: { i: 'a\u0000b' } },
    expect: error(NUL_REFUSED, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'createAlertRule with a 100 KB name',
    request: { gql: 'mutation ($n: String!) { createAlertRule(input: { kind: THRESHOLD, name: $n, metric: "heart_rate", above: 120 }) { id } }', variables: { n: kb100 } },
    expect: error(/name is longer than 200 characters/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'createAlertRule on an unknown metric',
    request: { gql: `mutation { createAlertRule(input: { kind: THRESHOLD, name: "x", metric: "heart_rate'; drop table alert_rules; --", above: 120 }) { id } }` },
    expect: error(/metric/, BAD_INPUT),
  },
  {
    category: 'strings',
    name: 'createApiKey with a 100 KB name',
    request: { gql: 'mutation ($n: String!) { createApiKey(name: $n, role: read) { key } }', variables: { n: kb100 } },
    expect: error(/name is longer than 200 characters/, BAD_INPUT),
  },
  { category: 'strings', name: 'lateEvents of a path-traversal pipeline', request: { gql: '{ lateEvents(pipeline: "../../etc/passwd") { edges { cursor } } }' }, expect: error(/pipeline must be one of/, BAD_INPUT) },
  { category: 'strings', name: 'readings(after:) SQL injection', request: { gql: `{ readings(after: "1; delete from readings") { edges { cursor } } }` }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'strings', name: 'history of an SQL-injection source', request: { gql: `{ history(sourceId: "bed-1' OR '1'='1", metric: "heart_rate", bucket: "1h", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }` }, expect: error(/is not a source of your tenant/, 'FORBIDDEN') },
  {
    category: 'strings',
    name: 'sources(after:) with an SQL tautology is just a cursor',
    request: { gql: `{ sources(after: "bed-1' OR '1'='1") { edges { cursor } } }` },
    expect: handled((data) => expect(data.sources).toEqual({ edges: expect.any(Array) })),
  },
  {
    category: 'strings',
    name: 'deadLetters(stream:) with an SQL injection is no stream',
    request: { gql: `{ deadLetters(stream: "readings'; drop table dead_letters; --") { edges { cursor } } }` },
    expect: error(/^stream must be one of readings, trades, transactions, got "readings'; drop table dead_letters; --"$/, BAD_INPUT),
  },
  { category: 'strings', name: 'deadLetters of a misspelt stream', request: { gql: '{ deadLetters(stream: "reading") { edges { cursor } } }' }, expect: error(/^stream must be one of readings, trades, transactions, got "reading"$/, BAD_INPUT) },
  { category: 'strings', name: 'lateEvents of pipeline "constructor" (an Object.prototype key)', request: { gql: '{ lateEvents(pipeline: "constructor") { edges { cursor } } }' }, expect: error(/pipeline must be one of/, BAD_INPUT) },

  // ------------------------------------------------ batches
  { category: 'batch', name: `${MAX_BATCH + 1} readings (MAX_BATCH + 1)`, request: readings(...Array.from({ length: MAX_BATCH + 1 }, () => reading())), expect: error(new RegExp(`batch of ${MAX_BATCH + 1} readings exceeds the maximum of ${MAX_BATCH}`), 'BATCH_TOO_LARGE') },
  { category: 'batch', name: `${MAX_BATCH + 1} trades`, request: trades(...Array.from({ length: MAX_BATCH + 1 }, () => trade())), expect: error(/exceeds the maximum of 20/, 'BATCH_TOO_LARGE') },
  { category: 'batch', name: `${MAX_BATCH + 1} transactions`, request: transactions(...Array.from({ length: MAX_BATCH + 1 }, () => transaction())), expect: error(/exceeds the maximum of 20/, 'BATCH_TOO_LARGE') },
  { category: 'batch', name: `${MAX_BATCH * 50} invalid readings`, request: readings(...Array.from({ length: MAX_BATCH * 50 }, () => reading({ metric: 'nope' }))), expect: error(/batch of 1000 readings exceeds the maximum of 20/, 'BATCH_TOO_LARGE') },
  { category: 'batch', name: 'an empty readings batch', request: readings(), expect: items(0, []) },
  { category: 'batch', name: 'an empty trades batch', request: trades(), expect: items(0, []) },
  { category: 'batch', name: 'an empty transactions batch', request: transactions(), expect: items(0, []) },
  ...(() => {
    const same = reading();
    const dup = trade();
    const tx = transaction();
    return [
      { category: 'batch', name: 'five identical readings', request: readings(same, same, same, same, same), expect: items(1, [], { duplicates: 4 }) },
      { category: 'batch', name: 'the same reading resent', request: readings(same), expect: items(0, [], { duplicates: 1 }) },
      { category: 'batch', name: 'same source, metric and time with another value', request: readings({ ...same, value: 180 }), expect: items(0, [], { duplicates: 1 }) },
      { category: 'batch', name: 'one trade twice', request: trades(dup, { ...dup, price: 99 }), expect: items(1, [], { duplicates: 1 }) },
      { category: 'batch', name: 'one transaction id twice', request: transactions(tx, { ...tx, amount: 9_999 }), expect: items(1, [], { duplicates: 1 }) },
    ] satisfies Case[];
  })(),
  {
    category: 'batch',
    name: 'a mixed batch: valid items stored, each bad one named by index',
    request: readings(reading(), reading({ metric: 'nope' }), reading({ sourceId: 'ghost-bed' }), reading({ time: 'later' }), reading({ value: 1e200 }), reading({ sourceId: 'bed-2' })),
    expect: items(2, [
      [1, 'metric', 'UNKNOWN_METRIC'],
      [2, 'sourceId', 'UNKNOWN_SOURCE'],
      [3, 'time', 'INVALID_TIME'],
      [4, 'value', 'INVALID_VALUE'],
    ]),
  },
  {
    category: 'batch',
    name: 'one item wrong in several fields at once',
    request: readings({ sourceId: '../x', metric: 'x'.repeat(65), time: 'soon', value: 1e200, unit: kb100 }),
    expect: items(0, [
      [0, 'sourceId', 'INVALID_SOURCE_ID'],
      [0, 'metric', 'UNKNOWN_METRIC'],
      [0, 'time', 'INVALID_TIME'],
      [0, 'value', 'INVALID_VALUE'],
      [0, 'unit', 'UNIT_MISMATCH'],
    ]),
  },
  {
    category: 'batch',
    name: 'a single object where a list is expected (GraphQL coerces it to a list of one)',
    request: { gql: INGEST_READINGS, variables: { r: reading() } },
    expect: items(1, []),
  },
  { category: 'batch', name: 'registerSources with an empty list', request: { gql: 'mutation { registerSources(sources: []) { id } }' }, expect: handled((data) => expect(data.registerSources).toEqual([])) },
  {
    category: 'batch',
    name: 'registerSources naming one id twice',
    request: { gql: 'mutation { registerSources(sources: [{ id: "twice-1", kind: PATIENT, name: "a" }, { id: "twice-1", kind: DEVICE, name: "b" }]) { id } }' },
    expect: error(/twice-1/, BAD_INPUT),
  },

  // ------------------------------------------------ operations, variables, introspection probing
  { category: 'operations', name: 'a mutation over GET', request: get({ query: 'mutation { registerSources(sources: [{ id: "get-1", kind: PATIENT, name: "x" }]) { id } }' }), expect: refused(405, 'BAD_REQUEST', /Can only perform a mutation operation from a POST request/) },
  {
    category: 'operations',
    name: 'an ingest mutation over GET with variables',
    request: get({ query: INGEST_READINGS, variables: JSON.stringify({ r: [reading()] }) }),
    expect: refused(405, 'BAD_REQUEST', /mutation operation from a POST request/),
  },
  {
    category: 'operations',
    name: 'a GET selecting the mutation of a two-operation document',
    request: get({ query: 'query Q { __typename } mutation M { registerSources(sources: []) { id } }', operationName: 'M' }),
    expect: refused(405, 'BAD_REQUEST', /mutation operation from a POST request/),
  },
  { category: 'operations', name: 'a GET without a query', request: get({}), expect: error(/Must provide query string/, 'BAD_REQUEST') },
  { category: 'operations', name: 'an operationName that is not in the document', request: { gql: 'query A { metrics { name } } query B { __typename }', operationName: 'C' }, expect: refused(400, 'OPERATION_RESOLUTION_FAILURE', /Could not determine what operation to execute/) },
  { category: 'operations', name: 'two named operations and no operationName', request: { gql: 'query A { metrics { name } } query B { __typename }' }, expect: refused(400, 'OPERATION_RESOLUTION_FAILURE', /Could not determine what operation to execute/) },
  { category: 'operations', name: 'two anonymous operations', request: { gql: '{ metrics { name } } { __typename }' }, expect: refused(400, 'OPERATION_RESOLUTION_FAILURE') },
  { category: 'operations', name: 'an anonymous and a named operation', request: { gql: '{ metrics { name } } query B { __typename }', operationName: 'B' }, expect: error(/This anonymous operation must be the only defined operation/, VALIDATION) },
  { category: 'operations', name: 'an operationName for an anonymous operation', request: { gql: '{ metrics { name } }', operationName: 'X' }, expect: refused(400, 'OPERATION_RESOLUTION_FAILURE') },
  { category: 'operations', name: 'operationName as a number', request: { gql: '{ metrics { name } }', operationName: 5 }, expect: refused(400) },
  { category: 'operations', name: 'two operations with the same name', request: { gql: 'query A { metrics { name } } query A { __typename }', operationName: 'A' }, expect: error(/There can be only one operation named "A"/, VALIDATION) },
  { category: 'operations', name: 'a list variable given a string', request: { gql: INGEST_READINGS, variables: { r: 'bed-1' } }, expect: coercion(/"ReadingInput" to be an object, found: "bed-1"/) },
  { category: 'operations', name: 'a required variable missing', request: { gql: INGEST_READINGS, variables: {} }, expect: coercion(/Variable "\$r" has invalid value: Expected a value of non-null type "\[ReadingInput!\]!" to be provided/) },
  { category: 'operations', name: 'an undeclared variable', request: { gql: 'mutation { ingestReadings(readings: $r) { accepted } }', variables: { r: [] } }, expect: error(/Variable "\$r" is not defined/, VALIDATION) },
  { category: 'operations', name: 'a variable of the wrong declared type', request: { gql: 'mutation ($r: String) { ingestReadings(readings: $r) { accepted } }', variables: { r: 'x' } }, expect: error(/Variable "\$r" of type "String" used in position expecting type "\[ReadingInput!\]!"/, VALIDATION) },
  { category: 'operations', name: 'an unused variable', request: { gql: 'query ($x: Int) { __typename }', variables: { x: 1 } }, expect: error(/Variable "\$x" is never used/, VALIDATION) },
  { category: 'operations', name: 'a variable of an input type that does not exist', request: { gql: 'query ($x: Evil) { __typename }' }, expect: error(/Unknown type "Evil"/, VALIDATION) },
  { category: 'operations', name: 'probing a root field by a near name', request: { gql: '{ metric { name } }' }, expect: error(/Cannot query field "metric" on type "Query"\. Did you mean "metrics"\?/, VALIDATION) },
  { category: 'operations', name: 'probing a nested field by a near name', request: { gql: '{ readings { edges { node { valu } } } }' }, expect: error(/Cannot query field "valu" on type "Reading"\. Did you mean "value"\?/, VALIDATION) },
  { category: 'operations', name: 'probing an input field by a near name', request: { gql: `mutation { ingestReadings(readings: [{ sourceID: "bed-1", metric: "heart_rate", time: "${nextTime()}", value: 1 }]) { accepted } }` }, expect: error(/sourceID/, VALIDATION) },
  { category: 'operations', name: 'probing an argument by a near name', request: { gql: '{ readings(sourceId: "bed-1") { edges { cursor } } }' }, expect: error(/Unknown argument "sourceId" on field "Query\.readings"/, VALIDATION) },
  { category: 'operations', name: 'a field on a scalar', request: { gql: '{ metrics { name { length } } }' }, expect: error(/Field "name" must not have a selection since type "String!" has no subfields/, VALIDATION) },
  { category: 'operations', name: 'an object without a selection', request: { gql: '{ metrics }' }, expect: error(/Field "metrics" of type "\[Metric!\]!" must have a selection of subfields/, VALIDATION) },
  { category: 'operations', name: 'an unknown directive', request: { gql: '{ metrics @evil { name } }' }, expect: error(/Unknown directive "@evil"/, VALIDATION) },
  { category: 'operations', name: '__type of a type that does not exist', request: { gql: '{ __type(name: "AdminSecrets") { name fields { name } } }' }, expect: handled((data) => expect(data.__type).toBeNull()) },
  { category: 'operations', name: 'a subscription posted without Accept: text/event-stream', request: { gql: 'subscription { readings { cursor } }' }, expect: refused(406) },

  // ------------------------------------------------ subscription filters with 10,000 ids
  ...(
    [
      ['readings(sourceIds:)', 'subscription ($v: [ID!]) { readings(sourceIds: $v) { cursor } }', /sourceIds may name at most 1000/],
      ['windows(sourceIds:)', 'subscription ($v: [ID!]) { windows(sourceIds: $v) { count } }', /sourceIds may name at most 1000 values/],
      ['candles(symbols:)', 'subscription ($v: [String!]) { candles(symbols: $v) { open } }', /symbols may name at most 1000 values/],
      ['anomalies(sourceIds:)', 'subscription ($v: [ID!]) { anomalies(sourceIds: $v) { value } }', /sourceIds may name at most 1000 values/],
      ['news2(sourceIds:)', 'subscription ($v: [ID!]) { news2(sourceIds: $v) { total } }', /sourceIds may name at most 1000 values/],
      ['alerts(sourceIds:)', 'subscription ($v: [ID!]) { alerts(sourceIds: $v) { kind } }', /sourceIds may name at most 1000 values/],
      ['fraudSignals(subjects:)', 'subscription ($v: [String!]) { fraudSignals(subjects: $v) { kind } }', /subjects may name at most 1000 values/],
    ] as const
  ).map(([name, query, message]): Case => ({ category: 'subscriptions', name: `${name} with 10,000 ids`, request: { sse: query, variables: { v: ids(10_000) } }, expect: error(message, BAD_INPUT) })),
  ...(
    [
      ['readings(metrics:)', 'subscription ($v: [String!]) { readings(metrics: $v) { cursor } }', 'metrics'],
      ['windows(metrics:)', 'subscription ($v: [String!]) { windows(metrics: $v) { count } }', 'metrics'],
      ['anomalies(metrics:)', 'subscription ($v: [String!]) { anomalies(metrics: $v) { value } }', 'metrics'],
      ['alerts(ruleIds:)', 'subscription ($v: [ID!]) { alerts(ruleIds: $v) { kind } }', 'ruleIds'],
    ] as const
  ).map(
    ([name, query, argument]): Case => ({
      category: 'subscriptions',
      name: `${name} with 10,000 values`,
      request: { sse: query, variables: { v: ids(10_000, 'm') } },
      expect: error(new RegExp(`${argument} may name at most 1000`), BAD_INPUT),
    }),
  ),
  {
    category: 'subscriptions',
    name: 'an SSE GET with 10,000 ids in the URL',
    request: { http: { method: 'GET', path: `/graphql?${new URLSearchParams({ query: 'subscription ($v: [ID!]) { readings(sourceIds: $v) { cursor } }', variables: JSON.stringify({ v: ids(10_000) }) })}`, headers: { accept: 'text/event-stream' } } },
    expect: refused(431),
  },
  { category: 'subscriptions', name: 'readings(after:) not a cursor', request: { sse: 'subscription { readings(after: "abc") { cursor } }' }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings(after:) beyond int8', request: { sse: 'subscription { readings(after: "99999999999999999999999") { cursor } }' }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings(after:) negative', request: { sse: 'subscription { readings(after: "-5") { cursor } }' }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings(after:) an empty string', request: { sse: 'subscription { readings(after: "") { cursor } }' }, expect: error(/after is an empty string: omit it/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings(after:) ahead of the stream', request: { sse: 'subscription { readings(after: "999999999") { cursor } }' }, expect: error(/is ahead of the stream/, BAD_INPUT) },
  { category: 'subscriptions', name: 'alerts(after:) not a seq', request: { sse: 'subscription { alerts(after: "1e9") { seq } }' }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'subscriptions', name: 'alerts(after:) past the last transition', request: { sse: 'subscription { alerts(after: "999999999") { seq } }' }, expect: error(/is ahead of the alert transitions/, BAD_INPUT) },
  { category: 'subscriptions', name: 'fraudSignals(after:) not a seq', request: { sse: 'subscription { fraudSignals(after: "seq-1") { seq } }' }, expect: error(/after must be a cursor returned by this API/, BAD_INPUT) },
  { category: 'subscriptions', name: 'fraudSignals(after:) past the last signal', request: { sse: 'subscription { fraudSignals(after: "999999999") { seq } }' }, expect: error(/is ahead of the fraud signals/, BAD_INPUT) },
  { category: 'subscriptions', name: 'windows(windows:) not configured', request: { sse: 'subscription { windows(windows: ["7m"]) { count } }' }, expect: error(/"7m" is not computed here/, BAD_INPUT) },
  { category: 'strings', name: 'candles of a zero interval', request: { gql: '{ candles(symbol: "ACME", interval: "0m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { edges { cursor } } }' }, expect: error(/^interval "0m" is not computed here; configured: 1s, 1m, 5m, 1h$/, BAD_INPUT) },
  { category: 'strings', name: 'windows of a zero size', request: { gql: '{ windows(sourceId: "bed-1", metric: "heart_rate", window: "0m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { edges { cursor } } }' }, expect: error(/^window "0m" is not computed here; configured: 1m, 5m, 1h, 5m\/1m$/, BAD_INPUT) },
  { category: 'subscriptions', name: 'live windows of a zero hop', request: { sse: 'subscription { windows(windows: ["1m", "5m/0s"]) { count } }' }, expect: error(/^windows "5m\/0s" is not computed here; configured: 1m, 5m, 1h, 5m\/1m$/, BAD_INPUT) },
  { category: 'subscriptions', name: 'live candles of a zero interval', request: { sse: 'subscription { candles(intervals: ["1m", "0s"]) { open } }' }, expect: error(/^intervals "0s" is not computed here; configured: 1s, 1m, 5m, 1h$/, BAD_INPUT) },
  { category: 'subscriptions', name: 'candles(intervals:) not a duration', request: { sse: 'subscription { candles(intervals: ["soon"]) { open } }' }, expect: error(/intervals must be/, BAD_INPUT) },
  { category: 'subscriptions', name: 'a subscription to an unknown source', request: { sse: 'subscription { readings(sourceIds: ["ghost-bed"]) { cursor } }' }, expect: error(/"ghost-bed" is not a source of your tenant/, 'FORBIDDEN') },
  { category: 'subscriptions', name: 'news2Scores query with 10,000 ids', request: { gql: 'query ($v: [ID!]) { news2Scores(sourceIds: $v) { edges { node { total } } } }', variables: { v: ids(10_000) } }, expect: error(/sourceIds may name at most 1000 values/, BAD_INPUT) },
  { category: 'subscriptions', name: 'readings query with 10,000 unknown ids', request: { gql: 'query ($v: [ID!]) { readings(sourceIds: $v) { edges { cursor } } }', variables: { v: ids(10_000, 'ghost-') } }, expect: error(/sourceIds may name at most 1000 values, got 10000/, BAD_INPUT) },
  {
    category: 'operations',
    name: 'variable coercion errors name the variable, the item and the field, with a code',
    request: readings(reading(), reading({ value: 'seventy' })),
    expect: error(/Variable "\$r" has invalid value at \[1\]\.value: Float cannot represent non numeric value: "seventy"/, BAD_INPUT),
  },
];

// ---------------------------------------------------------------- sending

async function send(app: TestApp, request: Request): Promise<Answer> {
  const url = `${app.url}/graphql`;
  if ('gql' in request) {
    const body = JSON.stringify({ query: request.gql, variables: request.variables, operationName: request.operationName, ...request.extra });
    return answerOf(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body }));
  }
  if ('http' in request) {
    const { method = 'POST', path = '/graphql', headers, body } = request.http;
    return answerOf(await fetch(`${app.url}${path}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) }));
  }
  if ('sse' in request) return sse(url, request.sse, request.variables);
  return socket(app.url, request.socket, request.halfClose ?? false, request.timeoutMs ?? 5_000);
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  return { status: response.status, body: parseJson(text), text };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** POSTs a subscription with Accept: text/event-stream; answers with the first event's payload (a refused subscription sends its error as one). */
async function sse(url: string, query: string, variables: unknown): Promise<Answer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 3_000);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables }),
      signal: abort.signal,
    });
    if (!response.headers.get('content-type')?.includes('text/event-stream')) return answerOf(response);
    for await (const event of readSse(response.body!)) {
      if (event.event === 'next') return { status: response.status, body: parseJson(event.data), text: event.data };
      if (event.event === 'complete') break;
    }
    return { status: response.status, body: null, text: 'the stream completed without an event' };
  } catch (error) {
    if (abort.signal.aborted) return { status: 200, body: null, text: 'the subscription was accepted: no error within 3 s' };
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** Writes raw bytes to a fresh connection and reads one HTTP response (or notes that none came). */
function socket(base: string, chunks: (string | Buffer)[], halfClose: boolean, timeoutMs: number): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const connection = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      const text = received.toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
      const json = /\{.*\}/s.exec(bodyText)?.[0];
      resolve({ status, body: json ? parseJson(json) : null, text: timedOut ? `no complete answer within ${timeoutMs} ms: ${JSON.stringify(text)}` : text });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    connection.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const text = received.toString('utf8');
      const headerEnd = text.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const headers = text.slice(0, headerEnd).toLowerCase();
      const body = text.slice(headerEnd + 4);
      const length = /content-length: (\d+)/.exec(headers)?.[1];
      // A complete response ends the exchange: the client is done with the connection.
      if ((headers.includes('transfer-encoding: chunked') && body.endsWith('0\r\n\r\n')) || (length !== undefined && Buffer.byteLength(body) >= Number(length))) finish(false);
    });
    connection.on('close', () => finish(false));
    connection.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close while we still write (it refused early): what it answered still counts.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return;
      if (!settled) reject(error);
    });
    connection.on('connect', async () => {
      for (const chunk of chunks) {
        if (connection.destroyed) return;
        connection.write(chunk);
        await new Promise((r) => setImmediate(r));
      }
      if (halfClose && !connection.destroyed) connection.end();
    });
  });
}

// ---------------------------------------------------------------- checking

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string };
}

const errorsOf = (answer: Answer): GraphQLErrorShape[] => (Array.isArray(answer.body?.errors) ? answer.body.errors : []);

/** Sum of `accepted` over the ingest results in the answer: how many rows it may have added. */
function acceptedIn(answer: Answer): number {
  const data = answer.body?.data;
  if (!data || typeof data !== 'object') return 0;
  return Object.values(data as Record<string, unknown>).reduce<number>(
    (n, value) => n + (value && typeof value === 'object' && typeof (value as { accepted?: unknown }).accepted === 'number' ? (value as { accepted: number }).accepted : 0),
    0,
  );
}

function check(answer: Answer, expectation: Expectation) {
  const context = `answer: ${answer.status} ${answer.text.slice(0, 1_000)}`;
  // Never a server fault, whatever the input.
  expect(answer.status, context).toBeLessThan(500);
  for (const e of errorsOf(answer)) {
    expect(e.extensions?.code, context).not.toBe('INTERNAL_SERVER_ERROR');
    expect(e.message, context).not.toBe('Unexpected error.');
  }

  switch (expectation.kind) {
    case 'http': {
      expect(answer.status, context).toBe(expectation.status);
      if (expectation.code || expectation.message) {
        const [first] = errorsOf(answer);
        expect(first, context).toBeDefined();
        if (expectation.code) expect(first!.extensions?.code, context).toBe(expectation.code);
        if (expectation.message) expect(first!.message, context).toMatch(expectation.message);
      }
      break;
    }
    case 'error': {
      const errors = errorsOf(answer);
      expect(errors.length, context).toBeGreaterThan(0);
      if (expectation.only) expect(errors.length, `one error only; ${context}`).toBe(1);
      if (expectation.none) expect(errors.filter((e) => e.extensions?.code === expectation.none), context).toEqual([]);
      const match = errors.find((e) => expectation.message.test(e.message));
      expect(match, `no error matches ${expectation.message}; ${context}`).toBeDefined();
      if (expectation.code) expect(match!.extensions?.code, context).toBe(expectation.code);
      // Nothing was executed for the failing root field.
      const data = answer.body?.data as Record<string, unknown> | null | undefined;
      if (data) for (const value of Object.values(data)) expect(value, context).toBeNull();
      break;
    }
    case 'items': {
      expect(answer.status, context).toBe(200);
      expect(errorsOf(answer), context).toEqual([]);
      const results = Object.values((answer.body?.data ?? {}) as Record<string, unknown>);
      expect(results, context).toHaveLength(1);
      const result = results[0] as { accepted: number; duplicates: number; rejected: number; errors: { index: number; field: string | null; code: string; message: string }[] };
      expect(result.errors.map((e) => [e.index, e.field, e.code]), context).toEqual(expectation.errors);
      expect({ accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected }, context).toEqual({
        accepted: expectation.accepted,
        duplicates: expectation.duplicates,
        rejected: new Set(expectation.errors.map(([index]) => index)).size,
      });
      for (const e of result.errors) expect(e.message.length, context).toBeGreaterThan(10);
      if (expectation.message) expect(result.errors.some((e) => expectation.message!.test(e.message)), context).toBe(true);
      break;
    }
    case 'handled': {
      expect(answer.status, context).toBe(200);
      expect(errorsOf(answer), context).toEqual([]);
      expectation.check?.(answer.body.data);
      break;
    }
  }
}

// ---------------------------------------------------------------- the suite

describe.each(primaryBackends)('hostile input on $name', (backend) => {
  let app: TestApp;
  const rowCount = async () => {
    const [row] = await app.sql<{ n: number }>(
      sql`select ((select count(*) from readings) + (select count(*) from trades) + (select count(*) from transactions))::int as n`,
    );
    return row!.n;
  };

  beforeAll(async () => {
    app = await startTestApp(backend, { env: { MAX_BATCH: String(MAX_BATCH), MAX_BODY_BYTES: String(MAX_BODY_BYTES), REQUEST_TIMEOUT: '2s' } });
    const registered = await send(app, {
      gql: 'mutation { registerSources(sources: [{ id: "bed-1", kind: PATIENT, name: "Bed 1" }, { id: "bed-2", kind: PATIENT, name: "Bed 2" }]) { id } }',
    });
    expect(errorsOf(registered)).toEqual([]);
  });
  afterAll(() => app?.close());

  it('has a corpus of at least 110 cases, each category well represented', () => {
    const perCategory = new Map<string, number>();
    for (const c of CASES) perCategory.set(c.category, (perCategory.get(c.category) ?? 0) + 1);
    expect(CASES.length).toBeGreaterThanOrEqual(110);
    for (const [category, n] of perCategory) expect(n, category).toBeGreaterThanOrEqual(10);
    expect(new Set(CASES.map((c) => `${c.category} ${c.name}`)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    const run = async () => {
      const before = await rowCount();
      const answer = await send(app, c.request);
      check(answer, c.expect);
      // Rows change only by what the answer reports accepted.
      expect(await rowCount()).toBe(before + acceptedIn(answer));
    };
    it(`[${c.category}] ${c.name}`, run);
  }

  it('still serves a normal ingest and query after the corpus', async () => {
    const fresh = await send(app, { gql: 'mutation { registerSources(sources: [{ id: "after-1", kind: PATIENT, name: "After" }]) { id } }' });
    expect(errorsOf(fresh)).toEqual([]);
    const times = [nextTime(), nextTime(), nextTime()];
    const ingested = await send(app, readings(...times.map((time, i) => ({ sourceId: 'after-1', metric: 'spo2', time, value: 95 + i }))));
    check(ingested, items(3, []));
    const stored = await send(app, { gql: '{ readings(sourceIds: ["after-1"]) { edges { node { sourceId metric time value quality } } } }' });
    expect(errorsOf(stored)).toEqual([]);
    expect(stored.body.data.readings.edges.map((e: { node: unknown }) => e.node)).toEqual(
      times.map((time, i) => ({ sourceId: 'after-1', metric: 'spo2', time, value: 95 + i, quality: 'GOOD' })),
    );

    // The accepted corpus values (-0, 5e-324, 1e15, 2^53 + 1) leave history, windows and candles answerable.
    await app.settle();
    const range = `from: "${new Date(T0 - 3_600_000).toISOString()}", to: "${new Date(Date.now() + 60_000).toISOString()}"`;
    for (const query of [
      `{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "1h", ${range}) { bucket value } }`,
      `{ history(sourceId: "bed-1", metric: "heart_rate", bucket: "1h", aggregate: MAX, fill: INTERPOLATE, ${range}) { bucket value } }`,
      `{ windows(sourceId: "bed-1", metric: "heart_rate", window: "1h", closedOnly: false, ${range}) { edges { node { count avg min max stddev } } } }`,
      `{ candles(symbol: "ACME", interval: "1h", closedOnly: false, ${range}) { edges { node { open high low close volume vwap } } } }`,
      '{ anomalies { edges { node { value zScore } } } }',
      '{ deadLetters(first: 5) { edges { node { stream errors } } } }',
    ]) {
      const answer = await send(app, { gql: query });
      expect(errorsOf(answer), query).toEqual([]);
    }
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
    // Nothing the corpus started is still subscribed: a subscription refused 406 (no stream format accepted)
    // had started before it was refused, and stayed subscribed for good.
    const liveSubscriptions = async () => (await (await fetch(`${app.url}/metrics`)).text()).match(/^vigil_live_subscriptions\{.*$/gm) ?? [];
    await expect.poll(async () => (await liveSubscriptions()).filter((line) => !line.endsWith(' 0')), { timeout: 5_000 }).toEqual([]);
    expect(await liveSubscriptions()).not.toEqual([]);
  });
});
