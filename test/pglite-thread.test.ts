import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteThread } from '../src/db/pglite-thread.js';
import { startTestApp } from './support/app.js';
import { backends } from './support/backends.js';

// The embedded database's own thread: what drizzle's PGlite driver relies on must hold across it.
describe('PgliteThread', () => {
  let pg: PgliteThread;
  beforeAll(async () => {
    pg = await PgliteThread.open(undefined);
    await pg.exec('create table t (id int primary key, note text)');
  }, 60_000);
  afterAll(() => pg?.close());

  it('answers queries in either row mode, with parameters and PostgreSQL types', async () => {
    const objects = await pg.query('select $1::int + 1 as n, $2::text as s, now() as at', [41, 'x'], { rowMode: 'object' });
    expect(objects.rows).toEqual([{ n: 42, s: 'x', at: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/) }]);
    expect(objects.fields.map((f) => f.name)).toEqual(['n', 's', 'at']);
    const arrays = await pg.query('select 1, 2', [], { rowMode: 'array' });
    expect(arrays.rows).toEqual([[1, 2]]);
  });

  it('passes a PostgreSQL error through with its code and constraint', async () => {
    await pg.query('insert into t values (1, $1)', ['first']);
    const error = await pg.query('insert into t values (1, $1)', ['again']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: '23505', constraint: 't_pkey', message: expect.stringContaining('duplicate key') });
  });

  it('commits a transaction that resolves and rolls back one that throws, leaving nothing of it', async () => {
    await pg.transaction(async (tx) => {
      await tx.query('insert into t values (2, $1)', ['kept']);
    });
    const failed = pg.transaction(async (tx) => {
      await tx.query('insert into t values (3, $1)', ['dropped']);
      throw new Error('caller gave up');
    });
    await expect(failed).rejects.toThrow('caller gave up');
    const { rows } = await pg.query('select id, note from t order by id', [], { rowMode: 'object' });
    expect(rows).toEqual([
      { id: 1, note: 'first' },
      { id: 2, note: 'kept' },
    ]);
  });

  it('holds other statements back while a transaction is open, as PGlite itself does', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tx = pg.transaction(async (t) => {
      await t.query('update t set note = $1 where id = 1', ['in tx']);
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    let outside: unknown;
    const read = pg.query('select note from t where id = 1', [], { rowMode: 'object' }).then((r) => (outside = r.rows[0]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outside).toBeUndefined();
    release();
    await tx;
    await read;
    expect(outside).toEqual({ note: 'in tx' });
  });

  it('fails every call with a clear error once the thread is gone', async () => {
    const lone = await PgliteThread.open(undefined);
    await lone.close();
    await expect(lone.query('select 1')).rejects.toThrow(/embedded database/);
  }, 60_000);

  it('tells its owner once when the thread dies under it, and fails the calls in flight and after', async () => {
    const failures: Error[] = [];
    const doomed = await PgliteThread.open(undefined, (error) => failures.push(error));
    const inFlight = doomed.query('select pg_sleep(0.5)');
    await (doomed as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(inFlight).rejects.toThrow(/the embedded database thread stopped/);
    await expect(doomed.query('select 1')).rejects.toThrow(/the embedded database thread stopped/);
    expect(failures.map((e) => e.message)).toEqual([expect.stringMatching(/the embedded database thread stopped \(exit code \d+\)/)]);
    await doomed.close(); // nothing left to close: resolves
  }, 60_000);
});

describe('a server whose embedded database thread dies', () => {
  it('fails /health (for its orchestrator to restart it) and /ready, naming why', async () => {
    const app = await startTestApp(backends.find((b) => b.database === 'pglite' && b.pubsub === 'memory')!);
    try {
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
      const thread = (app.server.services.database.db as unknown as { $client: { worker: { terminate(): Promise<number> } } }).$client;
      await thread.worker.terminate();
      // It stayed 200: the process ran on with a dead database until someone noticed the fatal line.
      const health = await fetch(`${app.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'down', reason: expect.stringMatching(/^the embedded database stopped \(the embedded database thread stopped \(exit code \d+\)\); restart the server$/) });
      const ready = await fetch(`${app.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, database: expect.stringMatching(/^unreachable: .*embedded database thread stopped/) });
    } finally {
      await app.close().catch(() => undefined);
    }
  }, 60_000);
});
