import {
  executeRootSelectionSet,
  executeSubscriptionEvent,
  GraphQLFloat,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  print,
  validateExecutionArgs,
  validateSubscriptionArgs,
  type ValidatedSubscriptionArgs,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrincipal } from '../src/auth/principal.js';
import { TenantScope } from '../src/auth/tenant-scope.js';
import type { Reading } from '../src/db/readings.js';
import { HistoryDocument, IngestReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { schema } from '../src/schema/index.js';
import { PLAIN_LIST } from '../src/schema/plain-list.js';
import { compileEventExecutor, compileQueryExecutor } from '../src/transport/plain-lists.js';
import { startTestApp, type TestApp } from './support/app.js';
import { primaryBackends } from './support/backends.js';
import { at, patients, reading } from './support/fixtures.js';

const readings: Reading[] = [
  { cursor: 11n, sourceId: 'bed-1', metric: 'heart_rate', time: new Date('2026-11-20T08:00:00.250Z'), value: 72.5, unit: '/min', quality: 'GOOD', tenantId: 'default' },
  { cursor: 12n, sourceId: 'bed-2', metric: 'spo2', time: new Date('2026-11-20T08:00:01.000Z'), value: 97, unit: '%', quality: 'SUSPECT', tenantId: 'default' },
];

function prepare(query: string, variables: Record<string, unknown> = {}) {
  const validated = validateSubscriptionArgs({ schema, document: parse(query), variableValues: variables, contextValue: {} });
  if (!('schema' in validated)) throw new Error(validated.map((e) => e.message).join('; '));
  const full = (event: unknown) => executeSubscriptionEvent({ ...validated, rootValue: event } as ValidatedSubscriptionArgs);
  return { plain: compileEventExecutor(validated), full };
}

/** Byte-for-byte what a client receives. */
const wire = (result: unknown) => JSON.stringify(result);

describe('plain executor for subscription events', () => {
  it('answers exactly what graphql-js answers for plain leaf selections, aliases and __typename included', () => {
    for (const query of [
      'subscription { readings { cursor sourceId metric time value unit quality } }',
      'subscription Live($ids: [ID!]) { live: readings(sourceIds: $ids) { __typename at: time v: value cursor } }',
      'subscription { readings { value value quality } }',
    ]) {
      const { plain, full } = prepare(query, { ids: ['bed-1'] });
      expect(plain, query).toBeDefined();
      expect(wire(plain!(readings, {})), query).toBe(wire(full(readings)));
      expect(wire(plain!([], {})), query).toBe(wire(full([])));
    }
  });

  it('covers the processors\' feeds too, times given as epoch ms included (candles, windows)', () => {
    const t0 = Date.parse('2026-12-03T10:00:00Z');
    const candles = [0, 1].map((i) => ({
      symbol: `S${i}`, intervalMs: 60_000, start: t0 + i * 60_000, end: t0 + (i + 1) * 60_000, open: 100, high: 101.5, low: 99, close: 100.25,
      volume: 12, trades: 3, vwap: 100.1, closed: i === 0, tenantId: 'default',
    }));
    const windows = [{
      sourceId: 'bed-1', metric: 'heart_rate', sizeMs: 300_000, hopMs: 60_000, start: t0, end: t0 + 300_000, count: 4, min: 60, max: 80,
      avg: 70, stddev: 8.16, first: 60, last: 80, closed: false, tenantId: 'default',
    }];
    for (const [query, event] of [
      ['subscription { candles { symbol interval start end open high low close volume trades closed } }', candles],
      ['subscription { windows { sourceId metric window size hop start end count min max avg stddev first last closed } }', windows],
    ] as const) {
      const { plain, full } = prepare(query);
      expect(plain, query).toBeDefined();
      expect(wire(plain!(event, {})), query).toBe(wire(full(event)));
      expect(wire(full(event))).toContain('"start":"2026-12-03T10:00:00.000Z"');
    }
    // Trades: a venue id '' (none sent) and a receivedAt missing (stored before migration 0012) both answer null.
    const trades = [
      { cursor: 7n, symbol: 'ACME', time: new Date(t0), price: 100.5, size: 3, tradeId: 'V-1', tenantId: 'default', receivedAt: t0 + 5 },
      { cursor: 8n, symbol: 'ACME', time: new Date(t0 + 1), price: 101, size: 0.5, tradeId: '', tenantId: 'default' },
    ];
    const tradesQuery = 'subscription { trades { cursor symbol time price size tradeId receivedAt __typename } }';
    const { plain, full } = prepare(tradesQuery);
    expect(plain, tradesQuery).toBeDefined();
    expect(wire(plain!(trades, {}))).toBe(wire(full(trades)));
    expect(wire(full(trades))).toContain('"tradeId":null,"receivedAt":null');
    const marked = Object.values(schema.getSubscriptionType()!.getFields()).filter((f) => f.extensions?.[PLAIN_LIST]).map((f) => f.name);
    expect(marked.sort()).toEqual(['alerts', 'anomalies', 'candles', 'fraudSignals', 'news2', 'readings', 'trades', 'windows']);
  });

  it('leaves errors and nulls in non-null positions to graphql-js, which reports them with paths', () => {
    const { plain, full } = prepare('subscription { readings { cursor value } }');
    expect(plain!(new Error('slow consumer'), {})).toBeUndefined();
    expect(wire(full(new Error('slow consumer')))).toMatch(/slow consumer/);
    const broken = [{ ...readings[0]!, value: null as unknown as number }];
    expect(plain!(broken, {})).toBeUndefined();
    expect(full(broken)).toMatchObject({ errors: [expect.objectContaining({ path: ['readings', 0, 'value'] })] });
  });

  it('is not used for shapes it does not cover: fragments, directives, nested objects', () => {
    expect(prepare('subscription { readings { ...F } } fragment F on Reading { cursor }').plain).toBeUndefined();
    expect(prepare('subscription { readings { cursor value @include(if: true) } }').plain).toBeUndefined();
    expect(prepare('subscription { readings @skip(if: false) { cursor } }').plain).toBeUndefined();
    expect(prepare('subscription { news2 { sourceId parameters { metric score } } }').plain).toBeUndefined();
  });
});

describe.each(primaryBackends)('plain executor for queries on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
    await app.mutate(RegisterSourcesDocument, { sources: patients('plain-1') });
    await app.mutate(IngestReadingsDocument, {
      readings: [reading('plain-1', 'heart_rate', 70, 5), reading('plain-1', 'heart_rate', 80, 65), reading('plain-1', 'heart_rate', 90, 250)],
    });
  });
  afterAll(() => app?.close());

  /** The plain executor's answer and graphql-js's, for the same operation in the same (real) context. */
  async function both(query: string, variables: Record<string, unknown>) {
    const services = app.server.services;
    const context = () => {
      const principal = openPrincipal('127.0.0.1');
      return { services, principal, scope: new TenantScope(principal, services.registry), requestId: 'plain-test', lastEventId: null };
    };
    const validate = () => {
      const validated = validateExecutionArgs({ schema, document: parse(query), variableValues: variables, contextValue: context() });
      if (!('schema' in validated)) throw new Error(validated.map((e) => e.message).join('; '));
      return validated;
    };
    const plain = compileQueryExecutor(validate());
    const reruns: number[] = [];
    const viaPlain = plain ? await plain(() => (reruns.push(1), executeRootSelectionSet(validate()))) : undefined;
    return { plain, viaPlain, viaGraphqlJs: await executeRootSelectionSet(validate()), reruns: reruns.length };
  }

  const range = { sourceId: 'plain-1', metric: 'heart_rate', from: at(0), to: at(6 * 60) };

  it('answers a history exactly as graphql-js does, fills, aliases, __typename and variables included', async () => {
    for (const [query, variables] of [
      [print(HistoryDocument), { ...range, bucket: '1m' }],
      [print(HistoryDocument), { ...range, bucket: '1m', fill: 'LOCF' }],
      [print(HistoryDocument), { ...range, bucket: '1m', fill: 'INTERPOLATE' }],
      ['query ($f: DateTime!, $t: DateTime!) { h: history(sourceId: "plain-1", metric: "heart_rate", from: $f, to: $t, bucket: "2m") { __typename at: bucket v: value value } }', { f: range.from, t: range.to }],
    ] as const) {
      const { plain, viaPlain, viaGraphqlJs, reruns } = await both(query, variables);
      expect(plain, query).toBeDefined();
      expect(wire(viaPlain), query).toBe(wire(viaGraphqlJs));
      expect((viaGraphqlJs as { data: Record<string, unknown[]> }).data[query.includes('h: history') ? 'h' : 'history']!.length).toBeGreaterThanOrEqual(2);
      expect(reruns).toBe(0);
    }
  });

  it("reports the resolver's errors as graphql-js does (located at the field, data null) without running it again", async () => {
    for (const variables of [
      { ...range, bucket: '5 parsecs' },
      { ...range, bucket: '1s', to: at(86_400 * 30) },
      { ...range, sourceId: 'no-such-patient', bucket: '1m' },
    ]) {
      const { viaPlain, viaGraphqlJs, reruns } = await both(print(HistoryDocument), variables);
      expect(viaPlain).toMatchObject({ data: null, errors: [expect.objectContaining({ path: ['history'], locations: [expect.any(Object)] })] });
      expect(wire(viaPlain)).toBe(wire(viaGraphqlJs));
      expect(reruns).toBe(0);
    }
  });

  it('is not used for queries of another shape: two root fields, fragments, directives, unmarked fields', async () => {
    const history = 'history(sourceId: "plain-1", metric: "heart_rate", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", bucket: "1h")';
    for (const query of [
      `{ a: ${history} { bucket } b: ${history} { value } }`,
      `{ ${history} { ...P } } fragment P on HistoryPoint { bucket }`,
      `{ ${history} { bucket @include(if: true) } }`,
      `query @deprecated { ${history} { bucket } }`,
      '{ sources { id } }',
    ]) {
      const validated = validateExecutionArgs({ schema, document: parse(query), contextValue: {} });
      expect('schema' in validated && compileQueryExecutor(validated), query).toBeFalsy();
    }
  });
});

describe('plain executor for queries, where an item cannot be completed plainly', () => {
  const Point = new GraphQLObjectType({
    name: 'Point',
    fields: { at: { type: new GraphQLNonNull(GraphQLString) }, value: { type: GraphQLFloat } },
  });
  let calls = 0;
  const points = [{ at: 'a', value: 1 }, { at: null, value: 2 }];
  const tiny = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        points: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Point))), extensions: { [PLAIN_LIST]: true }, resolve: async () => (calls++, points) },
      },
    }),
  });

  it('hands the operation to graphql-js, which reports the null with its path', async () => {
    const validated = validateExecutionArgs({ schema: tiny, document: parse('{ points { at value } }') });
    if (!('schema' in validated)) throw new Error('invalid');
    const plain = compileQueryExecutor(validated)!;
    calls = 0;
    const result = await plain(() => executeRootSelectionSet(validated));
    expect(result).toMatchObject({ data: null, errors: [expect.objectContaining({ path: ['points', 1, 'at'] })] });
    expect(calls).toBe(2);
  });
});
