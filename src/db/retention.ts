import { sql } from 'drizzle-orm';
import type { Logger } from '../log.js';
import type { Database } from './client.js';
import { pruneDeadLetters } from './dead-letters.js';
import { applyTimescalePolicies, type RetentionSettings } from './timescale.js';

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Keeps storage bounded. TimescaleDB runs readings' policies itself; without
 * it an hourly in-process sweep deletes readings older than `retainForMs`.
 * Dead letters are swept here in both modes. Sweep failures are logged and
 * retried at the next sweep.
 */
export async function startRetention(
  database: Database,
  settings: RetentionSettings & { deadLetterMs: number },
  log: Logger,
): Promise<{ stop(): void }> {
  if (database.timescale) await applyTimescalePolicies(database.db, settings, log);

  const sweep = async () => {
    const now = Date.now();
    const letters = await pruneDeadLetters(database.db, new Date(now - settings.deadLetterMs));
    let readings = 0;
    if (!database.timescale) {
      const deleted = await database.db.execute(
        sql`delete from readings where time < ${new Date(now - settings.retainForMs).toISOString()}::timestamptz`,
      );
      readings = Number((deleted as { count?: number; affectedRows?: number }).count ?? (deleted as { affectedRows?: number }).affectedRows ?? 0);
    }
    if (letters || readings) log.info({ deadLetters: letters, readings }, 'retention sweep removed expired rows');
  };
  const run = () => sweep().catch((error: unknown) => log.warn({ err: error }, 'retention sweep failed; retrying next hour'));
  await run();
  const timer = setInterval(run, SWEEP_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
