import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { rows, type Db } from './client.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Applies pending SQL migrations from migrations/ (drizzle-kit output plus the
 * TimescaleDB-aware custom SQL) in one transaction. Idempotent.
 */
export async function migrateDatabase(db: Db, schema: string): Promise<void> {
  // Both drivers' migrators run the same dialect code; the pglite one accepts
  // any PgDatabase at run time.
  await migratePglite(db as unknown as PgliteDatabase, {
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsSchema: schema,
  });
}

/**
 * How many migrations of migrations/ this database has not applied: drizzle records each applied one by its
 * journal time in `<schema>.__drizzle_migrations` (absent before the first).
 */
export async function pendingMigrations(db: Db, schema: string): Promise<number> {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
  let last = -Infinity;
  const [found] = await rows<{ present: boolean }>(db, sql`select to_regclass(${`"${schema}".__drizzle_migrations`}) is not null as present`);
  if (found?.present) {
    const [row] = await rows<{ last: string | null }>(db, sql`select max(created_at)::text as last from ${sql.identifier(schema)}.__drizzle_migrations`);
    if (row?.last != null) last = Number(row.last);
  }
  return journal.entries.filter((entry) => entry.when > last).length;
}
