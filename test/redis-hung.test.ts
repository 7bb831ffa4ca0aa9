import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowAt } from '../src/auth/rate-limit.js';
import { z } from 'zod';
import { OutputFeed } from '../src/live/output-feed.js';
import { StreamPublisher } from '../src/live/publisher.js';
import { RedisPubSubDriver } from '../src/pubsub/redis.js';
import { hasRedisServer, startPrivateRedis } from './support/private-redis.js';

/** "At once": half the 1 s reply timeout, so a hung wait still fails it while a loaded machine's stalls do not. */
const AT_ONCE_MS = 500;

/** How long `promise` took to settle, and its error's message if it failed. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error?: string }> {
  const began = performance.now();
  try {
    await promise;
    return { ms: performance.now() - began };
  } catch (error) {
    return { ms: performance.now() - began, error: (error as Error).message };
  }
}

describe.skipIf(!hasRedisServer)('a Redis that goes away', () => {
  it('leaves no unhandled rejection when a channel is unsubscribed while it is down, or resubscribed as it comes back', async () => {
    const unhandled: string[] = [];
    const listener = (reason: unknown) => void unhandled.push(String(reason));
    process.on('unhandledRejection', listener);
    const redis = await startPrivateRedis();
    const driver = await RedisPubSubDriver.connect(redis.url, `gone-${process.pid}:`, pino({ level: 'silent' }));
    try {
      const unsubscribe = await driver.subscribe('going', () => undefined);
      await driver.subscribe('staying', () => undefined);
      await redis.stop();
      // graphql-redis-subscriptions sends UNSUBSCRIBE and PUNSUBSCRIBE and drops their promises: after the
      // reconnect attempts (maxRetriesPerRequest 1) they rejected with nobody listening, which ends a server process.
      await unsubscribe();
      await sleep(2_500);
      await redis.start();
      const back = () => driver.ping().then(() => true, () => false);
      for (let i = 0; i < 100 && !(await back()); i++) await sleep(50);
      expect(await back()).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
      await driver.close();
      await redis.stop();
    }
  });
});

// SIGSTOP: the server keeps its connections open and stops answering, as a Redis stuck on a slow command, a
// fork on a starved machine or a half-open network path does.
describe.skipIf(!hasRedisServer)('a Redis that stops answering with its connection open', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let driver: RedisPubSubDriver;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    driver = await RedisPubSubDriver.connect(redis.url, `hung-${process.pid}:`, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    redis?.resume();
    await driver?.close();
    await redis?.stop();
  });

  const connected = () => driver.ping().then(() => true, () => false);

  it('fails a publish within a second, then every publish at once until Redis answers again', async () => {
    const received: string[] = [];
    const unsubscribe = await driver.subscribe('hung', (message) => received.push(message));
    redis.pause();
    try {
      const first = await timed(driver.publish('hung', 'during'));
      expect(first.error).toBe('Command timed out');
      expect(first.ms).toBeLessThan(1_500);
      // The connection was dropped: publishes do not queue behind a Redis that may never read them.
      const next = await timed(driver.publish('hung', 'x'.repeat(50_000)));
      expect(next.error).toMatch(/^not connected/);
      const later = await Promise.all(Array.from({ length: 50 }, () => timed(driver.publish('hung', 'x'.repeat(50_000)))));
      expect(later.every((r) => r.error?.startsWith('not connected'))).toBe(true);
      expect(Math.max(...later.map((r) => r.ms))).toBeLessThan(AT_ONCE_MS);
      expect((await timed(driver.ping())).error).toMatch(/^not connected \((connect|reconnecting|close)\): no reply within 1000 ms$/);
    } finally {
      redis.resume();
    }
    await expect.poll(connected, { timeout: 10_000, interval: 100 }).toBe(true);
    await driver.publish('hung', 'after');
    await expect.poll(() => received.includes('after'), { timeout: 5_000 }).toBe(true);
    // None of the refused 50 KB publishes reached Redis.
    expect(received.filter((m) => m.length === 50_000)).toEqual([]);
    await unsubscribe();
  });

  it('counts an operation whose count timed out once, in the window it was made in, and not again after reconnecting', async () => {
    const windowMs = 3_600_000;
    // Not near a window's end, so the counts below all fall in one window.
    const { endsAt } = windowAt(windowMs, Date.now());
    if (endsAt - Date.now() < 15_000) await sleep(endsAt - Date.now() + 10);

    expect((await driver.countInWindow('late', windowMs)).count).toBe(1);
    redis.pause();
    try {
      expect((await timed(driver.countInWindow('late', windowMs))).error).toBe('Command timed out');
      expect((await timed(driver.countInWindow('late', windowMs))).error).toMatch(/^not connected/);
    } finally {
      redis.resume();
    }
    await expect.poll(connected, { timeout: 10_000, interval: 100 }).toBe(true);
    // The count Redis read late is the second; the first after reconnecting is the third (a resent one would
    // make it the fourth); the ones refused while not connected never reached Redis.
    expect((await driver.countInWindow('late', windowMs)).count).toBe(3);
    // The key outlives its window by one more window, for nodes whose clocks run behind, and then goes.
    const direct = new Redis(redis.url);
    try {
      const now = Date.now();
      const ttl = await direct.pttl(`hung-${process.pid}:rate:late:${windowAt(windowMs, now).index}`);
      expect(Math.abs(ttl - (windowAt(windowMs, now).endsAt + windowMs - now))).toBeLessThan(1_000);
    } finally {
      direct.disconnect();
    }
  });

  it('keeps the connection made after a loss with a publish in flight', async () => {
    const reconnects = driver.reconnects;
    redis.pause();
    const inFlight = timed(driver.publish('hung', 'in flight'));
    await redis.stop();
    await redis.start();
    expect((await inFlight).error).toBeDefined();
    await expect.poll(connected, { timeout: 10_000, interval: 100 }).toBe(true);
    const made = driver.reconnects;
    expect(made).toBeGreaterThan(reconnects);
    // Nothing timed for the lost connection reaches the one made since.
    await sleep(1_500);
    expect(driver.reconnects).toBe(made);
    expect((await timed(driver.ping())).error).toBeUndefined();
  });

  it('keeps the connection when the reply was there but this process was too busy to read it', async () => {
    const reconnects = driver.reconnects;
    const publishing = timed(driver.publish('hung', 'busy'));
    // A synchronous stall past the reply timeout: the reply waits unread in the socket when the timer fires.
    const until = performance.now() + 1_200;
    while (performance.now() < until);
    await publishing;
    await sleep(200);
    expect(driver.reconnects).toBe(reconnects);
    expect((await timed(driver.ping())).error).toBeUndefined();
  });

  it('tells the other nodes an output message was lost when it stops before its next notice was due', async () => {
    // Two nodes on this Redis: this driver publishes windows, another node's feed has a subscriber.
    const other = await RedisPubSubDriver.connect(redis.url, `hung-${process.pid}:`, pino({ level: 'silent' }));
    const feed = new OutputFeed<{ id: string }>({ pubsub: other, channel: 'windows', schema: z.array(z.object({ id: z.string() })), noun: 'windows', subscriberBuffer: 100, log: pino({ level: 'silent' }) });
    const lines: Record<string, unknown>[] = [];
    const publisher = new StreamPublisher(driver, pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }));
    try {
      await feed.start();
      const subscriber = feed.subscribe(() => true);
      // What it is sent, until an error ends it.
      const sent = (async () => {
        const got: unknown[] = [];
        for await (const value of subscriber) {
          got.push(value);
          if (value instanceof Error) break;
        }
        return got;
      })();
      // A window's publish times out while Redis stops answering; the other node's subscription stays open.
      redis.pause();
      publisher.publish('windows', JSON.stringify([{ id: 'w-1' }]));
      await expect.poll(() => publisher.noticesDue, { timeout: 5_000, interval: 50 }).toBe(1);
      redis.resume();
      // The node shuts down at once, before its retry of the notice (a second after the failure).
      await publisher.stop();
      expect(publisher.noticesDue).toBe(0);
      const got = await Promise.race([sent, sleep(3_000).then(() => 'no error within 3 s')]);
      // Redis may still run the timed-out PUBLISH once it answers again: the window may come before the notice.
      expect(Array.isArray(got) && got.at(-1)).toMatchObject({ name: 'EventsMissedError', code: 'EVENTS_MISSED' });
      expect(lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg)).toEqual([expect.stringMatching(/^publish failed/)]);
    } finally {
      redis.resume();
      await feed.close();
      await other.close();
    }
  });

  it('stops within two seconds when the notice cannot be sent, and says which outputs were not told', async () => {
    const lines: Record<string, unknown>[] = [];
    const publisher = new StreamPublisher(driver, pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }));
    redis.pause();
    try {
      publisher.publish('candles', '[]');
      await expect.poll(() => publisher.noticesDue, { timeout: 5_000, interval: 50 }).toBe(1);
      const stopping = await timed(publisher.stop());
      expect(stopping.ms).toBeLessThan(2_500);
      expect(lines.filter((l) => (l.level as number) >= 40).at(-1)).toMatchObject({
        msg: 'stopping before other nodes could be told that output messages were lost: their subscribers of these outputs are not told to re-read',
        outputChannels: ['candles'],
      });
    } finally {
      redis.resume();
    }
    await expect.poll(connected, { timeout: 10_000, interval: 100 }).toBe(true);
  });
});
