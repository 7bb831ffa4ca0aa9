import { GraphQLError } from 'graphql';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The one place domain errors become GraphQL errors: AppError keeps its
 * message and gets `extensions.code` (plus its details); GraphQL's own
 * errors (syntax, validation, variable coercion) pass through; anything
 * else is logged with its stack and reaches the client as an opaque
 * INTERNAL_SERVER_ERROR.
 */
export function createMaskError(log: Logger) {
  return (error: unknown, message: string): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError ? graphQLError.originalError : error;
    if (original instanceof AppError) {
      return new GraphQLError(original.message, {
        nodes: graphQLError?.nodes,
        path: graphQLError?.path,
        extensions: { ...original.details, code: original.code },
      });
    }
    if (graphQLError && (!original || original instanceof GraphQLError)) {
      return original instanceof GraphQLError ? original : graphQLError;
    }
    log.error({ err: original, path: graphQLError?.path }, 'unexpected error while executing an operation');
    return new GraphQLError(message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}
