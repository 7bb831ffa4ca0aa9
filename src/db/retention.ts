import { sql, type SQL } from 'drizzle-orm';
import { reasonOf, type Logger } from '../log.js';
import { rows, type Database } from './client.js';
import { pruneDeadLetters } from './dead-letters.js';
import { applyTimescalePolicies, EVENT_TABLES, type RetentionSettings } from './timescale.js';

/** Plain tables in every mode, swept by a time column: processor outputs, and card transactions with their fraud signals. */
export const SWEPT_TABLES = [
  // By their end: a window still holding kept events stays (a 1h window under RETAIN_FOR=30m used to go every sweep).
  ['window_aggregates', 'end_time'],
  ['candles', 'end_time'],
  ['anomalies', 'time'],
  ['late_events', 'event_time'],
  ['transactions', 'time'],
  ['fraud_signals', 'time'],
] as const;

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Keeps storage bounded. A TimescaleDB server runs the event tables' compression
 * and retention policies in its background workers. Embedded PGlite has no
 * background workers, so there an hourly in-process sweep drops expired
 * chunks (drop_chunks) and nothing is compressed; on plain PostgreSQL the
 * sweep deletes expired rows. Dead letters, processor outputs, transactions
 * and fraud signals are swept here in every mode. Each table is swept on its
 * own: one that fails is logged and retried at the next sweep, the others go
 * on. The first sweep runs in the background, so a large backlog of expired
 * rows (RETAIN_FOR just shortened) does not hold the server from listening.
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

  let stopped = false;
  let first = true;
  const deleteOlder = async (statement: SQL) =>
    (await rows<{ n: number }>(database.db, sql`with gone as (${statement} returning 1) select count(*)::int as n from gone`))[0]?.n ?? 0;
  const sweep = async () => {
    const began = performance.now();
    const now = Date.now();
    const cutoff = new Date(now - settings.retainForMs).toISOString();
    const removed: Record<string, number | string> = {};
    const failed: Record<string, string> = {};
    const step = async (table: string, remove: () => Promise<number | string>) => {
      try {
        const gone = await remove();
        if (gone) removed[table] = gone;
      } catch (error) {
        if (stopped) throw error;
        failed[table] = reasonOf(error);
      }
    };
    await step('dead_letters', () => pruneDeadLetters(database.db, new Date(now - settings.deadLetterMs)));
    for (const { table } of EVENT_TABLES) {
      if (database.timescale && !serverPolicies) {
        await step(table, async () => {
          const chunks = (await rows<{ chunk: string }>(database.db, sql`select drop_chunks(${table}::regclass, older_than => ${cutoff}::timestamptz) as chunk`)).length;
          return chunks ? `${chunks} chunks` : 0;
        });
      } else if (!database.timescale) {
        await step(table, () => deleteOlder(sql`delete from ${sql.identifier(table)} where time < ${cutoff}::timestamptz`));
      }
    }
    // Processor outputs live as long as the events they summarize.
    for (const [table, column] of SWEPT_TABLES) {
      await step(table, () => deleteOlder(sql`delete from ${sql.identifier(table)} where ${sql.identifier(column)} < ${cutoff}::timestamptz`));
    }
    const ms = Math.round(performance.now() - began);
    if (Object.keys(removed).length) log.info({ ...removed, ms }, 'retention sweep removed expired data');
    // The first sweep says so either way, for an operator to see that retention runs and what it cuts at.
    else if (first) log.info({ cutoff, ms }, 'retention sweep found nothing expired; next sweeps log only what they remove');
    first = false;
    if (Object.keys(failed).length) log.warn({ failed, ms }, 'retention sweep failed for some tables; retrying next hour');
  };
  let sweeping: Promise<void> | undefined;
  const run = () => {
    // An hour is long enough for any sweep; a second one never starts beside one still running.
    sweeping ??= sweep()
      .catch((error: unknown) => {
        // Shutdown closes the database under a sweep still running: not a failure worth a line.
        if (!stopped) log.warn({ err: error }, 'retention sweep failed; retrying next hour');
      })
      .finally(() => (sweeping = undefined));
  };
  run();
  const timer = setInterval(run, SWEEP_EVERY_MS);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
