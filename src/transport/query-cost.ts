import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { DEFAULT_LIST_SIZE, LIST_SIZE, PAGE_BOUNDS, type ListSize, type PageBounds } from '../schema/cost.js';

export interface QueryCost {
  /** Objects the operation may answer at most: each list counted at its page size or its LIST_SIZE. */
  cost: number;
  /** The root field that costs the most, to name in a refusal. */
  costliest: string | undefined;
}

/**
 * The objects an operation may answer, counted with its variables: a
 * connection's edges at the `first` asked for (literal or variable; its
 * default when left out; its maximum when above it, which its resolver then
 * refuses by name), a plain list at its LIST_SIZE, anything else as one.
 * Scalars are free: the token limit bounds how many a document selects.
 * Nested lists multiply, which is what this exists to refuse.
 *
 * Runs after validation, so fragments are known and acyclic; each
 * fragment's cost is computed once per page size, so a document that spreads
 * fragments into one another costs time in its length, not in its expansion.
 */
/** The operation graphql-js runs: the one named `operationName`, or the only one; undefined otherwise. */
export function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
}

export function queryCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | undefined): QueryCost {
  const operation = operationOf(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return { cost: 0, costliest: undefined };

  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const defaults = new Map(operation.variableDefinitions?.map((v) => [v.variable.name.value, v.defaultValue]) ?? []);
  const valueOf = (node: ValueNode): unknown => {
    if (node.kind !== Kind.VARIABLE) return valueFromASTUntyped(node);
    const name = node.name.value;
    if (variables && Object.hasOwn(variables, name)) return variables[name];
    const fallback = defaults.get(name);
    return fallback ? valueFromASTUntyped(fallback) : undefined;
  };
  const memo = new Map<string, number>();

  const pageOf = (field: GraphQLField<unknown, unknown>, argument: (name: string) => unknown): number | undefined => {
    const first = field.args.find((a) => a.name === 'first');
    const bounds = first?.extensions[PAGE_BOUNDS] as PageBounds | undefined;
    if (!bounds) return undefined;
    const asked = argument('first');
    if (typeof asked !== 'number' || !Number.isInteger(asked)) return bounds.fallback;
    return Math.min(Math.max(asked, 1), bounds.max);
  };

  const selectionCost = (selectionSet: SelectionSetNode, type: GraphQLCompositeType, page: number | undefined): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (on && isCompositeType(on)) total += selectionCost(selection.selectionSet, on, page);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const on = fragment && schema.getType(fragment.typeCondition.name.value);
        if (!fragment || !on || !isCompositeType(on)) continue;
        const key = `${fragment.name.value}:${page ?? ''}`;
        let cost = memo.get(key);
        if (cost === undefined) {
          cost = selectionCost(fragment.selectionSet, on, page);
          memo.set(key, cost);
        }
        total += cost;
      } else {
        const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[selection.name.value] : undefined;
        const named = field && getNamedType(field.type);
        if (!field || !selection.selectionSet || !named || !isCompositeType(named)) continue;
        const written = new Map(selection.arguments?.map((a) => [a.name.value, a.value]));
        const argument = (name: string) => {
          const node = written.get(name);
          return node ? valueOf(node) : undefined;
        };
        total += fieldCost(field, argument, page) * (1 + selectionCost(selection.selectionSet, named, pageOf(field, argument)));
      }
    }
    return total;
  };

  /** How many of this field's objects: its list size, its parent connection's page for `edges`, else one. */
  const fieldCost = (field: GraphQLField<unknown, unknown>, argument: (name: string) => unknown, page: number | undefined): number => {
    if (!isListType(getNullableType(field.type))) return 1;
    const size = field.extensions[LIST_SIZE] as ListSize | undefined;
    if (typeof size === 'function') return size(argument);
    return size ?? page ?? DEFAULT_LIST_SIZE;
  };

  let cost = 0;
  let costliest: { name: string; cost: number } | undefined;
  for (const selection of operation.selectionSet.selections) {
    const single = { ...operation.selectionSet, selections: [selection] };
    const part = selectionCost(single, root, undefined);
    cost += part;
    const name = selection.kind === Kind.FIELD ? (selection.alias ?? selection.name).value : selection.kind === Kind.FRAGMENT_SPREAD ? `...${selection.name.value}` : '...';
    if (!costliest || part > costliest.cost) costliest = { name, cost: part };
  }
  return { cost, costliest: costliest?.name };
}
