import { sql } from 'drizzle-orm';
import type { Logger } from '../log.js';
import { rows, type Database } from './client.js';
import { pruneDeadLetters } from './dead-letters.js';
import { applyTimescalePolicies, type RetentionSettings } from './timescale.js';

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Keeps storage bounded. A TimescaleDB server runs readings' compression and
 * retention policies in its background workers. Embedded PGlite has no
 * background workers, so there an hourly in-process sweep drops expired
 * chunks (drop_chunks) and nothing is compressed; on plain PostgreSQL the
 * sweep deletes expired rows. Dead letters are swept here in every mode.
 * Sweep failures are logged and retried at the next sweep.
 */
export async function startRetention(
  database: Database,
  settings: RetentionSettings & { deadLetterMs: number },
  log: Logger,
): Promise<{ stop(): void }> {
  const serverPolicies = database.timescale && database.driver === 'postgres';
  if (serverPolicies) await applyTimescalePolicies(database.db, settings, log);
  else if (database.timescale) {
    log.info('embedded TimescaleDB has no background workers: retention runs in-process (drop_chunks), compression is off');
  }

  const sweep = async () => {
    const now = Date.now();
    const letters = await pruneDeadLetters(database.db, new Date(now - settings.deadLetterMs));
    const cutoff = new Date(now - settings.retainForMs).toISOString();
    let readings: unknown = 0;
    if (database.timescale && !serverPolicies) {
      readings = (await rows<{ chunk: string }>(database.db, sql`select drop_chunks('readings', older_than => ${cutoff}::timestamptz) as chunk`)).length + ' chunks';
    } else if (!database.timescale) {
      readings = (await rows<{ n: number }>(database.db, sql`with gone as (delete from readings where time < ${cutoff}::timestamptz returning 1) select count(*)::int as n from gone`))[0]?.n ?? 0;
    }
    if (letters || (readings && readings !== '0 chunks')) log.info({ deadLetters: letters, readings }, 'retention sweep removed expired data');
  };
  const run = () => sweep().catch((error: unknown) => log.warn({ err: error }, 'retention sweep failed; retrying next hour'));
  await run();
  const timer = setInterval(run, SWEEP_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
