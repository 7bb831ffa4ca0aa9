import { reasonOf, type Logger } from '../log.js';

/**
 * postgres.js runs a query for the array types on each new connection and drops its promise
 * (porsager/postgres#1192, #1205, #1223, open in 3.4.9): a connection lost or cancelled during that query rejects
 * it with nobody listening, and Node ends the process on an unhandled rejection. The query that opened the
 * connection fails by itself and is answered as any other (UNAVAILABLE); the pool opens another connection.
 */
export function isPostgresTypeFetchFailure(reason: unknown): boolean {
  const query = typeof reason === 'object' && reason !== null ? (reason as { query?: unknown }).query : undefined;
  return typeof query === 'string' && query.includes('pg_catalog.pg_type') && query.includes('typarray');
}

let log: Logger | undefined;

/**
 * Logs that one rejection instead of ending the process. Any other unhandled rejection is thrown again, which ends
 * the process as Node would have without this listener. Installed once per process; the latest logger is used.
 */
export function survivePostgresTypeFetchFailures(logger: Logger): void {
  const installed = log !== undefined;
  log = logger;
  if (installed) return;
  process.on('unhandledRejection', (reason) => {
    if (!isPostgresTypeFetchFailure(reason)) throw reason;
    log?.warn({ err: reasonOf(reason) }, 'a new PostgreSQL connection was lost while postgres.js read its array types; the pool opens another');
  });
}
