import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryPubSub } from '../src/pubsub/memory.js';
import type { PubSub } from '../src/pubsub/pubsub.js';
import { RedisPubSubDriver } from '../src/pubsub/redis.js';
import { REDIS_URL } from './support/backends.js';
import { waitFor } from './support/live.js';

const redisUrl = REDIS_URL;
const drivers: { name: string; open: () => Promise<PubSub> }[] = [
  { name: 'in-process', open: async () => new MemoryPubSub() },
  ...(redisUrl ? [{ name: 'Redis', open: () => RedisPubSubDriver.connect(redisUrl, `pubsub-test-${process.pid}:`, pino({ level: 'silent' })) }] : []),
];

describe.each(drivers)('pub/sub ($name)', ({ open }) => {
  const opened: PubSub[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((p) => p.close()));
  });

  it("drops a subscriber's own messages by their first bytes and hands every other message over intact", async () => {
    const pubsub = await open();
    opened.push(pubsub);
    const skipping: string[] = [];
    const all: string[] = [];
    const stopSkipping = await pubsub.subscribe('chan', (m) => skipping.push(m), { skipPrefix: '{"origin":"me"' });
    const stopAll = await pubsub.subscribe('chan', (m) => all.push(m));

    const messages = [
      '{"origin":"me","from":"0","to":"3"}',
      // Another node's, with text that is more than one byte a character in UTF-8.
      '{"origin":"them","note":"Zürich → São Paulo, 心拍 🫀"}',
      // Shorter than the prefix, and one that stops partway into it.
      '{}',
      '{"origin":"m',
      // The prefix further in is not the start.
      ' {"origin":"me"}',
      '{"origin":"meet"}',
      'last',
    ];
    for (const message of messages) await pubsub.publish('chan', message);
    await waitFor(() => skipping.includes('last') && all.includes('last'), 'the last message on both subscriptions');

    expect(all).toEqual(messages);
    expect(skipping).toEqual(messages.slice(1));
    await stopSkipping();
    await stopAll();
  });
});
