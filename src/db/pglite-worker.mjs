// The embedded database's own thread (see pglite-thread.ts): PGlite runs
// PostgreSQL compiled to WebAssembly synchronously on the thread that calls
// it, so on the server's thread every statement (an ingest batch's insert, a
// 1.7 s history query) stalled live delivery and request handling. Here it
// stalls only this thread. Plain JavaScript: a worker does not get the main
// thread's TypeScript loader.
import { parentPort } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';

// Date and interval types stay text, as drizzle's PGlite driver asks on every query; functions cannot
// cross threads, so the worker applies them itself.
const identity = (value) => value;
const parsers = Object.fromEntries(
  // The same OIDs drizzle lists: the scalar types, then 1231 numeric[], 1115 timestamp[], 1185 timestamptz[],
  // 1187 interval[], 1182 date[].
  [types.TIMESTAMP, types.TIMESTAMPTZ, types.INTERVAL, types.DATE, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, identity]),
);

/** The fields of a PostgreSQL error the caller may read (code, constraint, …), as plain data. */
const ERROR_FIELDS = ['code', 'severity', 'detail', 'hint', 'position', 'where', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine'];
function plainError(error) {
  const plain = { name: error?.name ?? 'Error', message: error?.message ?? String(error) };
  for (const field of ERROR_FIELDS) if (error?.[field] !== undefined) plain[field] = error[field];
  return plain;
}

const port = parentPort;
/** Open transactions by id: each is a queue of statements fed by the main thread. */
const transactions = new Map();
let pg;

function reply(id, result) {
  port.postMessage({ id, ok: true, result });
}
function fail(id, error) {
  port.postMessage({ id, ok: false, error: plainError(error) });
}
/** Answers message `id` with what `work` settles to. */
function answer(id, work) {
  return work.then(
    (result) => reply(id, result ?? null),
    (error) => fail(id, error),
  );
}

async function run(executor, message) {
  if (message.op === 'exec') return (await executor.exec(message.sql)).map(({ rows, affectedRows }) => ({ rows, affectedRows }));
  const { rows, fields, affectedRows } = await executor.query(message.sql, message.params, { rowMode: message.rowMode, parsers });
  return { rows, fields, affectedRows };
}

/** Statements for one open transaction, in the order the main thread sent them. */
class Queue {
  items = [];
  waiters = [];
  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }
  next() {
    return this.items.length > 0 ? Promise.resolve(this.items.shift()) : new Promise((resolve) => this.waiters.push(resolve));
  }
}

const ROLLBACK = Symbol('rollback');

/**
 * Holds a PGlite transaction open while the main thread sends its statements
 * (they queue until PGlite grants it) and ends it on `commit` or `rollback`,
 * answering that message once PGlite has.
 */
function begin(id) {
  const queue = new Queue();
  transactions.set(id, queue);
  let end;
  pg.transaction(async (tx) => {
    reply(id, null);
    for (;;) {
      const message = await queue.next();
      if (message.op === 'commit' || message.op === 'rollback') {
        end = message;
        if (message.op === 'rollback') throw ROLLBACK;
        return;
      }
      await answer(message.id, run(tx, message));
    }
  }).then(
    () => {
      transactions.delete(id);
      reply(end.id, null);
    },
    (error) => {
      transactions.delete(id);
      if (!end) fail(id, error);
      else if (error === ROLLBACK) reply(end.id, null);
      else fail(end.id, error);
    },
  );
}

port.on('message', (message) => {
  if (message.op === 'open') {
    return void answer(
      message.id,
      PGlite.create({ dataDir: message.dataDir, wasmModule: message.wasmModule, extensions: { timescaledb } }).then(async (opened) => {
        pg = opened;
        // PGlite cannot preload libraries. Without this, a reopened data directory refuses inserts into
        // hypertables ("extension has not been preloaded") and loses TimescaleDB's community-licensed functions.
        await pg.exec(`load 'timescaledb'`);
      }),
    );
  }
  if (message.op === 'close') return void answer(message.id, pg ? pg.close() : Promise.resolve());
  if (message.op === 'begin') return begin(message.id);
  if (message.tx !== undefined) {
    const tx = transactions.get(message.tx);
    if (!tx) return fail(message.id, new Error('transaction is no longer open'));
    tx.push(message);
    return;
  }
  answer(message.id, run(pg, message));
});
