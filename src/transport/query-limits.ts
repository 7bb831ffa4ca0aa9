import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, parse, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface QueryLimits {
  /** Nesting of selection sets, fragments flattened. Default 12. */
  maxDepth: number;
  /** graphql-armor's cost: objects 2, scalars 1, times 1.5 per level. Default 5,000. */
  maxCost: number;
  /** Aliased fields per operation. Default 15. */
  maxAliases: number;
  /** Directives per operation. Default 50. */
  maxDirectives: number;
  /** Lexical tokens per document; batches belong in variables, which do not count. Default 10,000. */
  maxTokens: number;
}

export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/**
 * Refuses documents that are too deep, costly, aliased or long before they
 * execute, over HTTP, SSE and graphql-ws alike (all go through yoga's
 * envelop). graphql-armor's rules do the counting; they are CommonJS and
 * throw CommonJS `GraphQLError`s that yoga would mask as internal errors,
 * so rejections are re-reported as this module's errors with a stable code.
 * Token counting uses graphql-js's own `maxTokens` parse option.
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
    costLimitRule({ ...common, maxCost: limits.maxCost, onReject: report('cost') }),
    maxAliasesRule({ ...common, n: limits.maxAliases, onReject: report('aliases') }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives, onReject: report('directives') }),
  ] as unknown as ValidationRule[];
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parse(source, { ...options, maxTokens: limits.maxTokens });
        } catch (error) {
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
    },
  };
}
