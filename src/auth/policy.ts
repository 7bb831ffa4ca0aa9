import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Role } from '../db/schema.js';
import { ForbiddenError } from '../errors.js';
import type { Principal } from './principal.js';

const INGEST: readonly Role[] = ['ingest', 'admin'];
const READ: readonly Role[] = ['read', 'analyst', 'admin'];
const ANALYST: readonly Role[] = ['analyst', 'admin'];
const ADMIN: readonly Role[] = ['admin'];
const ANYONE: readonly Role[] = ['ingest', 'read', 'analyst', 'admin'];

/**
 * Which roles may run each root field. `ingest` posts telemetry; `read` is
 * an app watching live data (subscriptions, the source list, open alerts,
 * acknowledging them); `analyst` adds history queries; `admin` adds rules, sources, keys,
 * the audit log and operator views. Every field is also scoped to the
 * caller's tenant by its resolver. A root field missing here is refused
 * (test/auth.test.ts fails when the schema has one).
 */
export const FIELD_ROLES: Readonly<Record<string, readonly Role[]>> = {
  'Mutation.ingestReadings': INGEST,
  'Mutation.ingestTrades': INGEST,
  'Mutation.ingestTransactions': INGEST,
  'Mutation.acknowledgeAlert': READ,
  'Mutation.registerSources': ADMIN,
  'Mutation.retireSources': ADMIN,
  'Mutation.createAlertRule': ADMIN,
  'Mutation.updateAlertRule': ADMIN,
  'Mutation.setAlertRuleEnabled': ADMIN,
  'Mutation.deleteAlertRule': ADMIN,
  'Mutation.createApiKey': ADMIN,
  'Mutation.revokeApiKey': ADMIN,
  'Subscription.readings': READ,
  'Subscription.windows': READ,
  'Subscription.candles': READ,
  'Subscription.trades': READ,
  'Subscription.anomalies': READ,
  'Subscription.news2': READ,
  'Subscription.alerts': READ,
  'Subscription.fraudSignals': READ,
  'Query.metrics': ANYONE,
  'Query.sources': READ,
  'Query.alert': READ,
  'Query.readings': ANALYST,
  'Query.history': ANALYST,
  'Query.windows': ANALYST,
  'Query.candles': ANALYST,
  'Query.trades': ANALYST,
  'Query.anomalies': ANALYST,
  'Query.news2Scores': ANALYST,
  // A read key: open alerts only (the resolver refuses history).
  'Query.alerts': READ,
  'Query.alertRules': ANALYST,
  'Query.fraudSignals': ANALYST,
  // Card data, for fraud analysts as fraudSignals is (NESTED_FIELD_ROLES).
  'Query.transactions': ANALYST,
  'Query.lateEvents': ANALYST,
  'Query.deadLetters': ADMIN,
  'Query.processors': ADMIN,
  'Query.apiKeys': ADMIN,
  'Query.auditLog': ADMIN,
};

/**
 * Fields below the root whose data not every role of their root fields may read. Card transactions (amounts,
 * merchants, places, buyers' IP addresses) are for fraud analysts, as the fraudSignals query is: a read key (an app
 * watching signals live through the fraudSignals subscription) gets the signals, not the transactions behind them.
 */
export const NESTED_FIELD_ROLES: Readonly<Record<string, readonly Role[]>> = {
  'FraudSignal.transactions': ANALYST,
};

const ROOT_TYPES = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

export interface Operation {
  type: 'query' | 'mutation' | 'subscription';
  name: string | null;
  /** Root fields as `Type.field`, introspection (`__schema`, `__type`, `__typename`) left out. */
  fields: string[];
}

/** The operation a request runs and its root fields, fragments followed. Undefined when the document has no such operation. */
export function operationOf(document: DocumentNode, operationName: string | null | undefined): Operation | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return undefined;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const fields = new Set<string>();
  const seen = new Set<string>();
  const collect = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) fields.add(`${ROOT_TYPES[operation.operation]}.${selection.name.value}`);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return { type: operation.operation, name: operation.name?.value ?? null, fields: [...fields] };
}

function refuseUnless(roles: readonly Role[] | undefined, field: string, principal: Principal): void {
  if (roles?.includes(principal.role)) return;
  throw new ForbiddenError(`role ${principal.role} may not use ${field}${roles ? `; it needs ${roles.join(' or ')}` : ''}`, {
    field,
    role: principal.role,
    http: { status: 403 },
  });
}

/** Throws FORBIDDEN naming the first root field the principal's role may not run. */
export function authorize(operation: Operation, principal: Principal): void {
  for (const field of operation.fields) refuseUnless(FIELD_ROLES[field], field, principal);
}

/** Throws FORBIDDEN when the principal's role may not read `field`, one of NESTED_FIELD_ROLES. */
export function authorizeNested(field: keyof typeof NESTED_FIELD_ROLES & string, principal: Principal): void {
  refuseUnless(NESTED_FIELD_ROLES[field], field, principal);
}
