import type { ObjectRef } from '@pothos/core';
import type { GraphQLResolveInfo } from 'graphql';
import { ValidationError } from '../errors.js';
import { builder } from './builder.js';
import type { PageBounds } from './cost.js';
import { selectsField } from './selection.js';

type BuilderTypes = typeof builder.$inferSchemaTypes;

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

export const PageInfoRef = builder.objectRef<PageInfo>('PageInfo').implement({
  description: 'Forward pagination state: pass endCursor as `after` for the next page.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'True when more items follow this page.' }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'The last edge\'s cursor: pass it as `after`. On an empty page, the `after` it was asked with (null on an empty first page), so polling with it keeps your place.' }),
  }),
});

/** A page that also names a stream position: where to subscribe after reading it (positionedConnectionOf). */
export interface PositionedPage<T> extends Page<T> {
  position: bigint;
}

/** A Relay-style connection type `<name>Connection` with `<name>Edge`s over `node`. */
export function connectionOf<T>(name: string, node: ObjectRef<BuilderTypes, T>) {
  return connectionType<T, Page<T>>(name, node);
}

/**
 * A connection whose pages also name a stream position as `field` (alerts' lastEventSeq, sources'
 * lastReadingCursor, fraud signals' lastSignalSeq), read by the resolver through positionIfAsked.
 */
export function positionedConnectionOf<T>(name: string, node: ObjectRef<BuilderTypes, T>, position: { field: string; description: string }) {
  return connectionType<T, PositionedPage<T>>(name, node, position);
}

/**
 * The page's stream position, read by `read` (before the page, so that what is stored after it is either in the
 * page or after the position) only when the query selects `field`: a page asked without it pays no query for it.
 */
export async function positionIfAsked(info: GraphQLResolveInfo, field: string, read: () => Promise<bigint>): Promise<bigint> {
  return selectsField(info, field) ? read() : 0n;
}

function connectionType<T, P extends Page<T>>(name: string, node: ObjectRef<BuilderTypes, T>, position?: { field: string; description: string }) {
  const edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    description: `One ${name} of a page, with its cursor.`,
    fields: (t) => ({
      cursor: t.exposeString('cursor', { description: 'Where this item is: pass it as `after` to continue after it.' }),
      // Generic T defeats Pothos's resolver-result inference; the ref guarantees the shape.
      node: t.field({ type: node, description: `The ${name}.`, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<P>(`${name}Connection`).implement({
    description: `A page of ${name}s (first/after pagination).`,
    fields: (t) => ({
      edges: t.field({ type: [edge], description: 'The items of this page, in the order the operation names.', resolve: (p) => p.edges }),
      pageInfo: t.field({ type: PageInfoRef, description: 'Whether more follow, and the cursor to ask for them.', resolve: (p) => p.pageInfo }),
      ...(position && {
        [position.field]: t.string({ description: position.description, resolve: (p) => (p as unknown as PositionedPage<T>).position.toString() }),
      }),
    }),
  });
}

/**
 * A page of `limit` from `items` (one more tells hasNextPage). An empty page's endCursor is the `after` it was
 * asked with: a client polling for what is new with `after: endCursor` keeps its place instead of starting over.
 */
export function toPage<T>(items: readonly T[], limit: number, cursorOf: (item: T) => string, after: string | null | undefined): Page<T> {
  const edges = items.slice(0, limit).map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, pageInfo: { hasNextPage: items.length > limit, endCursor: edges.at(-1)?.cursor ?? after ?? null } };
}

export function pageSize(first: number | null | undefined, { max, fallback }: PageBounds): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new ValidationError(`first must be between 1 and ${max}, got ${size}`, { argument: 'first', max });
  }
  return size;
}

/**
 * A page cursor as given, or null for none. An empty string is refused, for every list alike: taken as none, it
 * starts a client that lost its cursor (a bug that blanks it) from the first page again, for as long as it polls.
 */
export function idCursor(cursor: string | null | undefined, argument: string): string | null {
  if (cursor === null || cursor === undefined) return null;
  if (cursor === '') throw new ValidationError(`${argument} is an empty string: omit it (or send null) to start without one, or send a cursor returned by this API`, { argument });
  return cursor;
}

/**
 * Stream cursors are decimal integers; anything else is a client error, not a 500. An empty string too: taken as
 * none, it started a resuming subscriber live, silently skipping what it had missed.
 */
export function parseCursor(given: string | null | undefined, argument: string): bigint | null {
  const cursor = idCursor(given, argument);
  if (cursor === null) return null;
  if (!/^\d{1,19}$/.test(cursor) || BigInt(cursor) > 9_223_372_036_854_775_807n) {
    throw new ValidationError(`${argument} must be a cursor returned by this API (a decimal number of at most 19 digits, below 2^63), got ${JSON.stringify(cursor)}`, {
      argument,
    });
  }
  return BigInt(cursor);
}

/**
 * A time range [from, to) of a query: refused when both ends are given and `to` is not after `from` (it could hold
 * nothing), naming both in UTC: written with different offsets (05:30+05:30 and 00:00Z), two equal instants look apart.
 */
export function checkTimeRange(from: Date | null | undefined, to: Date | null | undefined): void {
  if (from && to && to <= from) {
    throw new ValidationError(`to must be after from: got from ${from.toISOString()} and to ${to.toISOString()} (UTC)`, { argument: 'to' });
  }
}
