import { executeSubscriptionEvent, parse, validateSubscriptionArgs, type ValidatedSubscriptionArgs } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../src/db/readings.js';
import { schema } from '../src/schema/index.js';
import { compileEventExecutor } from '../src/transport/compiled-events.js';

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

  it('leaves errors and nulls in non-null positions to graphql-js, which reports them with paths', () => {
    const { plain, full } = prepare('subscription { readings { cursor value } }');
    expect(plain!(new Error('slow consumer'), {})).toBeUndefined();
    expect(wire(full(new Error('slow consumer')))).toMatch(/slow consumer/);
    const broken = [{ ...readings[0]!, value: null as unknown as number }];
    expect(plain!(broken, {})).toBeUndefined();
    expect(full(broken)).toMatchObject({ errors: [expect.objectContaining({ path: ['readings', 0, 'value'] })] });
  });

  it('is not used for shapes it does not cover: fragments, directives, unmarked fields', () => {
    expect(prepare('subscription { readings { ...F } } fragment F on Reading { cursor }').plain).toBeUndefined();
    expect(prepare('subscription { readings { cursor value @include(if: true) } }').plain).toBeUndefined();
    expect(prepare('subscription { readings @skip(if: false) { cursor } }').plain).toBeUndefined();
    expect(prepare('subscription { alerts { id } }').plain).toBeUndefined();
  });
});
