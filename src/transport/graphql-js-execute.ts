import {
  type ExecutionArgs,
  type ExecutionResult,
  executeRootSelectionSet,
  getOperationAST,
  type GraphQLInputType,
  type GraphQLSchema,
  typeFromAST,
  validateExecutionArgs,
  type VariableDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { listCoercer, type ListCoercer } from './list-coercion.js';
import { compileQueryExecutor } from './plain-lists.js';

/**
 * Queries and mutations run on graphql-js 17's own `execute`, as
 * subscriptions already do (shared-events.ts), instead of yoga's default
 * @graphql-tools/executor. That executor copies every variable value into a
 * fresh null-prototype object before coercing it (`snapshotInputValue`),
 * which for an ingest batch of 1,000 input objects was ~3 µs a reading, a
 * tenth of the server's work per reading; graphql-js coerces the parsed JSON
 * as it is. Nothing here uses what only the other executor has (@defer and
 * @stream are not in the schema).
 *
 * Variables that are lists of flat input objects (the ingest batches) are
 * coerced by list-coercion.ts's one loop first; graphql-js then coerces the
 * rest of the variables (the list stands in as []), and the list's coerced
 * value is put in place before execution. A list the loop declines is left
 * whole to graphql-js.
 *
 * A query of one root field marked PLAIN_LIST (a long list of plain
 * objects, such as history's buckets) is completed by plain-lists.ts's loop.
 */
export function useGraphqlJsExecute(): Plugin {
  return {
    onExecute: ({ setExecuteFn }) => setExecuteFn(run as never),
  };
}

// By variable definition: yoga caches parsed documents, so a document's nodes live as long as it does
// (typeFromAST builds new list and non-null wrappers on every call, so the type cannot be the key).
const coercers = new WeakMap<VariableDefinitionNode, ListCoercer | null>();

function coercerOf(schema: GraphQLSchema, definition: VariableDefinitionNode): ListCoercer | undefined {
  let coercer = coercers.get(definition);
  if (coercer === undefined) {
    const type = typeFromAST(schema, definition.type) as GraphQLInputType | undefined;
    coercers.set(definition, (coercer = (type && listCoercer(type)) ?? null));
  }
  return coercer ?? undefined;
}

function run(args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> {
  const raw = args.variableValues;
  const operation = raw ? getOperationAST(args.document, args.operationName) : null;
  let coercedLists: Record<string, unknown[]> | undefined;
  let standIns: Record<string, unknown> | undefined;
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const value = raw![name];
    if (!Array.isArray(value) || definition.defaultValue) continue;
    const coerced = coercerOf(args.schema, definition)?.(value);
    if (!coerced) continue;
    (coercedLists ??= {})[name] = coerced;
    (standIns ??= { ...raw })[name] = [];
  }
  if (!coercedLists) {
    const validated = validateExecutionArgs(args);
    if (!('schema' in validated)) return { errors: validated };
    const plain = compileQueryExecutor(validated);
    return plain ? plain(() => executeRootSelectionSet(validated)) : executeRootSelectionSet(validated);
  }

  const validated = validateExecutionArgs({ ...args, variableValues: standIns });
  if (!('schema' in validated)) return { errors: validated };
  const sources = { ...validated.variableValues.sources };
  for (const name of Object.keys(coercedLists)) if (sources[name]) sources[name] = { ...sources[name], value: raw![name] };
  const variableValues = { sources, coerced: { ...validated.variableValues.coerced, ...coercedLists } };
  return executeRootSelectionSet({ ...validated, variableValues, rawVariableValues: raw });
}
