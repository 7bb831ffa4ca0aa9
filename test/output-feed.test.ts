import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SlowConsumerError, UnavailableError } from '../src/errors.js';
import { OutputFeed, type StoredOutputs } from '../src/live/output-feed.js';
import { createLogger } from '../src/log.js';
import { MemoryPubSub } from '../src/pubsub/memory.js';
import { ReplaySlots } from '../src/live/replay-slots.js';
import { waitFor } from './support/live.js';

interface Item {
  cursor: bigint;
}

/**
 * A feed with `stored` (as alerts have) against an in-memory log standing in
 * for the table, committed in cursor order, and the in-process broker, whose
 * messages the test sends or leaves out.
 */
function setup(options: { subscriberBuffer?: number; pollIntervalMs?: number; replays?: ReplaySlots } = {}) {
  const log: Item[] = [];
  let failNextRead = false;
  /** While set, reads wait for it: a replay or catch-up caught mid-way. */
  let gate: Promise<void> | undefined;
  /** Reads waiting at the gate now. */
  let held = 0;
  const stored: StoredOutputs<Item> = {
    cursorOf: (item) => item.cursor,
    read: async (after, upTo, limit) => {
      held++;
      await gate;
      held--;
      if (failNextRead) {
        failNextRead = false;
        throw new Error('connection lost');
      }
      return log.filter((i) => i.cursor > after && (upTo === null || i.cursor <= upTo)).slice(0, limit);
    },
    last: async () => log.at(-1)?.cursor ?? 0n,
  };
  const pubsub = new MemoryPubSub();
  const feed = new OutputFeed<Item>({
    pubsub,
    channel: 'test-outputs',
    schema: z.array(z.object({ cursor: z.bigint() })),
    noun: 'alerts',
    subscriberBuffer: options.subscriberBuffer ?? 10_000,
    log: createLogger('silent'),
    stored,
    pollIntervalMs: options.pollIntervalMs ?? 60_000,
    replays: options.replays,
  });
  /** Stores cursors (from, to]; with `announce`, publishes the message that says so. */
  const commit = (from: number, to: number, announce = true) => {
    for (let c = from + 1; c <= to; c++) log.push({ cursor: BigInt(c) });
    if (announce) void pubsub.publish('test-outputs', '{}');
  };
  /** Everything a subscription yields until `until` holds for what it got, read as a client does. */
  const collect = (iterator: AsyncIterableIterator<Item[] | Error>) => {
    const got: bigint[] = [];
    const errors: Error[] = [];
    void (async () => {
      for await (const value of iterator) {
        if (value instanceof Error) errors.push(value);
        else got.push(...value.map((i) => i.cursor));
      }
    })();
    return { got, errors };
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));
  return {
    feed,
    commit,
    collect,
    range,
    failNextRead: () => (failNextRead = true),
    readsHeld: () => held,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe('an output feed read from the database in cursor order (alerts)', () => {
  let feeds: OutputFeed<Item>[] = [];
  afterEach(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    feeds = [];
  });
  const started = async (t: ReturnType<typeof setup>) => {
    feeds.push(t.feed);
    await t.feed.start();
    return t;
  };

  it('sends what was stored once a message says so, and what a lost message announced at the next poll', async () => {
    const t = await started(setup({ pollIntervalMs: 50 }));
    const live = t.collect(t.feed.subscribe(() => true));
    t.commit(0, 3);
    await waitFor(() => live.got.length === 3, 'the announced items');
    t.commit(3, 5, false);
    await waitFor(() => live.got.length === 5, 'the unannounced items, at the poll');
    expect(live.got).toEqual(t.range(1, 5));
    expect(live.errors).toEqual([]);
  });

  it('replays what was stored after a cursor, page by page, then goes live: no gap and no duplicate, though more is stored during the replay', async () => {
    const t = await started(setup());
    const probe = t.collect(t.feed.subscribe(() => true));
    t.commit(0, 1_200);
    await waitFor(() => probe.got.length === 1_200, 'the feed to read the stored items');
    const release = t.hold();
    const resumed = t.collect(t.feed.subscribe((i) => i.cursor % 3n !== 0n, 100n));
    // Stored and announced while the replay waits on its first page: held, sent after the replay.
    t.commit(1_200, 1_210);
    release();
    const wanted = t.range(101, 1_210).filter((c) => c % 3n !== 0n);
    await waitFor(() => resumed.got.length >= wanted.length, 'the replay and the live items');
    t.commit(1_210, 1_215);
    const later = t.range(1_211, 1_215).filter((c) => c % 3n !== 0n);
    await waitFor(() => resumed.got.length >= wanted.length + later.length, 'later live items');
    expect(resumed.got).toEqual([...wanted, ...later]);
    expect(resumed.errors).toEqual([]);
  });

  it('sends nothing up to a resume cursor this node has not read yet, and everything after it', async () => {
    const t = await started(setup());
    t.commit(0, 5, false);
    // Another node sent the client cursor 3; this node has read nothing of these yet.
    const resumed = t.collect(t.feed.subscribe(() => true, 3n));
    const live = t.collect(t.feed.subscribe(() => true));
    t.commit(5, 6);
    await waitFor(() => live.got.length === 6, 'the live-only subscriber');
    expect(live.got).toEqual(t.range(1, 6));
    expect(resumed.got).toEqual(t.range(4, 6));
  });

  it('reads again from the same cursor after a failed read: nothing is skipped', async () => {
    const t = await started(setup({ pollIntervalMs: 50 }));
    const live = t.collect(t.feed.subscribe(() => true));
    t.failNextRead();
    t.commit(0, 4);
    await waitFor(() => live.got.length === 4, 'the items, at the next poll');
    expect(live.got).toEqual(t.range(1, 4));
  });

  it('ends a subscriber that falls behind with SLOW_CONSUMER naming the last cursor it read', async () => {
    const t = await started(setup({ subscriberBuffer: 10 }));
    const iterator = t.feed.subscribe(() => true);
    t.commit(0, 3);
    const first = await iterator.next();
    expect((first.value as Item[]).map((i) => i.cursor)).toEqual(t.range(1, 3));
    // Not read: 20 items overflow its buffer of 10.
    t.commit(3, 13);
    t.commit(13, 23);
    await waitFor(async () => t.feed.subscriberCount === 0, 'the subscriber to be ended');
    const ended = await iterator.next();
    expect(ended.value).toBeInstanceOf(SlowConsumerError);
    expect((ended.value as SlowConsumerError).details).toMatchObject({ resumeAfter: '3', limit: 10 });
    expect((ended.value as Error).message).toBe('subscriber fell more than 10 alerts behind and was disconnected; resubscribe with after: "3" to continue without loss');
  });

  it("frees a replay's turn when its read fails: the subscriber is told to resubscribe, and the key's next replay runs", async () => {
    const replays = new ReplaySlots({ perKey: 1, waitMs: 5_000 });
    const t = await started(setup({ replays }));
    const live = t.collect(t.feed.subscribe(() => true));
    t.commit(0, 5);
    await waitFor(() => live.got.length === 5, 'the feed to read what was stored');
    const release = t.hold();
    const failing = t.collect(t.feed.subscribe(() => true, 1n, undefined, 'ward-key'));
    const next = t.collect(t.feed.subscribe(() => true, 2n, undefined, 'ward-key'));
    // The first replay reads (its read held at the gate) in its turn; the second waits for it, reading nothing.
    await waitFor(() => t.readsHeld() === 1 && replays.runningCount === 1 && replays.waitingCount === 1, 'one replay reading, the next waiting');
    t.failNextRead();
    release();
    await waitFor(() => failing.errors.length > 0, 'the failed replay to end');
    expect(failing.errors[0]).toBeInstanceOf(UnavailableError);
    await waitFor(() => next.got.length === 3, 'the next replay, in the turn the failed one freed');
    expect(next.got).toEqual(t.range(3, 5));
    expect([replays.runningCount, replays.waitingCount]).toEqual([0, 0]);
  });
});
