import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float8ArrayLiteral, textArrayLiteral } from '../src/db/array-literals.js';
import { DATABASE_URL } from './support/backends.js';

/**
 * Reads `literal` as PostgreSQL does when ingest casts it (`$1::text[]`, `$1::float8[]`), each element
 * back as its text (float8: the shortest text of the same double) or null, in order: no client's array parser involved.
 */
const READ_BACK = (type: string) =>
  `select coalesce(json_agg(x::text order by n), '[]')::text as a from unnest($1::${type}) with ordinality as t(x, n)`;
const decode = (json: string, type: string): unknown[] =>
  (JSON.parse(json) as (string | null)[]).map((x) => (x === null || type === 'text[]' ? x : Number(x)));
type Parse = (literal: string, type: 'text[]' | 'float8[]') => Promise<unknown[]>;

const databases: { name: string; open: () => Promise<{ parse: Parse; close: () => Promise<void> }> }[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await PGlite.create();
      return {
        parse: async (literal, type) => decode((await db.query<{ a: string }>(READ_BACK(type), [literal])).rows[0]!.a, type),
        close: () => db.close(),
      };
    },
  },
  ...(DATABASE_URL
    ? [
        {
          name: 'PostgreSQL',
          open: async () => {
            const client = postgres(DATABASE_URL!, { max: 1, onnotice: () => undefined });
            return {
              parse: async (literal: string, type: 'text[]' | 'float8[]') => decode((await client.unsafe<{ a: string }[]>(READ_BACK(type), [literal]))[0]!.a, type),
              close: () => client.end(),
            };
          },
        },
      ]
    : []),
];

// Any text PostgreSQL can hold (no NUL), with the characters an array literal treats specially made likely.
const text = fc.oneof(
  fc.string({ unit: 'binary' }).filter((s) => !s.includes('\u0000')),
  fc.constantFrom('', 'NULL', 'null', ' ', '"', '\\', '\\"', ',', '{', '}', '{"a","b"}', 'a b', '\t\n', 'héllo ✓', '𝄞'),
);
// float8 written as float8 reads it back: -0 is written as 0 (as postgres.js's own serialiser does).
const float8 = fc.oneof(fc.double(), fc.constantFrom(0, -0, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 1e21, 1e-7, 1735689600000));

describe.each(databases)('array literals read by $name', ({ open }) => {
  let db: Awaited<ReturnType<(typeof databases)[number]['open']>>;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(() => db?.close());

  it('text[]: every string comes back as sent, null as NULL', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(text, { nil: null }), { maxLength: 20 }), async (values) => {
        expect(await db.parse(textArrayLiteral(values), 'text[]')).toEqual(values);
      }),
      { numRuns: 300 },
    );
    // The hot path's shape: identifiers, no escaping needed.
    expect(await db.parse(textArrayLiteral(['bed-1', 'heart_rate', '/min', 'GOOD']), 'text[]')).toEqual(['bed-1', 'heart_rate', '/min', 'GOOD']);
  });

  it('float8[]: every double comes back as the same double (NaN and the infinities too), null as NULL', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(float8, { nil: null }), { maxLength: 20 }), async (values) => {
        const back = await db.parse(float8ArrayLiteral(values), 'float8[]');
        expect(back).toHaveLength(values.length);
        back.forEach((x, i) => expect(Object.is(x, values[i] === -0 ? 0 : values[i])).toBe(true));
      }),
      { numRuns: 300 },
    );
  });
});
