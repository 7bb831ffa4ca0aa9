import { createApiKey, revokeKey } from '../auth/key-admin.js';
import { listApiKeys, type ApiKeyRow } from '../db/api-keys.js';
import { listAuditEntries } from '../db/audit.js';
import { ROLES, type auditLog, type Role } from '../db/schema.js';
import { builder, describedValues } from './builder.js';
import { checkTimeRange, connectionOf, idCursor, pageSize, parseCursor, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';

const PAGE: PageBounds = { max: 500, fallback: 100 };

/** README: Tenants, API keys and roles; enforced by FIELD_ROLES in src/auth/policy.ts. */
const ROLE_DESCRIPTIONS: Record<Role, string> = {
  ingest: 'Posts telemetry: ingestReadings, ingestTrades, ingestTransactions, and metrics. Reads nothing else.',
  read: 'Watches live data: every subscription, sources, alert, acknowledgeAlert and metrics.',
  analyst: 'What read may, plus every history query: readings, history, windows, candles, anomalies, news2Scores, alerts, alertRules, fraudSignals, lateEvents.',
  admin: 'Everything, for its tenant: what ingest and analyst may, plus registerSources, retireSources, changes to alert rules, API keys (createApiKey, revokeApiKey, apiKeys), deadLetters, processors and auditLog.',
};
const RoleEnum = builder.enumType('Role', {
  description: "What an API key may do. Every role reaches its own tenant's data only.",
  values: describedValues(ROLES, ROLE_DESCRIPTIONS),
});

const ApiKeyRef = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  description: 'An API key; its secret is never shown again after creation.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Public id: the part after "vgl_" of the key; names the key in logs and the audit log.' }),
    tenantId: t.exposeString('tenantId', { description: 'The tenant whose data the key reaches.' }),
    role: t.field({ description: 'What the key may do.', type: RoleEnum, resolve: (k) => k.role }),
    name: t.exposeString('name', { description: 'A label given at creation (who or what uses it).' }),
    createdAt: t.field({ description: 'When it was created.', type: 'DateTime', resolve: (k) => k.createdAt }),
    createdBy: t.exposeString('createdBy', { description: 'Who created it: the admin key\'s id, the caller when the server runs open, or "cli:<user>" for npm run keys.' }),
    expiresAt: t.field({ description: 'When it stops working; null: never.', type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    revokedAt: t.field({ description: 'When it was revoked; null: not revoked.', type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ key: string; apiKey: ApiKeyRow }>('CreatedApiKey').implement({
  description: 'A key createApiKey just made: its secret, shown this once, and the key as apiKeys lists it.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key to send as "Authorization: Bearer <key>". Shown once: store it now.' }),
    apiKey: t.field({ description: 'The new key as listed from now on (without its secret).', type: ApiKeyRef, resolve: (c) => c.apiKey }),
  }),
});

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKeyRef,
    description: "Creates an API key for the caller's tenant. The secret is in the answer and nowhere else.",
    args: {
      role: t.arg({ type: RoleEnum, required: true, description: 'What the key may do: ingest, read, analyst or admin (README: Tenants, API keys and roles).' }),
      name: t.arg.string({ required: true, description: 'What the key is for, e.g. "ward 7 monitors".' }),
      expiresAt: t.arg({ type: 'DateTime', description: 'When it stops working; open connections made with it are closed then.' }),
    },
    resolve: async (_root, args, ctx) => {
      const { key, row } = await createApiKey(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        role: args.role,
        name: args.name,
        expiresAt: args.expiresAt ?? null,
        createdBy: ctx.principal.keyId ?? ctx.principal.label,
      });
      ctx.services.log.info({ keyId: row.id, tenantId: row.tenantId, role: row.role, by: ctx.principal.label }, 'API key created');
      return { key, apiKey: row };
    },
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    description: "Revokes one of the tenant's keys at once: requests with it are refused, and its open graphql-ws and SSE connections are closed (4401) within a second on every node.",
    args: { id: t.arg.id({ required: true, description: 'The key to revoke (its id, not its secret).' }) },
    resolve: async (_root, args, ctx) => {
      const row = await revokeKey(ctx.services.database.db, String(args.id), ctx.scope.tenantId);
      ctx.services.auth.authenticator.forget(row.id);
      ctx.services.auth.connections.withdraw(row.id, 'revoked');
      ctx.services.log.info({ keyId: row.id, by: ctx.principal.label }, 'API key revoked');
      return row;
    },
  }),
);

builder.queryField('apiKeys', (t) =>
  t.field({
    type: connectionOf('ApiKey', ApiKeyRef),
    description: "The tenant's API keys by id (never their secrets).",
    args: {
      includeRevoked: t.arg.boolean({ defaultValue: false, description: 'Also list revoked keys.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      const limit = pageSize(args.first, PAGE);
      const rows = await listApiKeys(ctx.services.database.db, { tenantId: ctx.scope.tenantId, includeRevoked: args.includeRevoked ?? false, after: idCursor(args.after, 'after'), limit: limit + 1 });
      return toPage(rows, limit, (k) => k.id, args.after);
    },
  }),
);

type AuditRow = typeof auditLog.$inferSelect;

const AuditEntryRef = builder.objectRef<AuditRow>('AuditEntry').implement({
  description: 'One operation that read (or administered) tenant data.',
  fields: (t) => ({
    at: t.field({ description: 'When the operation ran.', type: 'DateTime', resolve: (e) => e.at }),
    keyId: t.exposeString('keyId', { nullable: true, description: 'Null when the server ran open (AUTH=off).' }),
    role: t.exposeString('role', { description: 'The role of the caller\'s key.' }),
    caller: t.exposeString('caller', { description: 'Key id (or "anonymous") @ client address.' }),
    operationType: t.exposeString('operationType', { description: 'query, mutation or subscription.' }),
    operationName: t.exposeString('operationName', { description: 'The operation name the client gave, if any: its first 200 characters.', nullable: true }),
    fields: t.exposeStringList('fields', { description: 'Root fields run, e.g. "Query.readings".' }),
    sourceIds: t.exposeStringList('sourceIds', {
      nullable: true,
      description: 'Sources named in the request or its answer; "*" when it covered every source of the tenant. For fraud signals, the cards or IPs asked for ("*": all).',
    }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.field({
    type: connectionOf('AuditEntry', AuditEntryRef),
    description: "Who read which sources' data, when and through which operation, newest first. Entries reach the database within about a second.",
    args: {
      keyId: t.arg.string({ description: 'Only entries made with this key.' }),
      sourceId: t.arg.id({ description: 'Entries that may have read this source\'s data: those that name it, and those that covered every source of the tenant ("*"). One of your tenant\'s sources, retired ones included.' }),
      from: t.arg({ type: 'DateTime', description: 'Entries at or after this time.' }),
      to: t.arg({ type: 'DateTime', description: 'Entries before this time.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      checkTimeRange(args.from, args.to);
      // A misspelt or another tenant's id is said so, as everywhere else, rather than answered with an empty page.
      if (args.sourceId !== null && args.sourceId !== undefined) await ctx.scope.source(String(args.sourceId), 'sourceId');
      const limit = pageSize(args.first, PAGE);
      const rows = await listAuditEntries(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        keyId: args.keyId,
        sourceId: args.sourceId === null || args.sourceId === undefined ? null : String(args.sourceId),
        from: args.from,
        to: args.to,
        before: parseCursor(args.after, 'after'),
        limit: limit + 1,
      });
      return toPage(rows, limit, (e) => e.id.toString(), args.after);
    },
  }),
);
