/**
 * Every benchmark (bench/: ingest, processors, live, memory, history) at
 * tiny sizes, so they do not rot: each core function runs end to end
 * (server process, raw baseline, client fleet, load) and its figures come
 * out. Nothing here judges speed. Embedded backends, and live's cross-node
 * shape (ax) and ingest's PARALLEL_INGEST rows on the servers when
 * DATABASE_URL and REDIS_URL are set. The raw
 * baseline of `live` and `memory` needs Redis (REDIS_URL, else
 * redis://127.0.0.1:6379): those tests are skipped, saying so, when it does
 * not answer. live and memory share one platform process, and everything
 * runs at once (figures are not judged here, and the file stays around a
 * minute).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFigures, runHistory } from '../bench/history.js';
import { runIngest } from '../bench/ingest.js';
import { runProcessors } from '../bench/processors.js';
import { LIVE_DEFAULTS, liveFigures, runLive } from '../bench/live.js';
import { MEMORY_DEFAULTS, memoryFigures, runMemory } from '../bench/memory.js';
import { startPlatform, type Platform } from '../bench/support/platform.js';

const rawRedisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

async function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const redisUp = await answers(rawRedisUrl);
if (!redisUp) console.warn(`bench-smoke: no Redis at ${rawRedisUrl}; the live and memory benchmarks' smoke tests are skipped (their raw baseline needs Redis)`);

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

  describe('live and memory, on one platform process', { skip: !redisUp }, () => {
    let platform: Platform | undefined;
    beforeAll(async () => {
      platform = await startPlatform({ name: 'smoke', processors: true, commitTimes: true, memoryProbe: true });
    });
    afterAll(async () => {
      await platform?.stop();
    });

    it('live: every shape, both paths, no reading lost, figures for each', async () => {
      const result = await runLive(
        {
          ...LIVE_DEFAULTS,
          rate: 200,
          // Every subscriber has received a priming reading before a run starts, and only the run's own
          // batches are counted (memory's readings reach the subscribers to everything on this shared server).
          seconds: 2,
          warmupSeconds: 2,
          patients: 5,
          subscribers: 10,
          steps: { startRate: 200, factor: 2, maxSteps: 1, refine: 1, seconds: 1, p99LimitMs: 100 },
          pauseMs: 100,
          repeats: 1,
          rawRedisUrl,
        },
        { platform },
      );
      for (const pair of [result.a!, result.sse!, result.b!]) {
        for (const m of [pair.platform, pair.raw]) {
          expect(m.errors, m.label).toEqual([]);
          expect(m.delivered, m.label).toBeGreaterThan(0);
          expect(m.lost, m.label).toBe(0);
          expect(finite(m.latency.p99), m.label).toBe(true);
        }
      }
      expect(result.c!.platform.steps.length).toBeGreaterThan(0);
      expect(result.c!.raw.steps.length).toBeGreaterThan(0);
      const figures = liveFigures(result);
      expect(figures.map((f) => f.name.slice(0, 8))).toEqual([...Array(8).fill('live (a)'), ...Array(5).fill('live (b)'), 'live (c)']);
      expect(figures.every((f) => finite(f.platform) && finite(f.baseline))).toBe(true);
    }, 90_000);

    it('memory: idle subscriptions and a short steady run, measured from the server processes', async () => {
      const result = await runMemory({ ...MEMORY_DEFAULTS, counts: [10, 20], settleMs: 200, steadySeconds: 2, steadyWarmupSeconds: 1, steadyRate: 200, steadySubscribers: 5, rawRedisUrl }, { platform });
      expect(result.idle!.map((p) => p.count)).toEqual([10, 20]);
      expect(result.steady!.platform.start.rss).toBeGreaterThan(0);
      expect(result.steady!.raw.end.heapUsed).toBeGreaterThan(0);
      const figures = memoryFigures(result);
      expect(figures).toHaveLength(4 + 6);
      expect(figures.every((f) => finite(f.platform) && finite(f.baseline))).toBe(true);
    }, 90_000);
  });

  // (ax) needs two nodes on one database and Redis: the servers only.
  describe.skipIf(!process.env.DATABASE_URL || !process.env.REDIS_URL || !redisUp)('live across nodes, on the servers', () => {
    it('live (ax): ingest on one node, the subscriber on another, both paths through Redis, no reading lost', async () => {
      const result = await runLive({
        ...LIVE_DEFAULTS,
        shapes: ['ax'],
        rate: 200,
        seconds: 2,
        warmupSeconds: 1,
        patients: 5,
        subscribers: 10,
        pauseMs: 100,
        repeats: 1,
        databaseUrl: process.env.DATABASE_URL,
        redisUrl: process.env.REDIS_URL,
        rawRedisUrl,
      });
      for (const m of [result.ax!.platform, result.ax!.raw]) {
        expect(m.errors, m.label).toEqual([]);
        expect(m.delivered, m.label).toBeGreaterThan(0);
        expect(m.lost, m.label).toBe(0);
      }
      expect(liveFigures(result).filter((f) => f.name.startsWith('live (a) across nodes'))).toHaveLength(4);
    }, 180_000);
  });
});
