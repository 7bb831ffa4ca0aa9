import { describe, expect, it } from 'vitest';
import { Channel, newDeliveryCounters } from '../src/live/channel.js';
import { EventsMissedError, SlowConsumerError } from '../src/errors.js';
import type { Reading } from '../src/db/readings.js';
import { createLogger } from '../src/log.js';
import { StreamFeed } from '../src/live/stream-feed.js';
import { ReplaySlots } from '../src/live/replay-slots.js';
import type { StreamTail } from '../src/live/stream-tail.js';

describe('EVENTS_MISSED', () => {
  it('tells a subscriber of live NEWS2 scores that lost some which query reads them', () => {
    expect(new EventsMissedError('news2').message).toMatch(/subscribe again, and query news2Scores for what changed meanwhile$/);
    expect(new EventsMissedError('windows').message).toMatch(/query windows for what changed meanwhile$/);
  });
});

describe('subscriber channel', () => {
  it('on overflow reports the last item the consumer read, not the last one buffered, then ends', async () => {
    const channel: Channel<number> = new Channel<number>(3, (): Error => new Error(`resume after ${channel.lastRead}`), () => undefined);
    channel.push([1]);
    expect(await channel.next()).toEqual({ value: [1], done: false });
    channel.push([2, 3]);
    channel.push([4, 5]);
    const failure = await channel.next();
    expect(failure.value).toBeInstanceOf(Error);
    expect((failure.value as Error).message).toBe('resume after 1');
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });

  it('counts a subscriber ended for what was held for it during a replay as a slow consumer, as one whose buffer overflowed', async () => {
    const counters = newDeliveryCounters();
    const channel = new Channel<number>(10, () => new Error('slow'), () => undefined, counters);
    channel.push([1, 2, 3]);
    // 15 live items held while its replay ran: more than its buffer of 10 (readings-feed.ts, output-feed.ts).
    channel.overflow(15);
    expect(counters).toEqual({ delivered: 3, dropped: 18, slowConsumers: 1 });
    expect((await channel.next()).value).toBeInstanceOf(Error);
    // Once ended it is not counted again.
    channel.overflow(5);
    expect(counters.slowConsumers).toBe(1);
  });

  it('hands a push straight to a waiting consumer and ends cleanly on return()', async () => {
    const channel = new Channel<number>(2, () => new Error('overflow'), () => undefined);
    const pending = channel.next();
    channel.push([7, 8, 9]);
    expect(await pending).toEqual({ value: [7, 8, 9], done: false });
    expect(channel.lastRead).toBe(9);
    await channel.return();
    expect(channel.closed).toBe(true);
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });
});

describe('readings feed, a live-only subscriber cut off before it read anything', () => {
  it('is told to resume after where its subscription began, not with after: null (live from now, losing what it was never sent)', async () => {
    // A stand-in tail at cursor 10: the feed listens to it and hands over at its position.
    let deliver: (events: Reading[]) => void = () => undefined;
    const tail = { position: 10n, addListener: (listener: (events: Reading[]) => void) => (deliver = listener) } as unknown as StreamTail<Reading>;
    const source = { noun: 'readings', sourceOf: (r: Reading) => r.sourceId, read: () => Promise.resolve([]) };
    const feed = new StreamFeed(tail, source, { subscriberBuffer: 2, log: createLogger('silent'), replays: new ReplaySlots({ perKey: 1, waitMs: 1_000 }) });
    const subscription = feed.subscribe({ tenantId: 't', holder: 'key' });
    const reading = (cursor: bigint): Reading => ({ cursor, sourceId: 'bed', metric: 'heart_rate', time: new Date(0), value: 60, unit: '/min', quality: 'GOOD', tenantId: 't' });
    // Three readings arrive before the transport first asks for one: more than its buffer of 2.
    deliver([reading(11n), reading(12n)]);
    deliver([reading(13n)]);
    const { value } = await subscription.next();
    expect(value).toBeInstanceOf(SlowConsumerError);
    expect(value).toMatchObject({ code: 'SLOW_CONSUMER', details: { resumeAfter: '10' } });
    expect((value as Error).message).toContain('resubscribe with after: "10"');
  });
});
