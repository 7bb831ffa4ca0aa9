import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { apiKeys, tenants, type Role } from './schema.js';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Creates the tenant if it does not exist; a new name for an existing tenant is ignored. */
/** Creates tenant `id` unless it exists; true when it was created. */
export async function ensureTenant(db: Db, id: string, name: string): Promise<boolean> {
  const created = await db.insert(tenants).values({ id, name }).onConflictDoNothing().returning({ id: tenants.id });
  return created.length > 0;
}

/** Every tenant's id, in order. */
export async function listTenantIds(db: Db): Promise<string[]> {
  return (await db.select({ id: tenants.id }).from(tenants).orderBy(tenants.id)).map((row) => row.id);
}

export async function tenantExists(db: Db, id: string): Promise<boolean> {
  const found = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id));
  return found.length > 0;
}

export async function insertApiKey(
  db: Db,
  key: { id: string; tenantId: string; role: Role; name: string; secretHash: string; createdBy: string; expiresAt: Date | null },
): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(key).returning();
  return row!;
}

/** The ids of the keys neither revoked nor expired, the newest `limit`. */
export async function usableApiKeyIds(db: Db, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(isNull(apiKeys.revokedAt), sql`(${apiKeys.expiresAt} is null or ${apiKeys.expiresAt} > now())`))
    .orderBy(desc(apiKeys.createdAt))
    .limit(limit);
  return rows.map((row) => row.id);
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

/** Marks a key revoked (once); returns it, or undefined when the tenant has no such key. */
export async function revokeApiKey(db: Db, id: string, tenantId: string | null): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` as never })
    .where(and(eq(apiKeys.id, id), tenantId === null ? undefined : eq(apiKeys.tenantId, tenantId)))
    .returning();
  return row;
}

export async function listApiKeys(db: Db, options: { tenantId: string | null; includeRevoked: boolean; limit: number; after?: string | null }) {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(
        options.tenantId === null ? undefined : eq(apiKeys.tenantId, options.tenantId),
        options.includeRevoked ? undefined : isNull(apiKeys.revokedAt),
        options.after ? sql`${apiKeys.id} > ${options.after}` : undefined,
      ),
    )
    .orderBy(options.tenantId === null ? asc(apiKeys.tenantId) : asc(apiKeys.id), asc(apiKeys.id))
    .limit(options.limit);
}

/** Keys among `ids` that no longer work: revoked, or expired by `now`. */
export async function deadKeys(db: Db, ids: readonly string[], now: Date): Promise<{ id: string; reason: 'revoked' | 'expired' }[]> {
  if (ids.length === 0) return [];
  const found = await db
    .select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(sql`${apiKeys.id} = any(${sql.param([...ids])}::text[]) and (${apiKeys.revokedAt} is not null or ${apiKeys.expiresAt} <= ${now.toISOString()}::timestamptz)`);
  return found.map((k) => ({ id: k.id, reason: k.revokedAt ? 'revoked' : 'expired' }));
}

