import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from '../log.js';
import { rows, type Database } from './client.js';
import { pruneDeadLetters } from './dead-letters.js';
import { applyTimescalePolicies, EVENT_TABLES, type RetentionSettings } from './timescale.js';

const OUTPUT_TABLES = [
  ['window_aggregates', 'start_time'],
  ['candles', 'start_time'],
  ['anomalies', 'time'],
  ['late_events', 'event_time'],
] as const;

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Keeps storage bounded. A TimescaleDB server runs the event tables' compression
 * and retention policies in its background workers. Embedded PGlite has no
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

  const deleteOlder = async (statement: SQL) =>
    (await rows<{ n: number }>(database.db, sql`with gone as (${statement} returning 1) select count(*)::int as n from gone`))[0]?.n ?? 0;
  const sweep = async () => {
    const now = Date.now();
    const letters = await pruneDeadLetters(database.db, new Date(now - settings.deadLetterMs));
    const cutoff = new Date(now - settings.retainForMs).toISOString();
    const removed: Record<string, number | string> = {};
    for (const { table } of EVENT_TABLES) {
      const name = sql.identifier(table);
      if (database.timescale && !serverPolicies) {
        const chunks = (await rows<{ chunk: string }>(database.db, sql`select drop_chunks(${table}::regclass, older_than => ${cutoff}::timestamptz) as chunk`)).length;
        if (chunks) removed[table] = `${chunks} chunks`;
      } else if (!database.timescale) {
        const n = await deleteOlder(sql`delete from ${name} where time < ${cutoff}::timestamptz`);
        if (n) removed[table] = n;
      }
    }
    // Processor outputs live as long as the events they summarize.
    for (const [table, column] of OUTPUT_TABLES) {
      const n = await deleteOlder(sql`delete from ${sql.identifier(table)} where ${sql.identifier(column)} < ${cutoff}::timestamptz`);
      if (n) removed[table] = n;
    }
    if (letters || Object.keys(removed).length) log.info({ deadLetters: letters, ...removed }, 'retention sweep removed expired data');
  };
  const run = () => sweep().catch((error: unknown) => log.warn({ err: error }, 'retention sweep failed; retrying next hour'));
  await run();
  const timer = setInterval(run, SWEEP_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
