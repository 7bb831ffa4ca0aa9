import fc from 'fast-check';
import { coerceInputValue, GraphQLList, GraphQLNonNull, type GraphQLInputObjectType, type GraphQLInputType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { listCoercer } from '../src/transport/list-coercion.js';

const listOf = (name: string, nonNull = true): GraphQLInputType => {
  const list = new GraphQLList(new GraphQLNonNull(schema.getType(name) as GraphQLInputObjectType));
  return nonNull ? new GraphQLNonNull(list) : list;
};

// Good values weigh more, so many whole batches are good; the rest is what careless or hostile senders post.
const junk = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, junk);
const reading = fc.record(
  {
    sourceId: field(fc.string({ maxLength: 8 })),
    metric: field(fc.constantFrom('heart_rate', 'spo2')),
    time: field(fc.constant('2026-01-01T00:00:00.000Z')),
    value: field(fc.oneof(fc.double(), fc.integer())),
    unit: field(fc.constantFrom('/min', '%')),
    quality: field(fc.constantFrom('GOOD', 'SUSPECT', 'BAD', 'good')),
    extra: fc.constant(undefined),
    surprise: fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, fc.integer()),
  },
  { requiredKeys: [] },
);
const batch = fc.oneof({ arbitrary: fc.array(reading, { maxLength: 5 }), weight: 8 }, reading, fc.constant(null), junk);

describe('list coercion fast path', () => {
  it('coerces only what graphql-js coerces, to the same values in the same field order', () => {
    let coerced = 0;
    for (const type of [listOf('ReadingInput'), listOf('ReadingInput', false)]) {
      const coerce = listCoercer(type)!;
      expect(coerce).toBeTypeOf('function');
      fc.assert(
        fc.property(batch, (raw) => {
          const fast = coerce(raw);
          if (fast === undefined) return;
          if (fast !== null && fast.length > 0) coerced++;
          const reference = coerceInputValue(raw, type);
          expect(reference).toBeDefined();
          expect(fast).toEqual(reference);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(reference));
        }),
        { numRuns: 20_000 },
      );
    }
    // Not vacuous: many non-empty batches take the fast path.
    expect(coerced).toBeGreaterThan(500);
  });

  it('compiles for the flat ingest inputs only; the rest is graphql-js', () => {
    expect(listCoercer(listOf('ReadingInput'))).toBeTypeOf('function');
    expect(listCoercer(listOf('TradeInput'))).toBeTypeOf('function');
    // A nested input (location) and a non-list are not for it.
    expect(listCoercer(listOf('TransactionInput'))).toBeUndefined();
    expect(listCoercer(schema.getType('ReadingInput') as GraphQLInputObjectType)).toBeUndefined();
  });
});
