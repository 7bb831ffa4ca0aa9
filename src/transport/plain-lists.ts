import {
  type ExecutionResult,
  type FieldNode,
  getArgumentValues,
  getNullableType,
  GraphQLEnumType,
  type GraphQLField,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLSchema,
  Kind,
  locatedError,
  type OperationDefinitionNode,
  OperationTypeNode,
  type ValidatedExecutionArgs,
  type ValidatedSubscriptionArgs,
} from 'graphql';
import { PLAIN_LIST } from '../schema/plain-list.js';

/** The event's result, or undefined when it needs the full executor (an error, a null where none may be). */
export type EventExecutor = (event: unknown, contextValue: unknown) => ExecutionResult | undefined;

/** The query's result; `fallback` is graphql-js's executor, for an answer the plain loop cannot give. */
export type QueryExecutor = (fallback: () => ExecutionResult | Promise<ExecutionResult>) => ExecutionResult | Promise<ExecutionResult>;

type Leaf = { key: string; resolve: (item: Record<string, unknown>, context: unknown) => unknown; output: (value: unknown) => unknown; nonNull: boolean };

const FALLBACK = Symbol('fallback');

export type Settled<T> = T | Promise<T>;

export const isPromise = <T>(value: Settled<T>): value is Promise<T> => typeof (value as Promise<T> | null | undefined)?.then === 'function';

/*
 * A straight-line executor for the commonest large shape: a root field
 * marked PLAIN_LIST whose result is a list of objects, selected by plain
 * leaf fields (scalars and enums, no arguments, directives or fragments).
 * graphql-js builds a resolve-info and walks its generic completion for each
 * of those fields (1.6 µs a field here: ~1 ms for a live batch of 100
 * readings, ~15 ms for a history of 8,640 buckets); this calls the same
 * resolvers and output coercions in a loop.
 *
 * The marker promises that the field's resolver and its leaves' resolvers
 * do not read `info` (they get none). Anything the plain loop cannot answer
 * exactly as graphql-js would (a thrown leaf, a null in a non-null position)
 * goes to the full executor, which reports it with paths and locations as
 * usual. Operations of another shape get undefined: not for this executor.
 */

/** For a subscription's events (run once per event, shared by its subscribers: shared-events.ts). */
export function compileEventExecutor(validated: ValidatedSubscriptionArgs): EventExecutor | undefined {
  const bound = bind(validated);
  if (!bound) return undefined;
  const { plan, args } = bound;
  return (event, contextValue) => {
    try {
      const list = plan.rootResolve(event, args, contextValue, undefined as never) as unknown;
      if (isPromise(list)) return undefined;
      const done = plan.complete(list, contextValue);
      return done === FALLBACK ? undefined : done;
    } catch {
      return undefined;
    }
  };
}

/**
 * For a query (queries and mutations run through graphql-js-execute.ts). An
 * error from the resolver is reported as graphql-js reports it (located at
 * the field, `data` null when the field is non-null), without running it
 * again; only an item the loop cannot complete runs the operation again.
 */
export function compileQueryExecutor(validated: ValidatedExecutionArgs): QueryExecutor | undefined {
  const bound = bind(validated);
  if (!bound) return undefined;
  const { plan, args, node } = bound;
  const { rootValue, contextValue } = validated;
  const failed = (error: unknown): ExecutionResult => {
    const located = locatedError(error, [node], [plan.rootKey]);
    return { errors: [located], data: plan.fieldNonNull ? null : { [plan.rootKey]: null } };
  };
  return (fallback) => {
    const settle = (list: unknown) => {
      if (list instanceof Error) return failed(list);
      const done = plan.complete(list, contextValue);
      return done === FALLBACK ? fallback() : done;
    };
    let list: unknown;
    try {
      list = plan.rootResolve(rootValue, args, contextValue, undefined as never);
    } catch (error) {
      return failed(error);
    }
    return isPromise(list) ? list.then(settle, failed) : settle(list);
  };
}

/** The operation's plan and its argument values, when it has this shape. */
function bind(validated: ValidatedExecutionArgs): { plan: Plan; args: Record<string, unknown>; node: FieldNode } | undefined {
  const { schema, operation, variableValues } = validated;
  const node = singleRootField(operation);
  if (!node) return undefined;
  const plan = planFor(schema, operation.operation, node);
  if (!plan) return undefined;
  try {
    // Copied into a plain object: graphql-js answers a null-prototype dictionary (~180 B), held for a subscription's life.
    return { plan, args: { ...getArgumentValues(plan.field, node, variableValues) }, node };
  } catch {
    return undefined;
  }
}

function singleRootField(operation: OperationDefinitionNode): FieldNode | undefined {
  if (operation.directives?.length) return undefined;
  const selections = operation.selectionSet.selections;
  if (selections.length !== 1 || selections[0]!.kind !== Kind.FIELD) return undefined;
  return selections[0]!;
}

/** What the plain loop needs of an operation's root field, apart from its argument values. */
interface Plan {
  field: GraphQLField<unknown, unknown>;
  rootResolve: NonNullable<GraphQLField<unknown, unknown>['resolve']>;
  rootKey: string;
  fieldNonNull: boolean;
  /** The field's value, a list, completed; FALLBACK where graphql-js must answer. */
  complete: (list: unknown, context: unknown) => ExecutionResult | typeof FALLBACK;
}

// By schema, then by the root field's node: yoga's parser cache hands every request with the same text the
// same document, so thousands of live subscriptions share one plan instead of each holding its own leaves.
const plans = new WeakMap<GraphQLSchema, WeakMap<FieldNode, Plan | null>>();

function planFor(schema: GraphQLSchema, kind: OperationTypeNode, node: FieldNode): Plan | undefined {
  let bySchema = plans.get(schema);
  if (!bySchema) plans.set(schema, (bySchema = new WeakMap()));
  let plan = bySchema.get(node);
  if (plan === undefined) bySchema.set(node, (plan = buildPlan(schema, kind, node) ?? null));
  return plan ?? undefined;
}

function buildPlan(schema: GraphQLSchema, kind: OperationTypeNode, node: FieldNode): Plan | undefined {
  const root =
    kind === OperationTypeNode.SUBSCRIPTION ? schema.getSubscriptionType() : kind === OperationTypeNode.QUERY ? schema.getQueryType() : undefined;
  if (!root || node.directives?.length || !node.selectionSet) return undefined;
  const field = root.getFields()[node.name.value];
  if (!field?.extensions?.[PLAIN_LIST] || !field.resolve) return undefined;

  // [Item!]! or [Item] etc. of an object type.
  const listType = getNullableType(field.type);
  if (!(listType instanceof GraphQLList)) return undefined;
  const fieldNonNull = field.type instanceof GraphQLNonNull;
  const itemNonNull = listType.ofType instanceof GraphQLNonNull;
  const itemType = getNullableType(listType.ofType);
  // isTypeOf is a check graphql-js runs per object; leave such types to it.
  if (!(itemType instanceof GraphQLObjectType) || itemType.isTypeOf) return undefined;

  const leaves: Leaf[] = [];
  for (const selection of node.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || selection.selectionSet || selection.arguments?.length) return undefined;
    const key = selection.alias?.value ?? selection.name.value;
    if (selection.name.value === '__typename') {
      leaves.push({ key, resolve: () => itemType.name, output: (v) => v, nonNull: true });
      continue;
    }
    const leaf = itemType.getFields()[selection.name.value] as GraphQLField<Record<string, unknown>, unknown> | undefined;
    if (!leaf || leaf.args.length > 0) return undefined;
    const named = getNullableType(leaf.type);
    if (!(named instanceof GraphQLScalarType) && !(named instanceof GraphQLEnumType)) return undefined;
    const name = leaf.name;
    const fieldResolve = leaf.resolve;
    leaves.push({
      key,
      resolve: fieldResolve ? (item, context) => fieldResolve(item, {}, context, undefined as never) : (item) => item[name],
      output: (value) => named.coerceOutputValue(value),
      nonNull: leaf.type instanceof GraphQLNonNull,
    });
  }

  // Plain objects, which V8 lays out as one shape for every item (graphql-js's null-prototype ones are each a
  // dictionary: for 8,640 history buckets ~1 ms more to build and stringify), unless a key would set the prototype instead.
  const newItem = leaves.some((leaf) => leaf.key === '__proto__') ? () => Object.create(null) as Record<string, unknown> : () => ({}) as Record<string, unknown>;
  const completeItem = (item: unknown, context: unknown): Record<string, unknown> | null | typeof FALLBACK => {
    if (item === null || item === undefined) return itemNonNull ? FALLBACK : null;
    const out = newItem();
    for (const leaf of leaves) {
      const value = leaf.resolve(item as Record<string, unknown>, context);
      if (value === null || value === undefined) {
        if (leaf.nonNull) return FALLBACK;
        out[leaf.key] = null;
      } else if (value instanceof Error || isPromise(value)) {
        return FALLBACK;
      } else out[leaf.key] = leaf.output(value);
    }
    return out;
  };
  const rootKey = node.alias?.value ?? node.name.value;
  const complete = (list: unknown, context: unknown): ExecutionResult | typeof FALLBACK => {
    if (list === null || list === undefined) return fieldNonNull ? FALLBACK : { data: { [rootKey]: null } };
    if (!Array.isArray(list)) return FALLBACK;
    const items = new Array<unknown>(list.length);
    try {
      for (let i = 0; i < list.length; i++) {
        const done = completeItem(list[i], context);
        if (done === FALLBACK) return FALLBACK;
        items[i] = done;
      }
    } catch {
      return FALLBACK;
    }
    const data = Object.create(null) as Record<string, unknown>;
    data[rootKey] = items;
    return { data };
  };
  return { field: field as GraphQLField<unknown, unknown>, rootResolve: field.resolve, rootKey, fieldNonNull, complete };
}
