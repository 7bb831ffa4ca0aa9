import { GraphQLError, Kind } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { connectionErrorCode, DEADLOCK_DETECTED, READ_ONLY_SQL_TRANSACTION, SERIALIZATION_FAILURE, sqlStateOf } from '../db/client.js';
import { AppError } from '../errors.js';
import { reasonOf, type Logger } from '../log.js';
import { maskCardNumbers } from '../ingest/card-numbers.js';

/** How often a database short of a resource (SQLSTATE class 53), or read-only, is logged while operations keep meeting it. */
const SHORT_OF_RESOURCE_LOG_EVERY_MS = 60_000;
/** Mutations stored in one statement or transaction: one that fails stored nothing. */
const INGEST_FIELDS = new Set(['ingestReadings', 'ingestTrades', 'ingestTransactions']);

/** What a client reads of an unexpected error (yoga's own default, named so both masking paths say it). */
export const UNEXPECTED_ERROR = 'Unexpected error.';

/** The request an error came from: yoga's maskError is not given the operation's context, and its log line needs it. */
const requestOfError = new WeakMap<object, string>();

/**
 * Notes the request id of an operation's errors for maskError's log line, so an operator can find the line for a
 * client's INTERNAL_SERVER_ERROR by its X-Request-ID. Yoga masks errors in a plugin after ours, so this sees them
 * first.
 */
const requestOf = (context: unknown) => (context as { requestId?: string } | undefined)?.requestId;
const note = (requestId: string, errors: readonly unknown[] | undefined) => {
  for (const error of errors ?? []) if (error !== null && typeof error === 'object') requestOfError.set(error, requestId);
};

/** Notes the request of `errors`, from the operation's context, for maskError's log line (transport/shared-events.ts masks graphql-ws operations itself). */
export function noteRequestOfErrors(contextValue: unknown, errors: readonly unknown[] | undefined): void {
  const requestId = requestOf(contextValue);
  if (requestId !== undefined) note(requestId, errors);
}

export function useRequestIdOnErrors(): Plugin {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        const requestId = requestOf(args.contextValue);
        if (requestId === undefined || isAsyncIterable(result)) return;
        note(requestId, result.errors);
      },
    }),
    // A subscription's errors: in setting it up (a result, not a stream), in an event, or thrown by its stream.
    onSubscribe: ({ args }) => {
      const requestId = requestOf(args.contextValue);
      // A graphql-ws operation is masked by shared-events.ts, which notes its errors' request itself: wrapping its
      // stream here would cost ~2.9 KiB an idle subscription (envelop's per-event iterators).
      if (requestId === undefined || (args.contextValue as { directNext?: unknown }).directNext) return;
      return {
        onSubscribeResult: ({ result }) => {
          if (!isAsyncIterable(result)) return note(requestId, result.errors);
          return { onNext: ({ result: event }) => note(requestId, event.errors) };
        },
        onSubscribeError: ({ error }) => note(requestId, [error]),
      };
    },
  };
}

/**
 * graphql-js quotes what it could not take (`found: { id: "t-1", cardId: "4111111111111111", … }`, a variable; `String
 * cannot represent a non string value: 4111111111111111`, a literal in the document): a card number there reaches
 * the partner's error logs. Masked as in a dead letter.
 */
function withCardNumbersMasked(error: GraphQLError): GraphQLError {
  const message = maskCardNumbers(error.message) as string;
  if (message === error.message) return error;
  return new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions: error.extensions });
}

/**
 * Masks card numbers in validation errors, which yoga answers without maskError: a literal the document holds where
 * a string belongs (`transactions(ids: [4111111111111111])`) is quoted back by ValuesOfCorrectTypeRule.
 */
export function useCardNumbersMaskedInValidation(): Plugin {
  return {
    onValidate: () => ({ result, setResult }) => {
      if (result.length > 0) setResult(result.map((error) => withCardNumbersMasked(error as GraphQLError)));
    },
  };
}

/**
 * The one place domain errors become GraphQL errors: AppError keeps its
 * message and gets `extensions.code` (plus its details); GraphQL's own
 * errors (syntax, validation, variable coercion) pass through; anything
 * else is logged with its stack and reaches the client as an opaque
 * INTERNAL_SERVER_ERROR.
 */
export function createMaskError(log: Logger) {
  /** Per SQLSTATE of class 53: when it was last logged, and how many operations met it since. */
  const shortOf = new Map<string, { at: number; since: number }>();
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
      const masked = withCardNumbersMasked(graphQLError);
      // The outer error says where (`Variable "$r" has invalid value at [1].value: …`); the inner one only what.
      if (/^Variable "\$/.test(masked.message) && !masked.extensions.code) {
        return new GraphQLError(masked.message, { nodes: masked.nodes, extensions: { ...masked.extensions, code: 'BAD_USER_INPUT' } });
      }
      return masked;
    }
    // SQLSTATE class 22 (data exception): a value PostgreSQL cannot hold (NUL in text, an out-of-range number or
    // interval). The request is at fault, nothing was stored, and the server's message names the problem.
    const sqlState = sqlStateOf(original);
    if (sqlState?.startsWith('22')) {
      return new GraphQLError(`the database cannot hold a value of this request: ${reasonOf(original)}`, {
        nodes: graphQLError?.nodes,
        path: graphQLError?.path,
        extensions: { code: 'BAD_USER_INPUT', sqlState },
      });
    }
    const requestId = error !== null && typeof error === 'object' ? requestOfError.get(error) : undefined;
    // A deadlock or serialization failure: PostgreSQL rolled back the operation's transaction so a concurrent one
    // could finish. Nothing is wrong with the request, and running it again is the remedy.
    if (sqlState === DEADLOCK_DETECTED || sqlState === SERIALIZATION_FAILURE) {
      log.warn({ sqlState, path: graphQLError?.path, requestId }, 'the database aborted an operation in a conflict with a concurrent one; the client is told to retry');
      return new GraphQLError('the database aborted this operation to resolve a conflict with another running at the same time; retry it', {
        nodes: graphQLError?.nodes,
        path: graphQLError?.path,
        extensions: { code: 'UNAVAILABLE', sqlState },
      });
    }
    // The database unreachable, or the connection lost: nothing is wrong with the request (ingest says more,
    // ingest/unavailable.ts). Each of an outage's requests meets it, and /ready and the checks log the outage.
    const connection = connectionErrorCode(original);
    if (connection) {
      log.debug({ cause: connection, path: graphQLError?.path, requestId }, 'an operation met the database unreachable; the client is told to retry');
      return new GraphQLError('the database is unreachable right now; retry shortly', {
        nodes: graphQLError?.nodes,
        path: graphQLError?.path,
        extensions: { code: 'UNAVAILABLE', retryable: true, cause: connection },
      });
    }
    // SQLSTATE class 53, insufficient resources: the database's disk is full (53100), it is out of memory (53200) or
    // past a configured limit (53400; too many connections, 53300, is a connection's, above). 25006: a read-only
    // database, a standby that DATABASE_URL reaches after a failover or one set default_transaction_read_only while
    // its disk is freed. Nothing is wrong with the request and nothing of it was stored: told to retry once the
    // database writes again, not sent an unexpected error that a feed would drop its readings on. Every request
    // meets it while it lasts: logged once a minute.
    const refusal = sqlState?.startsWith('53') ? 'short of a resource' : sqlState === READ_ONLY_SQL_TRANSACTION ? 'read-only' : undefined;
    if (refusal !== undefined) {
      const noted = shortOf.get(sqlState!) ?? { at: -Infinity, since: 0 };
      noted.since++;
      if (Date.now() - noted.at >= SHORT_OF_RESOURCE_LOG_EVERY_MS) {
        log.error(
          { sqlState, reason: reasonOf(original), operations: noted.since, path: graphQLError?.path, requestId },
          refusal === 'read-only'
            ? 'the database is read-only (a standby, or default_transaction_read_only): writes fail until DATABASE_URL reaches a writable primary; clients are told to retry (logged once a minute, operations: how many failed since the last line)'
            : 'the database is short of a resource (disk, memory): operations fail until it is freed; clients are told to retry (logged once a minute, operations: how many failed since the last line)',
        );
        noted.at = Date.now();
        noted.since = 0;
      }
      shortOf.set(sqlState!, noted);
      // An ingest is one statement (or one transaction): nothing of it was stored. Other mutations commit in steps
      // (deleteAlertRule deletes the rule, then resolves each open alert), so one may be partly applied.
      const field = graphQLError?.nodes?.[0]?.kind === Kind.FIELD ? graphQLError.nodes[0].name.value : undefined;
      const whole = field !== undefined && INGEST_FIELDS.has(field);
      const until = refusal === 'read-only' ? 'it is writable again' : 'that is freed';
      return new GraphQLError(
        `the database is ${refusal} (${reasonOf(original)}): ${whole ? `nothing of this operation was stored; retry it once ${until}` : `this operation may be partly applied; once ${until}, read what it changes and retry what is missing`}`,
        {
          nodes: graphQLError?.nodes,
          path: graphQLError?.path,
          extensions: { code: 'UNAVAILABLE', retryable: whole, sqlState },
        },
      );
    }
    log.error({ err: original, path: graphQLError?.path, requestId }, 'unexpected error while executing an operation');
    return new GraphQLError(message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}
