import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryPubSub } from '../src/pubsub/memory.js';
import { PrefixInUse, type PubSub } from '../src/pubsub/pubsub.js';
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

describe.runIf(redisUrl)('a Redis channel prefix held by one deployment', () => {
  const prefix = `claim-test-${process.pid}:`;
  const connect = () => RedisPubSubDriver.connect(redisUrl!, prefix, pino({ level: 'silent' }));
  const owner = (id: string) => ({ id, database: `database "vigil" on db-${id}:5432, schema "public"`, host: `node-${id}` });

  it("refuses another deployment's node by name, takes its own deployment's, and is free once that deployment stops", async () => {
    const [a1, a2, b] = await Promise.all([connect(), connect(), connect()]);
    try {
      await a1.claim(owner('a'));
      // A second node of the same deployment (same database) shares the hold.
      await a2.claim(owner('a'));
      const refused = await b.claim(owner('b')).then(() => undefined, (error: Error) => error);
      expect(refused).toBeInstanceOf(PrefixInUse);
      expect(refused!.message).toContain(`REDIS_CHANNEL_PREFIX "${prefix}" is in use on this Redis by the deployment of database "vigil" on db-a:5432`);
      expect(refused!.message).toContain('Give each deployment a prefix of its own');
      // One node of A stopping (a rolling restart) leaves the hold to the other: B is still refused. Before, the
      // first node to stop gave the hold up, and B, crash-looping meanwhile, took it before a2's next renewal.
      await a1.close();
      await expect(b.claim(owner('b'))).rejects.toBeInstanceOf(PrefixInUse);
      await a2.close();
      await b.claim(owner('b'));
      await b.ping();
    } finally {
      await Promise.all([a1, a2, b].map((d) => d.close()));
    }
  });

  it('turns ping (and /ready) unready when another deployment took the prefix while this one was away from Redis, and keeps their streams apart', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const admin = new Redis(redisUrl!);
    try {
      await a.claim(owner('a'));
      const [heardByA, heardByB, events] = [[] as string[], [] as string[], [] as string[]];
      await a.subscribe('readings', (m) => heardByA.push(m));
      await b.subscribe('readings', (m) => heardByB.push(m));
      a.onLost(() => events.push('lost'));
      a.onResubscribed(() => events.push('back'));
      // Redis restarted empty (nothing kept on disk), and another deployment started first.
      await admin.del(`${prefix}deployment`, `${prefix}deployment:nodes`);
      await b.claim(owner('b'));
      const renew = () => a.hold.renew();
      await renew();
      await expect(a.ping()).rejects.toThrow(/REDIS_CHANNEL_PREFIX ".*" is in use on this Redis by the deployment of database "vigil" on db-b:5432/);
      // Each hospital's readings stay its own: before, bed-01 of one was shown on the other's bed-01 tile.
      expect(events).toEqual(['lost']);
      await a.publish('readings', 'from a, while b holds the prefix');
      await b.publish('readings', 'from b');
      await waitFor(() => heardByB.includes('from b'), "b's own message");
      expect(heardByA).toEqual([]);
      expect(heardByB).toEqual(['from b']);
      await b.close();
      await renew();
      await a.ping();
      expect(events).toEqual(['lost', 'back']);
      await a.publish('readings', 'from a, its own again');
      await waitFor(() => heardByA.includes('from a, its own again'), "a's message once the prefix is its own again");
    } finally {
      admin.disconnect();
      await Promise.all([a, b].map((d) => d.close()));
    }
  });

  it('starts with a warning where an ACL keeps its Redis user off the key (pub/sub only), as it did before the check', async () => {
    const admin = new Redis(redisUrl!);
    const user = `claim-acl-${process.pid}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~nothing:*', '&*', '+@all');
    const lines: { msg: string }[] = [];
    const url = new URL(redisUrl!);
    url.username = user;
    url.password = 'secret';
    const confined = await RedisPubSubDriver.connect(url.toString(), prefix, pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) }));
    try {
      await confined.claim(owner('a'));
      await confined.ping();
      expect(lines.map((l) => l.msg)).toContain(`this Redis user may not read or write ${prefix}deployment (ACL): nothing keeps another deployment off this channel prefix, so make sure none uses it`);
    } finally {
      await confined.close();
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    }
  });
});
