import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCounter, RateLimiter, windowAt, type WindowCounter } from '../src/auth/rate-limit.js';
import { RedisPubSubDriver } from '../src/pubsub/redis.js';
import { hasRedisServer, startPrivateRedis } from './support/private-redis.js';

const LIMIT = 5;
const WINDOW_MS = 60_000;
/** "At once": half the 1 s reply timeout, so a hung wait still fails it while a loaded machine's stalls do not. */
const AT_ONCE_MS = 500;

type Line = { msg: string; level: number };

function captureLog(lines: Line[]) {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
}

/** A node's limiter as server.ts builds it: counted in Redis, on the node itself while Redis is away. */
function nodeLimiter(pubsub: RedisPubSubDriver, lines: Line[]) {
  return new RateLimiter({ limit: LIMIT, windowMs: WINDOW_MS, counter: pubsub.countInWindow, fallback: memoryCounter(), log: captureLog(lines) });
}

/** How many of `n` operations of `key` the limiter lets through. */
async function allowed(limiter: RateLimiter, key: string, n: number): Promise<number> {
  let passed = 0;
  for (let i = 0; i < n; i++) if ((await limiter.take(key)) === undefined) passed++;
  return passed;
}

/** How long each of `n` concurrent operations took, in ms. */
async function concurrentWaits(limiter: RateLimiter, key: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const began = performance.now();
      await limiter.take(key);
      return performance.now() - began;
    }),
  );
}

const messages = (lines: Line[], prefix: string) => lines.filter((l) => l.msg.startsWith(prefix)).length;

describe('rate limit windows', () => {
  it('are aligned to the clock, so every node counts a key in the same window', () => {
    expect(windowAt(1_000, 5_999)).toEqual({ index: 5, endsAt: 6_000 });
    expect(windowAt(1_000, 6_000)).toEqual({ index: 6, endsAt: 7_000 });
    expect(windowAt(60_000, 1_796_486_313_651)).toEqual({ index: 29_941_438, endsAt: 1_796_486_340_000 });
  });

  it('count on the node per key per window, and say when the window ends', async () => {
    const count = memoryCounter();
    const first = await count('a', 60_000);
    const { endsAt } = windowAt(60_000, Date.now());
    expect(first.count).toBe(1);
    expect(first.resetInMs).toBeGreaterThan(0);
    expect(first.resetInMs).toBeLessThanOrEqual(endsAt - Date.now() + 5);
    expect((await count('a', 60_000)).count).toBe(2);
    expect((await count('b', 60_000)).count).toBe(1);
  });
});

/**
 * A shared counter whose answers a test sets: counts on the node while `up`, rejects at once while `down`, and while
 * `hung` rejects after `timeoutMs` as the Redis driver's command timeout does.
 */
function scriptedCounter(timeoutMs: number) {
  const counts = memoryCounter();
  const state = { mode: 'up' as 'up' | 'down' | 'hung', calls: 0 };
  const counter: WindowCounter = async (key, windowMs) => {
    state.calls++;
    if (state.mode === 'down') throw new Error('connect ECONNREFUSED');
    if (state.mode === 'hung') {
      await sleep(timeoutMs);
      throw new Error('Command timed out');
    }
    return counts(key, windowMs);
  };
  return { counter, state };
}

describe('rate limit while the shared counter fails', () => {
  it('lets one operation at a time try it again, and goes back to it only once it has kept answering', async () => {
    const lines: Line[] = [];
    const { counter, state } = scriptedCounter(200);
    const limiter = new RateLimiter({ limit: 1_000, windowMs: 60_000, counter, fallback: memoryCounter(), log: captureLog(lines), retryMs: 100, settleMs: 600 });

    state.mode = 'down';
    await limiter.take('k');
    expect(messages(lines, 'rate limit counter unreachable')).toBe(1);

    // A Redis that flaps: hung for 300 ms, answering for 60 ms, for two seconds. Operations every 5 ms.
    const waits: number[] = [];
    const ends = performance.now() + 2_000;
    const flapping = (async () => {
      while (performance.now() < ends) {
        state.mode = 'hung';
        await sleep(300);
        state.mode = 'up';
        await sleep(60);
      }
    })();
    const operations: Promise<void>[] = [];
    while (performance.now() < ends) {
      const began = performance.now();
      operations.push(limiter.take('k').then(() => void waits.push(performance.now() - began)));
      await sleep(5);
    }
    await Promise.all([flapping, ...operations]);

    // Only the tries wait out a hang: at most one at a time, after each failure no sooner than retryMs, so about
    // 2000 / (200 + 100) of them; room for more on a busy machine, where any operation can stall past 100 ms (a slow
    // CI machine runs two suites at once). Every operation sent to a hung counter would hold ~60 per hang, 400 in all.
    const held = waits.filter((ms) => ms > 100).length;
    expect(held, `${held} of ${waits.length} operations waited > 100 ms`).toBeLessThanOrEqual(30);
    expect(waits.length).toBeGreaterThan(150);
    // It never answered for 600 ms in a row: still counting on the node, and said so once.
    expect(messages(lines, 'rate limit counter unreachable')).toBe(1);
    expect(messages(lines, 'rate limit counter reachable again')).toBe(0);

    // Answering steadily: back to the shared counter after settleMs, said once.
    state.mode = 'up';
    const settled = performance.now() + 2_000;
    while (messages(lines, 'rate limit counter reachable again') === 0 && performance.now() < settled) {
      await limiter.take('k');
      await sleep(20);
    }
    expect(messages(lines, 'rate limit counter reachable again')).toBe(1);
    const callsBefore = state.calls;
    await Promise.all(Array.from({ length: 10 }, () => limiter.take('k')));
    expect(state.calls - callsBefore).toBe(10);
  });
});

describe.skipIf(!hasRedisServer)('rate limit across nodes and through a Redis outage', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  const drivers: RedisPubSubDriver[] = [];
  const silent = pino({ level: 'silent' });

  beforeAll(async () => {
    redis = await startPrivateRedis();
    for (let i = 0; i < 2; i++) drivers.push(await RedisPubSubDriver.connect(redis.url, `rate-${process.pid}:`, silent));
  });
  afterAll(async () => {
    for (const driver of drivers) await driver.close();
    await redis?.stop();
  });

  const bothConnected = () => Promise.all(drivers.map((driver) => driver.ping())).then(() => true, () => false);

  /** Operations on `limiter` every 50 ms until it logs that it counts across nodes again. */
  async function untilShared(limiter: RateLimiter, lines: Line[]) {
    const before = messages(lines, 'rate limit counter reachable again');
    await expect
      .poll(async () => (await limiter.take('settling'), messages(lines, 'rate limit counter reachable again') - before), { timeout: 15_000, interval: 50 })
      .toBe(1);
  }

  it('shares one count per key between nodes, and keeps limiting on each node while Redis is down or hung', async () => {
    const lines: Line[][] = [[], []];
    const [a, b] = drivers.map((driver, i) => nodeLimiter(driver, lines[i]!)) as [RateLimiter, RateLimiter];

    // Shared: the two nodes together let LIMIT through in a window, whichever node a call reaches.
    expect((await allowed(a, 'shared', 3)) + (await allowed(b, 'shared', 3))).toBe(LIMIT);
    expect(await a.take('shared')).toBeGreaterThan(0);

    await redis.stop();
    // Each node now counts alone: LIMIT each, not unlimited, and says so once.
    expect(await allowed(a, 'outage', LIMIT + 3)).toBe(LIMIT);
    expect(await allowed(b, 'outage', LIMIT + 3)).toBe(LIMIT);
    expect(a.refused).toBe(1 + 3);
    for (const node of lines) {
      expect(node.filter((l) => l.msg.startsWith('rate limit counter unreachable'))).toEqual([
        expect.objectContaining({ msg: 'rate limit counter unreachable: counting on this node until it returns', err: expect.any(String) }),
      ]);
    }

    await redis.start();
    await expect.poll(bothConnected, { timeout: 10_000, interval: 100 }).toBe(true);

    // Connected again, but the node still counts alone until Redis has answered its tries for a while. If Redis
    // now stops answering with the connection open, one operation tries it and waits out the timeout; the ones
    // meanwhile count on the node at once.
    redis.pause();
    try {
      await sleep(1_100); // a try is due
      const waits = await concurrentWaits(a, 'hung', 10);
      expect(waits.filter((ms) => ms > 500), waits.map(Math.round).join(', ')).toHaveLength(1);
      expect(Math.max(...waits)).toBeLessThan(1_500);
      // The try timed out and dropped the connection: until it is made again, nothing waits on Redis.
      const after = await concurrentWaits(a, 'hung', 10);
      expect(Math.max(...after), after.map(Math.round).join(', ')).toBeLessThan(AT_ONCE_MS);
      const pinged = () => drivers[0]!.ping().then(() => 'answered', (error: Error) => error.message);
      await expect.poll(pinged, { timeout: 3_000, interval: 50 }).toMatch(/^not connected \((connect|reconnecting|close)\): no reply within 1000 ms$/);
    } finally {
      redis.resume();
    }
    await expect.poll(bothConnected, { timeout: 10_000, interval: 100 }).toBe(true);
    await untilShared(a, lines[0]!);
    await untilShared(b, lines[1]!);

    // Counting across nodes again.
    expect(await allowed(a, 'after', 2)).toBe(2);
    expect(await allowed(b, 'after', LIMIT)).toBe(LIMIT - 2);

    // A Redis that hangs while every operation counts there: those in flight wait out the timeout (at most a
    // second), then count on the node; the rest count on the node at once.
    redis.pause();
    try {
      const inFlight = await concurrentWaits(a, 'hung-shared', 10);
      expect(Math.max(...inFlight)).toBeLessThan(1_500);
      const after = await concurrentWaits(a, 'hung-shared', 10);
      expect(Math.max(...after), after.map(Math.round).join(', ')).toBeLessThan(AT_ONCE_MS);
      expect(await allowed(a, 'hung-node', LIMIT + 2)).toBe(LIMIT);
    } finally {
      redis.resume();
    }
    expect(lines[0]!.filter((l) => l.msg.startsWith('rate limit counter unreachable'))).toHaveLength(2);
  });
});
