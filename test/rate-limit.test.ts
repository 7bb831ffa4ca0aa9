import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCounter, RateLimiter } from '../src/auth/rate-limit.js';
import { RedisPubSubDriver } from '../src/pubsub/redis.js';
import { hasRedisServer, startPrivateRedis } from './support/private-redis.js';

const LIMIT = 5;
const WINDOW_MS = 60_000;

/** A node's limiter as server.ts builds it: counted in Redis, on the node itself while Redis is away. */
function nodeLimiter(pubsub: RedisPubSubDriver, lines: { msg: string }[]) {
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  return new RateLimiter({ limit: LIMIT, windowMs: WINDOW_MS, counter: pubsub.countInWindow, fallback: memoryCounter(), log });
}

/** How many of `n` operations of `key` the limiter lets through. */
async function allowed(limiter: RateLimiter, key: string, n: number): Promise<number> {
  let passed = 0;
  for (let i = 0; i < n; i++) if ((await limiter.take(key)) === undefined) passed++;
  return passed;
}

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

  it('shares one count per key between nodes, and keeps limiting on each node while Redis is down', async () => {
    const lines: { msg: string }[][] = [[], []];
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
    await expect.poll(() => Promise.all(drivers.map((driver) => driver.ping())).then(() => true, () => false), { timeout: 10_000, interval: 100 }).toBe(true);
    // While failing, a node tries Redis again at most once a second: once one is due, it counts in Redis again.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await allowed(a, 'back', 1)).toBe(1);
    expect(lines[0]!.at(-1)).toMatchObject({ msg: 'rate limit counter reachable again: counting across nodes' });

    // A Redis that stops answering but keeps the connection open: each call waits at most the command timeout,
    // then this node counts alone.
    // The first call waits out the timeout; the ones after it within the retry second do not wait on Redis at all.
    redis.pause();
    try {
      const waits: number[] = [];
      let passed = 0;
      for (let i = 0; i < LIMIT + 1; i++) {
        const began = performance.now();
        if ((await a.take('hung')) === undefined) passed++;
        waits.push(performance.now() - began);
      }
      expect(passed).toBe(LIMIT);
      expect(waits[0]).toBeLessThan(1_500);
      expect(waits.filter((ms) => ms > 500), waits.map(Math.round).join(', ')).toHaveLength(1);
    } finally {
      redis.resume();
    }
    // Back in Redis (a fresh server: no counts kept): shared again once both nodes have reconnected and a
    // retry is due.
    const reconnected = () => Promise.all(drivers.map((driver) => driver.ping())).then(() => true, () => false);
    await expect.poll(reconnected, { timeout: 10_000, interval: 100 }).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await allowed(a, 'after', 2)).toBe(2);
    expect(lines[0]!.at(-1)).toMatchObject({ msg: 'rate limit counter reachable again: counting across nodes' });
    expect(await allowed(b, 'after', LIMIT)).toBe(LIMIT - 2);
  });
});
