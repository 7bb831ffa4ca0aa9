import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import type { GraphQLContext } from './context.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({ defaultFieldNullability: false });

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(`DateTime must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-01T12:00:00Z; got ${JSON.stringify(value)}`);
  }
  return new Date(value);
}

builder.scalarType('DateTime', {
  description: 'An instant as an ISO-8601 string with a time zone (output is always UTC, millisecond precision).',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

builder.queryType({ description: 'History, catalog and operator views.' });
builder.mutationType({ description: 'Telemetry ingest and administration.' });
builder.subscriptionType({ description: 'Live streams. Over graphql-ws at /graphql, or SSE (Accept: text/event-stream).' });
