/**
 * The in-process benchmarks (bench/: ingest, processors, history) at tiny
 * sizes, so they do not rot: each core function runs end to end (server
 * process, raw baseline, load) and its figures come out. Nothing here judges
 * speed. Embedded backends, and ingest's PARALLEL_INGEST rows on the servers
 * when DATABASE_URL is set. live and memory are in bench-smoke-live.test.ts:
 * their load generator runs in this process's event loop, and these
 * benchmarks' raw baselines (PGlite, the pure processors) hold it for
 * seconds at a time.
 */
import { describe, expect, it } from 'vitest';
import { historyFigures, runHistory } from '../bench/history.js';
import { runIngest } from '../bench/ingest.js';
import { LIVE_DEFAULTS, liveFigures } from '../bench/live.js';
import { formatRatio } from '../bench/report.js';
import { runProcessors } from '../bench/processors.js';

const finite = (n: number | null) => typeof n === 'number' && Number.isFinite(n);

describe.concurrent('benchmarks at tiny sizes', () => {
  // One after the other: each starts its own server processes and embedded databases, and with the rest of
  // this file at once they would load a 2-core machine enough to slow the suite's other file beside it.
  describe.sequential('ingest and processors', () => {
    it('ingest: GraphQL batches and the raw insert, warm-up and turns, processors off then on, figures for each', async () => {
      const figures = await runIngest({ readings: 200, sizes: [100, 10], concurrency: 2, repeats: 1 });
      expect(figures.map((f) => f.name)).toEqual([
        'ingest, batches of 100, 2 in flight',
        'ingest, batches of 100: server CPU per reading (all threads)',
        'ingest, batches of 10, 2 in flight',
        'ingest, batches of 10: server CPU per reading (all threads)',
        'ingest with processors on, batches of 100, 2 in flight',
      ]);
      const [rates, cpu] = [figures.filter((f) => f.unit === 'readings/s'), figures.filter((f) => f.unit === 'µs')];
      expect(rates.every((f) => finite(f.platform) && f.platform > 0 && finite(f.baseline) && finite(f.ratio))).toBe(true);
      // /proc counts in 10 ms ticks: a tiny run may read 0, never less or NaN.
      expect(cpu.every((f) => finite(f.platform) && f.platform >= 0 && f.baseline === null)).toBe(true);
    }, 180_000);

    it.skipIf(!process.env.DATABASE_URL)('ingest on the servers: also with PARALLEL_INGEST=on, processors off and on', async () => {
      const figures = await runIngest({ readings: 200, sizes: [100], concurrency: 2, repeats: 1, databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL || undefined });
      expect(figures.map((f) => f.name)).toEqual([
        'ingest, batches of 100, 2 in flight',
        'ingest, batches of 100: server CPU per reading (all threads)',
        'ingest with PARALLEL_INGEST=on, batches of 100, 2 in flight',
        'ingest with processors on, batches of 100, 2 in flight',
        'ingest with processors on and PARALLEL_INGEST=on, batches of 100, 2 in flight',
      ]);
      expect(figures.filter((f) => f.unit === 'readings/s').every((f) => finite(f.platform) && f.platform > 0 && finite(f.ratio))).toBe(true);
    }, 180_000);

    it('processors: pure processors agree with hand-written loops, the runtime with SQL, and the delay run reports', async () => {
      const figures = await runProcessors({ events: 30_000, rounds: 1, readings: 3_000, rate: 200, seconds: 2 });
      expect(figures.length).toBeGreaterThanOrEqual(4);
      expect(figures.every((f) => finite(f.platform))).toBe(true);
      expect(figures.some((f) => f.name.includes('runtime'))).toBe(true);
    }, 180_000);
  });

  it('history: GraphQL and direct SQL agree over generated rows, and the figure comes out', async () => {
    const result = await runHistory({ rows: 20_000, series: 2, rounds: 2, warmup: 1, days: 1 });
    expect(result.buckets).toBe(1440);
    expect(result.scanned).toBe(10_000);
    const [figure] = historyFigures(result);
    expect(figure!.name).toContain('history 1m AVG');
    expect(finite(figure!.platform) && finite(figure!.baseline) && finite(figure!.ratio)).toBe(true);
  }, 60_000);
});

describe('live (c) figure', () => {
  const result = (crossed: { platform: boolean; raw: boolean }) =>
    liveFigures({
      mode: 'embedded',
      options: { ...LIVE_DEFAULTS, shapes: ['c'], rawRedisUrl: 'redis://127.0.0.1:6379' },
      c: { platform: { steps: [], best: 450_275, crossed: crossed.platform }, raw: { steps: [], best: 873_410, crossed: crossed.raw } },
    })[0]!;

  it('says when a path ran out of steps before a rate failed: its figure is a lower bound, and the ratio a bound', () => {
    expect(result({ platform: true, raw: true })).toMatchObject({ ratio: 450_275 / 873_410 });
    expect(result({ platform: true, raw: true }).note).toBeUndefined();
    // The raw path never failed (a fast machine): 0.52 would pass for a measurement over the target.
    const rawUncrossed = result({ platform: true, raw: false });
    expect(formatRatio(rawUncrossed)).toBe('≤ 0.52');
    expect(rawUncrossed.note).toMatch(/^the raw path: no rate failed within BENCH_LIVE_MAX_STEPS=14, so its figure is a lower bound/);
    expect(formatRatio(result({ platform: false, raw: true }))).toBe('≥ 0.52');
    const neither = result({ platform: false, raw: false });
    expect(neither.ratio).toBeNull();
    expect(neither.note).toContain('the platform and the raw path');
  });
});
