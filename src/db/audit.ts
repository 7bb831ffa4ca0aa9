import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { auditLog } from './schema.js';
import { ALL_SOURCES } from '../auth/tenant-scope.js';

export type AuditEntry = Omit<typeof auditLog.$inferInsert, 'id'>;

export async function insertAuditEntries(db: Db, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length > 0) await db.insert(auditLog).values([...entries]);
}

/** A tenant's entries, newest first, keyset-paged on id. */
export async function listAuditEntries(
  db: Db,
  q: { tenantId: string; keyId?: string | null; sourceId?: string | null; from?: Date | null; to?: Date | null; before: bigint | null; limit: number },
) {
  const t = auditLog;
  return db
    .select()
    .from(t)
    .where(
      and(
        eq(t.tenantId, q.tenantId),
        q.keyId ? eq(t.keyId, q.keyId) : undefined,
        // An entry that covered every source of the tenant ("*") may have read this one's data too.
        q.sourceId ? sql`(${q.sourceId} = any(${t.sourceIds}) or ${ALL_SOURCES} = any(${t.sourceIds}))` : undefined,
        q.from ? sql`${t.at} >= ${q.from.toISOString()}::timestamptz` : undefined,
        q.to ? sql`${t.at} < ${q.to.toISOString()}::timestamptz` : undefined,
        q.before !== null ? lt(t.id, q.before) : undefined,
      ),
    )
    .orderBy(desc(t.id))
    .limit(q.limit);
}
