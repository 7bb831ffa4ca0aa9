/**
 * The live and memory benchmarks (bench/live.ts, bench/memory.ts) at tiny
 * sizes, so they do not rot: server processes, raw baseline, client fleet
 * and load, end to end, with figures for each. Nothing here judges speed.
 * Apart from bench-smoke.test.ts because the load generator runs in this
 * process: an in-process PGlite or pure-processor loop beside it would hold
 * its event loop and slip the send schedule past a run's window.
 * Embedded backends, and live's cross-node shape (ax) on the servers when
 * DATABASE_URL and REDIS_URL are set. The raw baseline needs Redis
 * (REDIS_URL, else redis://127.0.0.1:6379): the tests are skipped, saying
 * so, when it does not answer.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
