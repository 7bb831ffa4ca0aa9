import { sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { sources, type SourceKind } from './schema.js';

export interface SourceInput {
  id: string;
  kind: SourceKind;
  name: string;
}

/** Creates sources or updates their kind and name. */
export async function upsertSources(db: Db, input: readonly SourceInput[]) {
  if (input.length === 0) return [];
  return db
    .insert(sources)
    .values([...input])
    .onConflictDoUpdate({ target: sources.id, set: { kind: sql`excluded.kind`, name: sql`excluded.name` } })
    .returning();
}

export async function existingSourceIds(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await db.select({ id: sources.id }).from(sources).where(sql`${sources.id} = any(${sql.param([...ids])}::text[])`);
  return found.map((r) => r.id);
}

export async function listSources(
  db: Db,
  options: { kind?: SourceKind | null; ids?: readonly string[] | null; after?: string | null; limit: number },
) {
  const conditions = [
    options.kind ? sql`${sources.kind} = ${options.kind}` : undefined,
    options.ids?.length ? sql`${sources.id} = any(${sql.param([...options.ids])}::text[])` : undefined,
    options.after ? sql`${sources.id} > ${options.after}` : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(sources)
    .where(conditions.length ? sql.join(conditions, sql` and `) : undefined)
    .orderBy(sources.id)
    .limit(options.limit);
}
