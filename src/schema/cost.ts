import type { ArgBuilder } from '@pothos/core';
import type { builder } from './builder.js';

/**
 * What the query cost (transport/query-cost.ts) reads off the schema, so a
 * field's cost and the bound its resolver enforces come from one place.
 */

/** Extension on a connection's `first` argument: the page sizes its resolver allows (PageBounds). */
export const PAGE_BOUNDS = 'vigilPageBounds';

/**
 * Extension on a field returning a plain list: how many items to cost it at,
 * a number or a function of the field's arguments as the client wrote them
 * (literal or variable, not yet coerced, so it must not trust their type).
 * A list without one is costed at DEFAULT_LIST_SIZE.
 */
export const LIST_SIZE = 'vigilListSize';

export type ListSize = number | ((argument: (name: string) => unknown) => number);

/** Lists known to be short: an alert's transitions, a signal's details, a pipeline's outputs. */
export const DEFAULT_LIST_SIZE = 10;

export interface PageBounds {
  max: number;
  fallback: number;
}

type BuilderTypes = typeof builder.$inferSchemaTypes;

/** The `first`/`after` arguments of a connection whose pages hold 1 to `max` items, `fallback` when `first` is left out. */
export function pageArgs(arg: ArgBuilder<BuilderTypes>, bounds: PageBounds) {
  return {
    first: arg.int({ description: `Page size, 1-${bounds.max}, default ${bounds.fallback}.`, extensions: { [PAGE_BOUNDS]: bounds } }),
    after: arg.string({ description: 'endCursor of the previous page.' }),
  };
}

/** The length of a list argument as written, or undefined when it is not a list (left out, or null). */
export function listLength(value: unknown): number | undefined {
  return Array.isArray(value) ? value.length : undefined;
}
