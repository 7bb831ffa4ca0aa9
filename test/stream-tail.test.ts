import { afterEach, describe, expect, it } from 'vitest';
import { StreamTail, type TailSource } from '../src/live/stream-tail.js';
import type { StreamBatch } from '../src/live/wire.js';
import { createLogger } from '../src/log.js';
import { MemoryPubSub } from '../src/pubsub/memory.js';
import { waitFor } from './support/live.js';

interface Event {
  cursor: bigint;
}

/**
 * The tail against an in-memory log standing in for the committed table,
 * and the in-process broker, whose messages the test drops, reorders and
 * repeats the way Redis pub/sub can.
 */
function setup(options: { gapTimeoutMs?: number; pollIntervalMs?: number } = {}) {
  const committed: Event[] = [];
  let reads = 0;
  const source: TailSource<Event> = {
    committed: async () => committed.at(-1)?.cursor ?? 0n,
    after: async (after, upTo, limit) => {
      reads++;
      return committed.filter((e) => e.cursor > after && e.cursor <= upTo).slice(0, limit);
    },
  };
  const pubsub = new MemoryPubSub();
  const tail = new StreamTail<Event>({
    channel: 'test',
    pubsub,
    source,
    decode: (message) => {
      const raw = JSON.parse(message) as { from: string; to: string; events: string[]; requestId?: string };
      return { from: BigInt(raw.from), to: BigInt(raw.to), events: raw.events.map((c) => ({ cursor: BigInt(c) })), requestId: raw.requestId };
    },
    gapTimeoutMs: options.gapTimeoutMs ?? 50,
    pollIntervalMs: options.pollIntervalMs ?? 60_000,
    ownPrefix: '{"origin":"me"',
    log: createLogger('silent'),
  });
  const delivered: bigint[] = [];
  /** Each delivery's first cursor and request id. */
  const requests: [bigint, string | undefined][] = [];
  tail.addListener((events, _committedAt, requestId) => {
    delivered.push(...events.map((e) => e.cursor));
    requests.push([events[0]!.cursor, requestId]);
  });
  /** Commits cursors (from, to] and returns the message that announces them (from the request `requestId`). */
  const commit = (from: number, to: number, requestId?: string): string => {
    const batch: StreamBatch<Event> = { from: BigInt(from), to: BigInt(to), events: [] };
    for (let c = from + 1; c <= to; c++) {
      committed.push({ cursor: BigInt(c) });
      batch.events.push({ cursor: BigInt(c) });
    }
    return JSON.stringify({ from: String(batch.from), to: String(batch.to), events: batch.events.map((e) => String(e.cursor)), requestId });
  };
  const publish = (message: string) => pubsub.publish('test', message);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));
  return { tail, commit, publish, delivered, requests, range, reads: () => reads };
}

describe('stream tail', () => {
  const tails: StreamTail<Event>[] = [];
  afterEach(async () => {
    await Promise.all(tails.splice(0).map((t) => t.stop()));
  });
  const started = async (t: ReturnType<typeof setup>) => {
    await t.tail.start();
    tails.push(t.tail);
    return t;
  };

  it('tells a waiter when its cursor is handed to listeners, not before: after the batches below it, or at a timeout, or at stop', async () => {
    const t = await started(setup({ gapTimeoutMs: 5_000 }));
    const [m1, m2] = [t.commit(0, 3), t.commit(3, 5)];
    const settled: string[] = [];
    const waiting = t.tail.reached(5n, 5_000).then((reached) => settled.push(`5:${reached}`));
    const early = t.tail.reached(3n, 5_000).then((reached) => settled.push(`3:${reached}`));
    await t.publish(m2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toEqual([]);
    await t.publish(m1);
    await Promise.all([waiting, early]);
    expect(settled).toEqual(['3:true', '5:true']);
    expect(await t.tail.reached(4n, 10)).toBe(true);
    expect(await t.tail.reached(9n, 10)).toBe(false);
    const atStop = t.tail.reached(9n, 5_000);
    await t.tail.stop();
    expect(await atStop).toBe(true);
  });

  it("takes this node's own batches in process, skips its own messages, and orders them with other nodes' batches", async () => {
    const t = await started(setup({ gapTimeoutMs: 5_000 }));
    const [m1, m2] = [t.commit(0, 3), t.commit(3, 5)];
    const own = (message: string) => `{"origin":"me",${message.slice(1)}`;
    // This node committed (3, 5]: its tail holds it until another node's (0, 3] arrives.
    t.tail.accept({ from: 3n, to: 5n, events: [{ cursor: 4n }, { cursor: 5n }] });
    await t.publish(own(m2));
    await t.publish(m1);
    await waitFor(() => t.delivered.length >= 5, 'five events');
    expect(t.delivered).toEqual(t.range(1, 5));
    expect(t.tail.stats).toMatchObject({ local: 1, batches: 1, repairs: 0, undecodable: 0 });
    expect(t.reads()).toBe(0);
  });

  it('delivers batches in cursor order exactly once when messages arrive reordered and repeated', async () => {
    const t = await started(setup({ gapTimeoutMs: 5_000 }));
    const [m1, m2, m3] = [t.commit(0, 3), t.commit(3, 5), t.commit(5, 9)];
    await t.publish(m3);
    await t.publish(m1);
    await t.publish(m1);
    await t.publish(m2);
    await t.publish(m3);
    await waitFor(() => t.delivered.length >= 9, 'nine events');
    expect(t.delivered).toEqual(t.range(1, 9));
    expect(t.reads()).toBe(0);
  });

  it("hands listeners each batch's request id, in cursor order; none for a range read back from the store", async () => {
    const t = await started(setup({ gapTimeoutMs: 50 }));
    const [m1, m2] = [t.commit(0, 2, 'req-a'), t.commit(2, 4, 'req-b')];
    t.commit(4, 5, 'req-c'); // its message never arrives
    const m4 = t.commit(5, 6, 'req-d');
    await t.publish(m2);
    await t.publish(m1);
    await t.publish(m4);
    await waitFor(() => t.delivered.length >= 6, 'six events');
    expect(t.requests).toEqual([
      [1n, 'req-a'],
      [3n, 'req-b'],
      [5n, undefined],
    ]);
  });

  it('reads a range whose message was lost from the store once the gap times out', async () => {
    const t = await started(setup({ gapTimeoutMs: 30 }));
    const m1 = t.commit(0, 2);
    t.commit(2, 4); // its message never arrives
    const m3 = t.commit(4, 6);
    await t.publish(m1);
    await t.publish(m3);
    await waitFor(() => t.delivered.length >= 6, 'six events');
    expect(t.delivered).toEqual(t.range(1, 6));
    expect(t.tail.stats.repairs).toBe(1);
  });

  it('catches up from the store when the broker delivers nothing at all', async () => {
    const t = await started(setup({ pollIntervalMs: 20 }));
    t.commit(0, 5);
    t.commit(5, 7);
    await waitFor(() => t.delivered.length >= 7, 'seven events without any message');
    expect(t.delivered).toEqual(t.range(1, 7));
  });

  it('skips cursors in a range that hold no event (duplicates the writer did not store)', async () => {
    const t = await started(setup({ gapTimeoutMs: 5_000 }));
    const m1 = t.commit(0, 2);
    await t.publish(JSON.stringify({ from: '2', to: '5', events: [] }));
    await t.publish(m1);
    const m3 = t.commit(5, 6);
    await t.publish(m3);
    await waitFor(() => t.tail.position === 6n, 'position 6');
    expect(t.delivered).toEqual([1n, 2n, 6n]);
  });

  it('repairs from the store when a message cannot be decoded', async () => {
    const t = await started(setup({ gapTimeoutMs: 5_000 }));
    t.commit(0, 3);
    await t.publish('{not json');
    await waitFor(() => t.delivered.length >= 3, 'three events');
    expect(t.tail.stats.undecodable).toBe(1);
    expect(t.delivered).toEqual(t.range(1, 3));
  });
});
