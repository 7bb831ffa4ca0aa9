import { sql } from 'drizzle-orm';
import type { Db } from './client.js';

/**
 * Takes the advisory lock `vigil:<name>:` of the current schema (each test schema has its own), held until the
 * transaction ends. The key is the hash of that text: nodes of every version that take the same lock agree.
 */
export async function lockUntilCommit(tx: Db, name: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`vigil:${name}:`} || current_schema()))`);
}
