import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import type { Db } from './client.js';

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
