import { resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import { rows, type Db } from './client.js';

/** This database's deployment id (migration 0022), shared by every node on it: the first, should a second row be added by hand. */
export async function deploymentId(db: Db): Promise<string> {
  const [row] = await rows<{ id: string }>(db, sql`select id from deployment order by created_at, id limit 1`);
  // Only a hand-edited database lacks it: the migration that made the table gave it its row.
  if (!row) throw new Error('the deployment table is empty: insert one row (insert into deployment (id) values (gen_random_uuid()::text))');
  return row.id;
}

/** Where a deployment's database is, for another deployment's operator: no credentials. */
export function databaseWhere(config: Config['database']): string {
  if (config.driver === 'pglite') return `the embedded database in ${resolve(config.dataDir)}`;
  const url = new URL(config.url);
  return `database "${decodeURIComponent(url.pathname.slice(1))}" on ${url.host || 'a local socket'}, schema "${config.schema}"`;
}
