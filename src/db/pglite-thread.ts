import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/** What drizzle's PGlite driver reads of a query's answer. */
export interface ThreadResult {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

/** The part of PGlite's API drizzle's PGlite driver calls (drizzle-orm/pglite/session.js). */
export interface ThreadExecutor {
  query(sql: string, params?: unknown[], options?: { rowMode?: 'array' | 'object' }): Promise<ThreadResult>;
  exec(sql: string): Promise<{ rows: unknown[]; affectedRows?: number }[]>;
}

/** A PostgreSQL error raised in the database thread, with its fields (code, constraint, …). */
export class EmbeddedDatabaseError extends Error {
  code?: string;
  constructor(plain: { name: string; message: string } & Record<string, unknown>) {
    super(plain.message);
    Object.assign(this, plain);
    this.name = plain.name === 'Error' ? 'EmbeddedDatabaseError' : plain.name;
  }
}

type Reply = { id: string; ok: true; result: unknown } | { id: string; ok: false; error: { name: string; message: string } & Record<string, unknown> };

/**
 * Embedded PostgreSQL (PGlite with TimescaleDB) on its own worker thread
 * (pglite-worker.mjs), offering the calls drizzle's PGlite driver makes.
 * PGlite executes SQL synchronously on the calling thread; on the server's
 * thread an ingest insert or a long history query held up every live
 * delivery and request meanwhile. Statements still run one at a time, in
 * the order sent, and a transaction holds the database as PGlite's own does.
 */
export class PgliteThread implements ThreadExecutor {
  private readonly worker: Worker;
  private readonly pending = new Map<string, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 0;
  private stopped: Error | undefined;

  private constructor(private readonly onFailure?: (error: Error) => void) {
    // Plain JavaScript with no loader: the worker needs nothing of the main thread's flags.
    this.worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { execArgv: [] });
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new EmbeddedDatabaseError(reply.error));
    });
    this.worker.on('error', (error) => this.stop(new Error(`the embedded database thread failed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => this.stop(new Error(`the embedded database thread stopped (exit code ${code})`)));
  }

  /**
   * Starts the thread and opens `dataDir` (undefined: in memory). `onFailure` hears once if the
   * thread fails or exits other than by `close`: from then on every call fails.
   */
  static async open(dataDir: string | undefined, onFailure?: (error: Error) => void): Promise<PgliteThread> {
    const thread = new PgliteThread(onFailure);
    try {
      await thread.call({ op: 'open', dataDir, wasmModule: await compiledPglite() });
    } catch (error) {
      // Thrown to the caller: not also a failure of a running database.
      thread.stopped = error as Error;
      await thread.worker.terminate();
      throw error;
    }
    return thread;
  }

  query(sql: string, params?: unknown[], options?: { rowMode?: 'array' | 'object' }): Promise<ThreadResult> {
    return this.on(undefined).query(sql, params, options);
  }

  exec(sql: string): Promise<{ rows: unknown[]; affectedRows?: number }[]> {
    return this.on(undefined).exec(sql);
  }

  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (tx: ThreadExecutor) => Promise<T>): Promise<T> {
    // The begin message's id names the transaction for the statements sent in it.
    const tx = this.id();
    await this.send({ op: 'begin', id: tx });
    let result: T;
    try {
      result = await fn(this.on(tx));
    } catch (error) {
      await this.call({ op: 'rollback', tx }).catch(() => undefined);
      throw error;
    }
    await this.call({ op: 'commit', tx });
    return result;
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.stopped ??= new Error('the embedded database is closed');
      await this.worker.terminate();
    }
  }

  /** Statements outside any transaction (`tx` undefined) or in the open transaction `tx`. */
  private on(tx: string | undefined): ThreadExecutor {
    return {
      query: (sql, params = [], options = {}) => this.call({ op: 'query', tx, sql, params, rowMode: options.rowMode }) as Promise<ThreadResult>,
      exec: (sql) => this.call({ op: 'exec', tx, sql }) as Promise<{ rows: unknown[]; affectedRows?: number }[]>,
    };
  }

  private call(message: Record<string, unknown>): Promise<unknown> {
    message.id = this.id();
    return this.send(message as { id: string });
  }

  private send(message: { id: string } & Record<string, unknown>): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  private id(): string {
    return String(this.nextId++);
  }

  private stop(error: Error) {
    if (this.stopped) return;
    this.stopped = error;
    this.onFailure?.(error);
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}

let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * PostgreSQL's WebAssembly, compiled once a process and handed to each database thread (a compiled module crosses
 * threads without a copy). Each PGlite compiled its own otherwise: half a second of CPU an open, for a process that
 * opens several (the test suite's workers, each opening dozens).
 */
function compiledPglite(): Promise<WebAssembly.Module> {
  if (!compiled) {
    compiled = readFile(new URL('pglite.wasm', import.meta.resolve('@electric-sql/pglite'))).then((bytes) => WebAssembly.compile(bytes));
    // A failure (a file limit reached, say) is the opener's to report, not to be kept for every later open.
    compiled.catch(() => (compiled = undefined));
  }
  return compiled;
}
