import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, RateLimitedError } from '../errors.js';
import type { GraphQLContext } from '../schema/context.js';
import type { AuditTrail } from './audit-trail.js';
import { authorize, operationOf, type Operation } from './policy.js';
import { limitHolder } from './principal.js';
import type { RateLimiter } from './rate-limit.js';
import { ALL_SOURCES } from './tenant-scope.js';

const MAX_AUDITED_SOURCES = 1_000;
/**
 * An operation name is the client's, of any length the body allows: only its start is recorded. A read key's 3 MB
 * name was stored whole with each operation (200 a second within RATE_LIMIT), and held in memory with every entry
 * waiting for the database (up to 100,000 of them).
 */
export const MAX_AUDITED_NAME = 200;

function refusal(error: AppError): ExecutionResult {
  return { errors: [new GraphQLError(error.message, { extensions: { ...error.details, code: error.code } })] };
}

/** Source ids named in a result (any `sourceId` field), for the audit log. */
function sourceIdsIn(value: unknown, into: Set<string>): void {
  if (into.size >= MAX_AUDITED_SOURCES || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) sourceIdsIn(item, into);
    return;
  }
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'sourceId' && typeof inner === 'string') into.add(inner);
    else sourceIdsIn(inner, into);
  }
}

/**
 * Before any operation runs (HTTP, SSE or graphql-ws): the caller's role
 * must allow every root field (auth/policy.ts), then the key's rate limit
 * must have room (introspection counts too). After a read (query or subscription) or an admin
 * mutation, one audit entry: who, which operation, which sources.
 */
export function useAccessControl(options: { limiter: RateLimiter; audit: AuditTrail }): Plugin<GraphQLContext> {
  const check = async (args: ExecutionArgs): Promise<{ operation: Operation } | { refused: ExecutionResult }> => {
    const context = args.contextValue as GraphQLContext;
    const operation = operationOf(args.document, args.operationName);
    if (!operation) return { operation: { type: 'query', name: null, fields: [] } };
    try {
      authorize(operation, context.principal);
    } catch (error) {
      return { refused: refusal(error as AppError) };
    }
    // Every operation, introspection alone too: GraphiQL's full introspection query costs ~15 ms and answers ~100 KB,
    // and one key sent 400 of them in 6 s, holding a core, while its 201st `{ metrics { name } }` was refused.
    const { principal } = context;
    const wait = await options.limiter.take(limitHolder(principal));
    if (wait !== undefined) return { refused: refusal(new RateLimitedError(options.limiter.limit, options.limiter.windowMs, wait)) };
    return { operation };
  };

  const audit = (context: GraphQLContext, operation: Operation, result?: unknown) => {
    if (operation.fields.length === 0 || operation.fields.every((f) => f.startsWith('Mutation.ingest'))) return;
    const sources = context.scope.takeTouched();
    // Named sources bound what an answer can hold; only a tenant-wide (or unscoped) query is walked for the ones it returned.
    const named = sources.size > 0 && !sources.has(ALL_SOURCES);
    if (operation.type === 'query' && !named) sourceIdsIn((result as ExecutionResult | undefined)?.data, sources);
    const { principal } = context;
    options.audit.record({
      at: new Date(),
      tenantId: principal.tenantId,
      keyId: principal.keyId,
      role: principal.role,
      operationType: operation.type,
      operationName: operation.name?.slice(0, MAX_AUDITED_NAME) ?? null,
      fields: operation.fields,
      sourceIds: sources.size > 0 ? [...sources].slice(0, MAX_AUDITED_SOURCES) : null,
      caller: principal.label,
    });
  };

  // A subscription's operation waits here from the check to its audit; the one hook object serves every
  // subscription (envelop holds what onSubscribe returns for as long as the subscription runs).
  const subscribing = new WeakMap<ExecutionArgs, Operation>();
  const afterSubscribe = {
    onSubscribeResult: ({ args }: { args: ExecutionArgs }) => {
      const operation = subscribing.get(args);
      subscribing.delete(args);
      if (operation) audit(args.contextValue as GraphQLContext, operation);
    },
  };

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const checked = await check(args);
      if ('refused' in checked) return setResultAndStopExecution(checked.refused);
      return {
        onExecuteDone: ({ result }) => audit(args.contextValue as GraphQLContext, checked.operation, result),
      };
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const checked = await check(args);
      if ('refused' in checked) return setResultAndStopExecution(checked.refused);
      subscribing.set(args, checked.operation);
      return afterSubscribe;
    },
  };
}
