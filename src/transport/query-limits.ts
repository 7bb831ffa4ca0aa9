import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Kind,
  MaxIntrospectionDepthRule,
  parse,
  valueFromASTUntyped,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { operationOf, queryCost } from './query-cost.js';

export interface QueryLimits {
  /** Nesting of selection sets, fragments flattened. Default 12. */
  maxDepth: number;
  /** Objects an operation may answer, each list counted at its page size (query-cost.ts). Default 50,000. */
  maxCost: number;
  /** Aliased fields per operation. Default 15. */
  maxAliases: number;
  /** Directives per operation. Default 50. */
  maxDirectives: number;
  /** Lexical tokens per document; batches belong in variables, which do not count. Default 10,000. */
  maxTokens: number;
}

/** Filters (ids, metrics, kinds…) are lists of scalars; no legitimate one is longer. Batches are lists of objects. */
export const MAX_SCALAR_LIST = 1_000;

/**
 * How deep a variable's value may nest (a list in an object in a list…). The deepest input the schema takes is a
 * few levels; graphql-js coerces values recursively, and these checks walk them so, both overflowing the stack
 * on a value nested thousands deep (an internal error).
 */
export const MAX_VARIABLE_DEPTH = 32;

/** Ingest batches: their items are checked one by one (NUL refused per item, kept as a dead letter). */
const ITEM_ARGUMENTS = new Set(['readings', 'trades', 'transactions']);

/**
 * Text PostgreSQL cannot hold as sent: a NUL character, or a lone UTF-16 surrogate (JSON's "\ud800", no Unicode
 * character), which would be stored as U+FFFD, the text silently changed.
 */
const unstorable = (text: string) => text.includes('\u0000') || !text.isWellFormed();

const hasNul = (value: unknown): boolean =>
  typeof value === 'string' ? unstorable(value) : value !== null && typeof value === 'object' && Object.values(value).some(hasNul);

/**
 * Whether `value` nests deeper than `max` lists and objects. Recursive, but never past `max` levels; it runs on every
 * ingest batch: 0.04 ms for 1,000 readings here, against 0.2 ms for a walk with its own stack.
 */
function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true;
  return false;
}

/**
 * The variables as the operation will see them: those sent, and the defaults written in the document for the
 * others. A default is the client's value as much as a sent one: `$ids: [ID!] = []` is an empty filter too.
 */
function withDefaults(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const definitions = operationOf(document, operationName)?.variableDefinitions?.filter((d) => d.defaultValue !== undefined && !(variables && Object.hasOwn(variables, d.variable.name.value)));
  if (!definitions?.length) return variables;
  const values: Record<string, unknown> = { ...variables };
  for (const d of definitions) values[d.variable.name.value] = valueFromASTUntyped(d.defaultValue!);
  return values;
}

/** The first argument with unstorable text anywhere in it, inline or through a variable. */
function argumentWithNul(document: DocumentNode, variables: Record<string, unknown> | undefined): string | undefined {
  let found: string | undefined;
  visit(document, {
    Argument(node) {
      if (found || ITEM_ARGUMENTS.has(node.name.value)) return;
      const check = (nul: boolean) => {
        if (nul) found ??= node.name.value;
      };
      if (node.value.kind === Kind.VARIABLE) return check(hasNul(variables?.[node.value.name.value]));
      visit(node.value, {
        StringValue: (value) => check(unstorable(value.value)),
        Variable: (variable) => check(hasNul(variables?.[variable.name.value])),
      });
    },
  });
  return found;
}

/** The first argument holding a list of scalars longer than MAX_SCALAR_LIST (inline or through a variable), and its length. */
function oversizedList(document: DocumentNode, variables: Record<string, unknown> | undefined): { argument: string; length: number } | undefined {
  const tooLong = (value: unknown): number | undefined => {
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      if (value.length > MAX_SCALAR_LIST && value.some((v) => v === null || typeof v !== 'object')) return value.length;
      for (const item of value) {
        const inner = tooLong(item);
        if (inner !== undefined) return inner;
      }
      return undefined;
    }
    for (const inner of Object.values(value)) {
      const found = tooLong(inner);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  let found: { argument: string; length: number } | undefined;
  visit(document, {
    Argument(node) {
      if (found) return;
      if (node.value.kind === Kind.VARIABLE) {
        const length = tooLong(variables?.[node.value.name.value]);
        if (length !== undefined) found = { argument: node.name.value, length };
      } else {
        visit(node.value, {
          ListValue(list) {
            if (!found && list.values.length > MAX_SCALAR_LIST && list.values.some((v) => v.kind !== Kind.OBJECT)) found = { argument: node.name.value, length: list.values.length };
          },
        });
      }
    },
  });
  return found;
}

/**
 * The first argument of a query or subscription given an empty list, inline or through a variable. Every list
 * argument there is a filter, where omitted means "all": an empty list built by a client (a ward with no
 * patients yet) would read as "all" too, and answer the whole tenant. Mutations take empty batches.
 */
function emptyFilter(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | undefined): string | undefined {
  const operation = operationOf(document, operationName);
  if (!operation || operation.operation === 'mutation') return undefined;
  let found: string | undefined;
  visit(document, {
    // Fragments are visited too: they can only be spread into this operation's kind.
    OperationDefinition: (node) => (node === operation ? undefined : false),
    Argument(node) {
      if (found) return;
      const value = node.value.kind === Kind.VARIABLE ? variables?.[node.value.name.value] : node.value.kind === Kind.LIST ? node.value.values : undefined;
      if (Array.isArray(value) && value.length === 0) found = node.name.value;
    },
  });
  return found;
}

export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/**
 * Characters a document may hold, whitespace, comments and names included (MAX_TOKENS counts none of them): a
 * subscription keeps its document for its life, so one read key's graphql-ws sockets of 50 subscriptions padded
 * with spaces to 3.9 MB (within MAX_BODY_BYTES) held ~600 MB each. A document at MAX_TOKENS' default is well under.
 */
export const MAX_DOCUMENT_LENGTH = 131_072;

const INTROSPECTION_DEPTH = 30;

/** What only the variables tell: a NUL in an argument, an empty or oversized filter list, and the cost (page sizes may be variables). */
function checkArguments(args: ExecutionArgs, maxCost: number) {
  const sent = args.variableValues as Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(sent ?? {})) {
    if (nestsDeeperThan(value, MAX_VARIABLE_DEPTH)) {
      return {
        errors: [new GraphQLError(`variable $${name} nests lists and objects more than ${MAX_VARIABLE_DEPTH} deep`, { extensions: { code: 'BAD_USER_INPUT', variable: name, limit: MAX_VARIABLE_DEPTH } })],
      };
    }
  }
  const variables = withDefaults(args.document, args.operationName, sent);
  const withNul = argumentWithNul(args.document, variables);
  if (withNul !== undefined) {
    return {
      errors: [new GraphQLError(`${withNul} must not contain the NUL character (\\u0000) or a lone UTF-16 surrogate (such as \\ud800)`, { extensions: { code: 'BAD_USER_INPUT', argument: withNul } })],
    };
  }
  const empty = emptyFilter(args.document, args.operationName, variables);
  if (empty !== undefined) {
    return {
      errors: [
        new GraphQLError(`${empty} is an empty list: name at least one value, or leave ${empty} out for all`, { extensions: { code: 'BAD_USER_INPUT', argument: empty } }),
      ],
    };
  }
  const found = oversizedList(args.document, variables);
  if (found !== undefined) {
    return {
      errors: [
        new GraphQLError(`${found.argument} may name at most ${MAX_SCALAR_LIST} values, got ${found.length}`, {
          extensions: { code: 'BAD_USER_INPUT', argument: found.argument, limit: MAX_SCALAR_LIST },
        }),
      ],
    };
  }
  return costly(args, variables, maxCost);
}

/** The refusal of an operation that may answer more than maxCost objects. */
function costly(args: ExecutionArgs, variables: Record<string, unknown> | undefined, maxCost: number) {
  const { cost, costliest } = queryCost(args.schema, args.document, args.operationName, variables);
  if (cost <= maxCost) return undefined;
  return {
    errors: [
      new GraphQLError(
        `the operation may answer ${cost} objects, more than MAX_QUERY_COST (${maxCost}); ${costliest} costs the most: ask for smaller pages (first), fewer history buckets (a shorter range or a wider bucket) or fewer nested lists`,
        { extensions: { code: QUERY_TOO_COMPLEX, limit: 'cost', cost, maxCost } },
      ),
    ],
  };
}

/**
 * What a client is told when graphql-js gives up on a document: it checks overlapping fields and fragment spreads
 * against a work budget, and past it answers a bare "Validation aborted." (1,000 fields at one level, for one),
 * which names no limit. One depth refusal too: the depth rule that counts introspection (a higher limit) refuses
 * a deep document the other one refused already.
 */
function tidyValidationErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  let depthRefused = false;
  const tidy: GraphQLError[] = [];
  for (const error of errors) {
    // Exactly graphql-js's budget error: "Too many validation errors, error limit reached. Validation aborted." is a
    // document with many mistakes, each reported.
    if (error.message === 'Validation aborted.') {
      tidy.push(
        new GraphQLError('the document is too large to check: too many fields in one selection, or fragments spread too often; ask for fewer fields at once', {
          extensions: { code: QUERY_TOO_COMPLEX, limit: 'validation' },
        }),
      );
      continue;
    }
    if (error.extensions?.code === QUERY_TOO_COMPLEX && error.extensions.limit === 'depth') {
      if (depthRefused) continue;
      depthRefused = true;
    }
    tidy.push(error);
  }
  return tidy;
}

/** A graphql-js rule whose errors carry QUERY_TOO_COMPLEX and the limit's name. */
function withCode(rule: ValidationRule, limit: string): ValidationRule {
  return (context) =>
    rule(
      new Proxy(context, {
        get(target, property) {
          if (property === 'reportError') {
            return (error: GraphQLError) => target.reportError(new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: QUERY_TOO_COMPLEX, limit } }));
          }
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      }),
    );
}

/**
 * Refuses documents that are too deep, costly, aliased or long before they
 * execute, over HTTP, SSE and graphql-ws alike (all go through yoga's
 * envelop). graphql-armor's rules count depth, aliases and directives; they
 * are CommonJS and throw CommonJS `GraphQLError`s that yoga would mask as
 * internal errors, so rejections are re-reported as this module's errors
 * with a stable code. Token counting uses graphql-js's own `maxTokens` parse
 * option. The cost is counted as each operation starts, with its variables.
 */
export function useQueryLimits(limits: QueryLimits): Plugin {
  const report = (limit: string) => [
    (context: ValidationContext | null, error: Error) => {
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: QUERY_TOO_COMPLEX, limit } }));
    },
  ];
  const common = { propagateOnRejection: false, exposeLimits: true } as const;
  const rules = [
    maxDepthRule({ ...common, n: limits.maxDepth, onReject: report('depth') }),
    maxAliasesRule({ ...common, n: limits.maxAliases, onReject: report('aliases') }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives, onReject: report('directives') }),
    // Introspection is left out of the depth above; GraphiQL's full introspection query counts 21 deep here.
    maxDepthRule({ ...common, n: Math.max(limits.maxDepth, INTROSPECTION_DEPTH), ignoreIntrospection: false, onReject: report('depth') }),
    // graphql-js's own bound on nested __type lists (fields, interfaces, possibleTypes).
    withCode(MaxIntrospectionDepthRule, 'depth'),
  ] as unknown as ValidationRule[];
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          const document = parse(source, { ...options, maxTokens: limits.maxTokens });
          // After the parse, so that a token flood is named as one.
          const length = typeof source === 'string' ? source.length : source.body.length;
          if (length > MAX_DOCUMENT_LENGTH) {
            throw new GraphQLError(`the document is ${length} characters long, more than ${MAX_DOCUMENT_LENGTH}; send large inputs as variables`, {
              extensions: { code: QUERY_TOO_COMPLEX, limit: 'length' },
            });
          }
          return document;
        } catch (error) {
          // Thousands of nested brackets overflow the recursive parser before the token limit is reached.
          if (error instanceof RangeError) {
            throw new GraphQLError('the document is nested too deeply to parse', { extensions: { code: QUERY_TOO_COMPLEX, limit: 'depth' } });
          }
          if (error instanceof GraphQLError && /more than \d+ tokens/.test(error.message)) {
            throw new GraphQLError(`the document has more than ${limits.maxTokens} tokens; send large inputs as variables`, {
              extensions: { code: QUERY_TOO_COMPLEX, limit: 'tokens' },
            });
          }
          throw error;
        }
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(tidyValidationErrors(result as GraphQLError[]));
      };
    },
    onExecute: ({ args, setResultAndStopExecution }) => {
      const refused = checkArguments(args, limits.maxCost);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const refused = checkArguments(args, limits.maxCost);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}
