import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind, print } from 'graphql';
import { z } from 'zod';
import { inDateTimeRange, isoUtc } from '../iso-time.js';
import type { GraphQLContext } from './context.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    /** Resolvers may answer epoch milliseconds, as rows from SQL often hold them (no Date made per row). */
    DateTime: { Input: Date; Output: Date | number };
    JSON: { Input: unknown; Output: unknown };
  };
}>({ defaultFieldNullability: false });

/** What ingest takes as a time (ingest/reading-item.ts): seconds required, hours 00-23 (24:00 is refused, not rolled over). */
const ISO_WITH_ZONE = z.iso.datetime({ offset: true });

function parseDateTime(value: unknown, written: string = JSON.stringify(value)): Date {
  const format = () => new GraphQLError(`DateTime must be an ISO-8601 timestamp with seconds and a time zone, e.g. 2026-01-01T12:00:00Z; got ${written}`);
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(value)) throw format();
  // Date.parse rolls 2026-02-30 over to March 2; a day the month does not have is named as such.
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth) {
    throw new GraphQLError(`DateTime ${JSON.stringify(value)} is not a calendar date`);
  }
  if (!ISO_WITH_ZONE.safeParse(value).success || Number.isNaN(Date.parse(value))) throw format();
  const date = new Date(value);
  if (!inDateTimeRange(date.getTime())) {
    throw new GraphQLError(`DateTime ${JSON.stringify(value)} is outside the years 0001 to 9999 (UTC)`);
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant as an ISO-8601 string with a time zone (output is always UTC, millisecond precision).',
  serialize: (value) => isoUtc(typeof value === 'number' ? value : (value as Date).getTime()),
  parseValue: (value) => parseDateTime(value),
  // A non-string literal (e.g. an epoch number) is named as written, not as "undefined". The refusal points at the
  // literal: graphql-js reports a GraphQLError from parseLiteral as it is, and without the node it had no location,
  // so a document with a from and a to did not say which of them was wrong.
  parseLiteral: (ast) => {
    try {
      return ast.kind === Kind.STRING ? parseDateTime(ast.value) : parseDateTime(undefined, print(ast));
    } catch (error) {
      throw new GraphQLError((error as GraphQLError).message, { nodes: ast });
    }
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

builder.queryType({ description: 'History, catalog and operator views.' });
builder.mutationType({ description: 'Telemetry ingest and administration.' });
builder.subscriptionType({ description: 'Live streams. Over graphql-ws at /graphql, or SSE (Accept: text/event-stream).' });

/**
 * An enum's `values` for Pothos: each value of `values` (in its order) with its description. `descriptions` is keyed
 * by value, so a value added to the list without a description fails typecheck.
 */
export function describedValues<const V extends string>(values: readonly V[], descriptions: Record<V, string>): Record<V, { description: string }> {
  return Object.fromEntries(values.map((value) => [value, { description: descriptions[value] }])) as Record<V, { description: string }>;
}
