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
  type ValidatedSubscriptionArgs,
} from 'graphql';
import { PLAIN_EVENTS } from '../schema/live.js';

/** The event's result, or undefined when it needs the full executor (an error, a null where none may be). */
export type EventExecutor = (event: unknown, contextValue: unknown) => ExecutionResult | undefined;

type Leaf = { key: string; resolve: (item: Record<string, unknown>, context: unknown) => unknown; output: (value: unknown) => unknown; nonNull: boolean };

const FALLBACK = Symbol('fallback');

/**
 * A straight-line executor for the commonest live shape: a subscription field
 * marked PLAIN_EVENTS whose event is a list of objects, selected by plain
 * leaf fields (scalars and enums, no arguments, directives or fragments).
 * graphql-js builds a resolve-info and walks its generic completion for each
 * of those fields (1.6 µs a field here, ~1 ms for a batch of 100 readings);
 * this calls the same resolvers and output coercions in a loop.
 *
 * The marker promises that the field's resolver and its leaves' resolvers
 * do not read `info` (they get none). Anything the plain loop cannot answer
 * exactly as graphql-js would (a thrown error, a null in a non-null
 * position) returns undefined and the caller runs the full executor, which
 * reports it with paths and locations as usual. Returns undefined when the
 * operation is not of this shape.
 */
export function compileEventExecutor(validated: ValidatedSubscriptionArgs): EventExecutor | undefined {
  const { schema, operation, variableValues } = validated;
  const selections = operation.selectionSet.selections;
  if (selections.length !== 1 || selections[0]!.kind !== Kind.FIELD) return undefined;
  const node = selections[0]! as FieldNode;
  const plan = planFor(schema, node);
  if (!plan) return undefined;
  let args: Record<string, unknown>;
  try {
    // Copied into a plain object: graphql-js answers a null-prototype dictionary (~180 B), held here for the subscription's life.
    args = { ...getArgumentValues(plan.field, node, variableValues) };
  } catch {
    return undefined;
  }
  const { rootResolve, rootKey, listNonNull, completeItem } = plan;

  return (event, contextValue) => {
    try {
      const list = rootResolve(event, args, contextValue, undefined as never) as unknown;
      if (list === null || list === undefined) return listNonNull ? undefined : { data: { [rootKey]: null } };
      if (!Array.isArray(list) || typeof (list as { then?: unknown }).then === 'function') return undefined;
      const items = new Array<unknown>(list.length);
      for (let i = 0; i < list.length; i++) {
        const done = completeItem(list[i], contextValue);
        if (done === FALLBACK) return undefined;
        items[i] = done;
      }
      const data = Object.create(null) as Record<string, unknown>;
      data[rootKey] = items;
      return { data };
    } catch {
      return undefined;
    }
  };
}

/** What the plain loop needs of an operation's root field, apart from its argument values. */
interface Plan {
  field: GraphQLField<unknown, unknown>;
  rootResolve: NonNullable<GraphQLField<unknown, unknown>['resolve']>;
  rootKey: string;
  listNonNull: boolean;
  completeItem: (item: unknown, context: unknown) => Record<string, unknown> | null | typeof FALLBACK;
}

// By schema, then by the root field's node: yoga's parser cache hands every subscriber of the same text the
// same document, so thousands of live subscriptions share one plan instead of each holding its own leaves.
const plans = new WeakMap<GraphQLSchema, WeakMap<FieldNode, Plan | null>>();

function planFor(schema: GraphQLSchema, node: FieldNode): Plan | undefined {
  let bySchema = plans.get(schema);
  if (!bySchema) plans.set(schema, (bySchema = new WeakMap()));
  let plan = bySchema.get(node);
  if (plan === undefined) bySchema.set(node, (plan = buildPlan(schema, node) ?? null));
  return plan ?? undefined;
}

function buildPlan(schema: GraphQLSchema, node: FieldNode): Plan | undefined {
  const root = schema.getSubscriptionType();
  if (!root || node.directives?.length || !node.selectionSet) return undefined;
  const field = root.getFields()[node.name.value];
  if (!field?.extensions?.[PLAIN_EVENTS] || !field.resolve) return undefined;

  // [Item!]! or [Item] etc. of an object type.
  const listType = getNullableType(field.type);
  if (!(listType instanceof GraphQLList)) return undefined;
  const listNonNull = field.type instanceof GraphQLNonNull;
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

  const completeItem = (item: unknown, context: unknown): Record<string, unknown> | null | typeof FALLBACK => {
    if (item === null || item === undefined) return itemNonNull ? FALLBACK : null;
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const leaf of leaves) {
      const value = leaf.resolve(item as Record<string, unknown>, context);
      if (value === null || value === undefined) {
        if (leaf.nonNull) return FALLBACK;
        out[leaf.key] = null;
      } else out[leaf.key] = leaf.output(value);
    }
    return out;
  };
  return { field: field as GraphQLField<unknown, unknown>, rootResolve: field.resolve, rootKey: node.alias?.value ?? node.name.value, listNonNull, completeItem };
}
