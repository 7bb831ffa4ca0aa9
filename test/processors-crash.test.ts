import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessorsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { DATABASE_URL, primaryBackends } from './support/backends.js';
import { dropSchema, startTestApp } from './support/app.js';
import { seedEmbeddedDataDir } from './support/embedded-template.js';
import { patients } from './support/fixtures.js';
import { waitFor } from './support/live.js';
import { startServerProcess } from './support/server-process.js';
import { flushReadings, flushTrades, outputsOf, postReadings, postTrades, PROCESSOR_ENV, readingsStream, SHAPE, tradesStream } from './support/streams.js';

describe.each(primaryBackends)('processors killed with SIGKILL on $name', (backend) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-kill-'));
  const schema = `t_kill_${process.pid}`;
  const children: { kill(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    rmSync(dataDir, { recursive: true, force: true });
    if (backend.database === 'postgres') await dropSchema(schema);
  });

  it('a new process takes over the lapsed lease, replays from the checkpoint and stores exactly the outputs of an uninterrupted run', async () => {
    const readingBatches = (() => {
      const stream = readingsStream(123, 'kill', SHAPE);
      return [...stream.batches, flushReadings('kill', SHAPE.series, stream.endTime)];
    })();
    const tradeBatches = (() => {
      const stream = tradesStream(124, 'KILL', { ...SHAPE, series: 2 });
      return [...stream.batches, flushTrades('KILL', 2, stream.endTime)];
    })();
    const cut = Math.floor(readingBatches.length * 0.6);
    const tradeCut = Math.floor(tradeBatches.length * 0.6);
    // A short lease only for the processes: the second waits for the first's to lapse.
    const env = { ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '200ms', PROCESSOR_LEASE: '1s' };
    const sources = patients('kill-0', 'kill-1', 'kill-2');

    const reference = await startTestApp(backend, { env: { ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '200ms' } });
    await reference.mutate(RegisterSourcesDocument, { sources });
    await postReadings(reference, readingBatches);
    await postTrades(reference, tradeBatches);
    await reference.settle();
    const expected = await outputsOf(reference);
    await reference.close();

    const where: Record<string, string> =
      backend.database === 'postgres' ? { DATABASE_URL: DATABASE_URL!, DATABASE_SCHEMA: schema, REDIS_URL: '' } : { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
    if (backend.database === 'pglite') await seedEmbeddedDataDir(dataDir);
    const first = await startServerProcess({ ...env, ...where });
    children.push(first);
    await first.mutate(RegisterSourcesDocument, { sources });
    await postReadings(first, readingBatches.slice(0, cut));
    await postTrades(first, tradeBatches.slice(0, tradeCut));
    await first.kill(); // mid-processing: no final checkpoint, lease left held

    const second = await startServerProcess({ ...env, ...where });
    children.push(second);
    const lastCursor = (results: { lastCursor?: string | null }[]) => results.map((r) => r.lastCursor).filter(Boolean).at(-1);
    const readingsLast = lastCursor(await postReadings(second, readingBatches.slice(cut)));
    const tradesLast = lastCursor(await postTrades(second, tradeBatches.slice(tradeCut)));
    let status = '';
    await waitFor(
      async () => {
        const { processors } = await second.mutate(ProcessorsDocument, {});
        const at = Object.fromEntries(processors.map((p) => [p.name, p]));
        status = JSON.stringify({ processors, readingsLast, tradesLast });
        return at.readings?.role === 'owner' && at.readings.position === readingsLast && at.trades?.role === 'owner' && at.trades.position === tradesLast;
      },
      () => `the second process to own the processors and catch up: ${status}`,
      30_000,
    );
    await second.stop();

    const reader = await startTestApp(backend, { env: { ...env, PROCESSORS: 'off' }, dataDir, schema, keepSchema: true });
    expect(await outputsOf(reader)).toEqual(expected);
    await reader.close();
  }, 180_000);
});
