import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Config } from '../config.js';
import { messageOf, reasonOf, redactUrl, type Logger } from '../log.js';
import { migrateDatabase, pendingMigrations } from './migrate.js';
import { unwritableProblem } from './data-dir-access.js';
import { DataDirError, lockDataDir } from './data-dir-lock.js';
import { ensureEmbeddedDatabase } from './embedded-creation.js';
import { PgliteThread } from './pglite-thread.js';
import { survivePostgresTypeFetchFailures } from './postgres-type-fetch.js';
import * as schema from './schema.js';
import { hasTimescale } from './timescale.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** Anything that runs SQL: the database or an open transaction. */
export type Executor = Pick<Db, 'execute'>;

export interface Database {
  readonly db: Db;
  readonly driver: 'pglite' | 'postgres';
  /** True when the TimescaleDB extension is installed in this database. */
  readonly timescale: boolean;
  /** Round trip to the server; rejects when it is unreachable or has not answered within PING_TIMEOUT_MS. */
  ping(): Promise<void>;
  /** Why the database is gone for good (the embedded one's thread died): /health fails, for the process to be restarted. */
  readonly failure: { reason: string | null };
  close(): Promise<void>;
}

/**
 * A float8 column of epoch milliseconds as timestamptz, exactly (integer
 * microseconds, no float rounding). Ingest sends times this way: a number per
 * row is cheaper to build, send and parse than an ISO string.
 */
export const epochMsToTimestamptz = (column: SQL): SQL => sql`('epoch'::timestamptz + ${column} * interval '1 ms')`;

/**
 * Settings of every database session the platform opens (the pool's
 * connections; the embedded database's one), applied when it opens.
 *
 * - work_mem: bucketed history hashes a range's rows into its buckets. The
 *   planner cannot know how few buckets that is (for 500,000 readings into
 *   8,640 one-minute buckets it estimates 230,987 groups), so within
 *   PostgreSQL's default 4MB it sorts every row instead, spilling to disk:
 *   250 ms against 165 ms for that query here.
 * - jit off: PostgreSQL compiled that statement with LLVM for 16 ms, and for
 *   100–150 ms once its cost passed jit_inline_above_cost; a connection's
 *   first compile also loads LLVM. Over all 5,000,000 readings (1h buckets)
 *   it was no faster: 0.90–1.16 s with, 0.95–1.08 s without.
 */
export function sessionSettings(workMem: string): Record<string, string> {
  return { work_mem: workMem, jit: 'off' };
}

/** The same settings as statements, for a session already open (the embedded database's). */
export function sessionSettingsSql(workMem: string): string {
  return Object.entries(sessionSettings(workMem))
    .map(([name, value]) => `set ${name} = '${value.replace(/'/g, "''")}';`)
    .join(' ');
}

/** Rows of a raw query, whichever driver ran it (postgres.js returns an array, PGlite `{ rows }`). */
export async function rows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** The postgres.js pool behind each PostgreSQL Database's `db`, for preparedRows. */
const pools = new WeakMap<Executor, postgres.Sql>();
/** Each PostgreSQL Database's small pool whose commits are asynchronous, for preparedRows' `asyncCommit`. */
const asyncCommitPools = new WeakMap<Executor, postgres.Sql>();
const dialect = new PgDialect();

/** True for a PostgreSQL Database's `db` (a pool of connections), false for a transaction or PGlite (one session). */
export function isPool(executor: Executor): boolean {
  return pools.has(executor);
}

/**
 * Rows of a statement run often with the same text (ingest's claim-and-insert),
 * as rows() returns them. On the PostgreSQL pool it is a named prepared
 * statement: parsed and planned once per connection, then bound and executed
 * in one round trip. drizzle sends raw SQL unprepared, so postgres.js first
 * asks the server for the parameters' types (a round trip) and the server
 * parses and plans the statement for every batch: ingest of batches of 10
 * took 168 µs of server CPU a reading that way and 110-122 µs prepared, and
 * batches of 1,000 reached 0.47-0.51× the raw insert against 0.57-0.58×.
 * Only for texts from a small fixed set: postgres.js keeps each prepared
 * statement for its connection's life. Inside a transaction, and on PGlite
 * (no round trips to save), it runs as rows() does.
 *
 * `asyncCommit`: on the pool, run it on connections with synchronous_commit
 * off, whose COMMIT returns before the WAL reaches disk. Only for a write
 * that matters only once a later, durable commit depends on it: that commit
 * flushes the WAL up to itself, this one included (db/offsets.ts claimCursors).
 */
export async function preparedRows<T>(executor: Executor, query: SQL, options: { asyncCommit?: boolean } = {}): Promise<T[]> {
  const pool = (options.asyncCommit && asyncCommitPools.get(executor)) || pools.get(executor);
  if (!pool) return rows<T>(executor, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  return (await pool.unsafe(text, params as never[], { prepare: true })) as unknown as T[];
}

/**
 * How long a ping (/ready) waits for the database. A server that stops answering on an open connection (a
 * network partition, a frozen host) is noticed by TCP only after a minute or more; a probe needs an answer in seconds.
 * The embedded database answers a ping after the query it is running: one running longer reads as busy.
 */
export const PING_TIMEOUT_MS = 3_000;

/** Resolves or rejects as `promise` does, or rejects with `message` after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** `ping` with a deadline, and one at a time: probes of a silent database must not pile queries up in its pool. */
function boundedPing(ping: () => Promise<void>, driver: Database['driver']): () => Promise<void> {
  let inFlight: Promise<void> | undefined;
  const late = driver === 'pglite' ? `no answer within ${PING_TIMEOUT_MS} ms (busy with a long query, or stopped)` : `no answer within ${PING_TIMEOUT_MS} ms`;
  return () => {
    inFlight ??= ping().finally(() => (inFlight = undefined));
    return withDeadline(inFlight, PING_TIMEOUT_MS, late);
  };
}

/**
 * Opens the configured database and applies migrations.
 * `pglite`: embedded PostgreSQL with TimescaleDB, data in `dataDir`
 * (`memory://` keeps nothing). `postgres`: a server through postgres.js,
 * tables in `schema` (created if missing). Throws if the server is
 * unreachable or a migration fails; nothing is left open then.
 */
export async function openDatabase(config: Config['database'], log: Logger): Promise<Database> {
  const { underMigrationLock, ...opened } = config.driver === 'pglite' ? await openPglite(config.dataDir, config.workMem, log) : await openPostgres(config, log);
  try {
    const schemaName = config.driver === 'postgres' ? config.schema : 'public';
    const migrate = async () => {
      // Nothing listens until they are done (a long one on a big table can take minutes): said before and after.
      const pending = await pendingMigrations(opened.db, schemaName);
      const began = Date.now();
      // None pending, the migrator is not run: it begins with CREATE SCHEMA IF NOT EXISTS, which needs CREATE on
      // the database (a role given its schema alone was refused at every start).
      if (pending === 0) return;
      log.info({ pending, schema: schemaName }, 'applying database migrations; a starting server listens once they are done');
      await migrateDatabase(opened.db, schemaName).catch((error: unknown) => {
        if (sqlStateOf(error) !== '42501') throw error;
        throw new Error(
          `${pending} migrations of schema "${schemaName}" could not be applied: ${reasonOf(error)}: migrating needs CREATE on the database (the migrator begins with CREATE SCHEMA IF NOT EXISTS) and the schema's tables; run npm run migrate as a role that has them, then start this one`,
          { cause: error },
        );
      });
      log.info({ applied: pending, ms: Date.now() - began }, 'database migrations applied');
    };
    await (underMigrationLock ? underMigrationLock(migrate) : migrate());
    const timescale = await hasTimescale(opened.db);
    log.info(
      {
        driver: opened.driver,
        where: config.driver === 'pglite' ? config.dataDir : redactUrl(config.url),
        timescale,
      },
      timescale
        ? 'database ready: TimescaleDB hypertables, time_bucket and gapfill in use'
        : 'database ready: plain PostgreSQL (no TimescaleDB extension): plain tables, date_bin bucketing, in-process retention',
    );
    return { ...opened, timescale, ping: boundedPing(opened.ping, opened.driver) };
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}

async function openPglite(dataDir: string, workMem: string, log: Logger): Promise<Omit<Database, 'timescale'> & { underMigrationLock?: undefined }> {
  const inMemory = dataDir.startsWith('memory://');
  // Node's and PGlite's own messages ("ENOTDIR: not a directory, mkdir …", "Aborted(). Build with -sASSERTIONS for
  // more info.") name neither the setting nor, for PGlite, the files.
  // A file this process may not write (DATA_DIR made by another user) is named, with what to do.
  const cannotOpen = (error: unknown) => {
    const unwritable = inMemory ? null : unwritableProblem(dataDir);
    return new Error(`cannot open the embedded database in ${dataDir} (DATA_DIR): ${reasonOf(error)}${unwritable ? `; ${unwritable}` : ''}`, { cause: error });
  };
  if (!inMemory) {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      throw cannotOpen(error);
    }
  }
  let unlock: () => void = () => undefined;
  let client: PgliteThread;
  const failure: Database['failure'] = { reason: null };
  try {
    if (!inMemory) {
      try {
        unlock = lockDataDir(dataDir);
      } catch (error) {
        throw error instanceof DataDirError ? error : cannotOpen(error);
      }
      // A new database is made in a subdirectory and moved into place whole (embedded-creation.ts).
      await ensureEmbeddedDatabase(dataDir, async (dir) => (await PgliteThread.open(dir)).close(), log).catch((error: unknown) => {
        throw error instanceof DataDirError ? error : cannotOpen(error);
      });
    }
    // On its own thread (pglite-thread.ts), which also loads TimescaleDB (pglite-worker.mjs says why).
    client = await PgliteThread.open(inMemory ? undefined : dataDir, (error) => {
      failure.reason = error.message;
      log.fatal({ err: error.message, dataDir }, 'the embedded database stopped: every request that needs it fails, /health and /ready report it; restart the server');
    }).catch((error: unknown) => {
      throw cannotOpen(error);
    });
  } catch (error) {
    unlock();
    throw error;
  }
  try {
    await client.exec(sessionSettingsSql(workMem));
  } catch (error) {
    await client.close();
    unlock();
    throw error;
  }
  const db = drizzlePglite({ client: client as unknown as PGlite, schema }) as unknown as Db;
  return {
    db,
    driver: 'pglite',
    failure,
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * How postgres.js behaves when the server goes away, so a request fails in
 * about a second instead of hanging, and the pool recovers by itself once the
 * server is back (tested by test/faults.test.ts through a TCP proxy that cuts
 * the link). postgres.js's defaults are made for scripts: a connection that
 * failed waits `backoff` before its next attempt, growing 3^n/100 s up to
 * 20 s and shared by the pool, so after a few seconds of outage every query
 * (the first ones after recovery included) waited up to 20 s for a reconnect
 * attempt; and an attempt to a host that drops packets waited 30 s.
 */
export const FAIL_FAST = {
  /** Seconds a new connection may take (TCP, TLS, startup, auth). */
  connect_timeout: 5,
  /** Seconds before the next attempt of a connection that failed: 20 ms doubling, at most 0.5 s. */
  backoff: (attempt: number) => Math.min(0.02 * 2 ** attempt, 0.5),
  /** TCP keepalive after this many idle seconds, so a connection silently cut while idle is noticed. */
  keep_alive: 10,
  /**
   * Close connections idle this long (seconds). Long, because a fresh PostgreSQL backend runs its first
   * queries slowly: a history query over 500,000 readings took 252-283, then 134-142, then ~100 ms on each
   * new connection. At 60 s, an analyst's queries a few minutes apart met a new backend every time. A
   * connection cut while idle is still noticed within seconds (keep_alive).
   */
  idle_timeout: 600,
};

async function openPostgres(
  config: Extract<Config['database'], { driver: 'postgres' }>,
  log: Logger,
): Promise<Omit<Database, 'timescale'> & { underMigrationLock: (migrate: () => Promise<void>) => Promise<void> }> {
  survivePostgresTypeFetchFailures(log);
  const setup = postgres(config.url, { max: 1, onnotice: () => undefined, connect_timeout: FAIL_FAST.connect_timeout });
  try {
    // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even for a schema that
    // exists, so a role given its schema and nothing more (least privilege) could not start at all.
    const [existing] = await setup<{ present: boolean }[]>`select exists (select 1 from pg_namespace where nspname = ${config.schema}) as present`;
    if (!existing?.present) {
      // Two nodes creating it at once: one of them is told the name is taken (23505), and the schema is there.
      await setup.unsafe(`create schema if not exists "${config.schema}"`).catch((error: unknown) => {
        if (sqlStateOf(error) === '42501') {
          throw new Error(`${reasonOf(error)}: the schema does not exist, and this role may not create it: grant it CREATE on the database, or have the schema created for it (CREATE SCHEMA ${config.schema} AUTHORIZATION <role>) and migrated (npm run migrate) by a role that has it`, { cause: error });
        }
        if (sqlStateOf(error) !== '23505') throw error;
      });
    }
  } catch (error) {
    await setup.end();
    // postgres.js's own message ("connect ECONNREFUSED …") does not say which setting to look at.
    throw new Error(`cannot open PostgreSQL at ${redactUrl(config.url)} (DATABASE_URL), schema "${config.schema}": ${messageOf(error)}`, { cause: error });
  }
  /**
   * Nodes starting together on a new schema raced to migrate it (a CREATE TABLE another node had just run): one
   * node at a time, under a lock held by a transaction open on `setup` until its migrations are done. A
   * transaction's lock, not a session's: behind a transaction-mode pooler a session's would stay on the pooled
   * server connection. Waiting is said every 5 s: another node's migration may take minutes.
   */
  const underMigrationLock = async (migrate: () => Promise<void>) => {
    try {
      await setup.begin(async (tx) => {
        // Idle while the pool migrates: a server's idle_in_transaction_session_timeout would end it, and the lock.
        await tx`set local idle_in_transaction_session_timeout = 0`;
        const key = `vigil-migrate:${config.schema}`;
        for (let attempt = 0; !(await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(hashtext(${key})) as locked`)[0]!.locked; attempt++) {
          if (attempt % 10 === 0) log.info({ schema: config.schema, waitedMs: attempt * 500 }, "waiting for another node's migrations of this schema");
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        await migrate();
      });
    } finally {
      await setup.end();
    }
  };
  const client = postgres(config.url, {
    max: config.poolSize,
    onnotice: () => undefined,
    connection: { search_path: config.schema, application_name: `vigil:${config.schema}`, ...sessionSettings(config.workMem) },
    ...FAIL_FAST,
  });
  guardTransactions(client);
  // Cursor claims: one tiny statement per batch, each under its stream's row lock. Without waiting for
  // the WAL flush, that lock is held ~0.1 ms less per batch.
  const asyncCommit = postgres(config.url, {
    max: 2,
    onnotice: () => undefined,
    connection: { search_path: config.schema, application_name: `vigil-claims:${config.schema}`, synchronous_commit: 'off' },
    ...FAIL_FAST,
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  pools.set(db, client);
  asyncCommitPools.set(db, asyncCommit);
  return {
    db,
    driver: 'postgres',
    // A server that goes away can come back: that is /ready's to report.
    failure: { reason: null },
    underMigrationLock,
    ping: async () => {
      await client`select 1`;
    },
    close: async () => {
      await Promise.all([client.end({ timeout: 5 }), asyncCommit.end({ timeout: 5 })]);
    },
  };
}

/** Error codes of postgres.js and Node for a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * The code that says the database could not be reached or the connection was
 * lost (a Node or postgres.js code, or SQLSTATE class 08, admin/crash
 * shutdown, cannot connect now, too many connections); undefined for any
 * other error. Looks through `cause`: drizzle wraps driver errors in
 * DrizzleQueryError, whose own message only names the query.
 */
export function connectionErrorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) return code;
  }
  return undefined;
}

/** SQLSTATEs of a transaction PostgreSQL rolled back so a concurrent one could finish: running it again is the remedy. */
export const DEADLOCK_DETECTED = '40P01';
export const SERIALIZATION_FAILURE = '40001';
/** A write in a read-only transaction: the database is a standby, or set default_transaction_read_only. */
export const READ_ONLY_SQL_TRANSACTION = '25006';

/** The SQLSTATE of a database error, looking through drizzle's wrapper; undefined for anything else. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * The connection was lost after the transaction's statements had run, while
 * COMMIT was on its way: the server may have committed or not, and this
 * process cannot tell until it can ask again. Callers must not report
 * "nothing was stored" (see ingest/unavailable.ts).
 */
export class CommitOutcomeUnknownError extends Error {
  readonly code: string;
  constructor(override readonly cause: unknown) {
    super(`connection lost while committing: ${reasonOf(cause)}`);
    this.name = 'CommitOutcomeUnknownError';
    this.code = connectionErrorCode(cause) ?? 'CONNECTION_CLOSED';
  }
}

/** Codes postgres.js and Node give a query whose socket closed or broke (no answer from the server will come). */
const SOCKET_LOST = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Runs one autocommit write. If its connection is lost after the statement
 * may have reached the server, the server may have committed it or not:
 * that becomes CommitOutcomeUnknownError, as a lost COMMIT does. A
 * connection that could not be made (refused, timed out connecting) means
 * the statement was never sent, and passes unchanged.
 */
export async function autocommit<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (SOCKET_LOST.has(connectionErrorCode(error) ?? '')) throw new CommitOutcomeUnknownError(error);
    throw error;
  }
}

/** How long a transaction whose connection was lost waits for postgres.js to report it before giving up on its own. */
const LOST_TRANSACTION_MS = 10_000;

/**
 * Wraps `client.begin`, which drizzle's `db.transaction` runs on, for the
 * two ways a lost connection goes wrong in a transaction:
 *
 * - While its statements run: postgres.js (3.4.9) then sends ROLLBACK on
 *   the dead connection, and its deferred write throws from a setImmediate
 *   ("Cannot read properties of null (reading 'write')"): an uncaught
 *   exception that ends the process (porsager/postgres#1154, #1208; found by
 *   test/faults.test.ts). So when a statement fails because the socket is
 *   gone, the callback never settles: postgres.js sends nothing more, and
 *   `begin` rejects with the connection's close (the server rolls back a
 *   transaction whose connection dropped). A safety timer rejects anyway if
 *   postgres.js never reports the close.
 * - During COMMIT, after the callback returned: the server may have
 *   committed or not. That becomes CommitOutcomeUnknownError. An error that
 *   is not a lost connection (a deferred constraint, a serialization
 *   failure) still means "rolled back" and passes unchanged.
 */
function guardTransactions(client: postgres.Sql): void {
  const begin = client.begin.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const guarded = (...args: unknown[]) => {
    const body = args.pop() as (sql: unknown) => unknown;
    let bodyDone = false;
    let timer: NodeJS.Timeout | undefined;
    let giveUp: (error: unknown) => void = () => undefined;
    const lost = new Promise<never>((_, reject) => (giveUp = reject));
    const run = begin(...args, async (sql: unknown) => {
      try {
        const result = await body(sql);
        bodyDone = true;
        return result;
      } catch (error) {
        if (!SOCKET_LOST.has(connectionErrorCode(error) ?? '')) throw error;
        timer = setTimeout(() => giveUp(error), LOST_TRANSACTION_MS);
        timer.unref();
        return new Promise<never>(() => undefined);
      }
    });
    return Promise.race([run, lost])
      .catch((error: unknown) => {
        if (bodyDone && connectionErrorCode(error)) throw new CommitOutcomeUnknownError(error);
        throw error;
      })
      .finally(() => clearTimeout(timer));
  };
  (client as unknown as { begin: typeof guarded }).begin = guarded;
}
