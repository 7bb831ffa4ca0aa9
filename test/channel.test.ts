import { describe, expect, it } from 'vitest';
import { Channel, newDeliveryCounters } from '../src/live/channel.js';
import { EventsMissedError } from '../src/errors.js';

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
