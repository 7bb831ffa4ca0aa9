import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestReadingsDocument, LiveReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import type { RedisPubSubDriver } from '../src/pubsub/redis.js';
import { DATABASE_URL, REDIS_URL } from './support/backends.js';
import { dropSchema, startTestApp, type TestApp } from './support/app.js';
import { patients } from './support/fixtures.js';

const backend = { name: 'PostgreSQL, Redis', database: 'postgres', pubsub: 'redis' } as const;

// Two deployments on one Redis with one REDIS_CHANNEL_PREFIX receive each other's streams: hospital B's readings on
// hospital A's wall, and A's alerts computed from them. A deployment is its database (and schema).
describe.runIf(DATABASE_URL && REDIS_URL)('two deployments on one Redis', () => {
  const a = `t_deploy_a_${process.pid}`;
  const b = `t_deploy_b_${process.pid}`;
  const prefix = `deploy-test-${process.pid}:`;
  const env = { REDIS_CHANNEL_PREFIX: prefix };
  const open: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(open.map((app) => app.close()));
    await Promise.all([dropSchema(a), dropSchema(b)]);
  });

  it("refuses to start on another deployment's channel prefix, naming it; a second node of the same deployment starts", async () => {
    // A's URL carries a password (trust authentication ignores it), which B's refusal must not show.
    const url = new URL(DATABASE_URL!);
    url.password = 'hunter2-secret';
    const first = await startTestApp(backend, { env: { ...env, DATABASE_URL: url.toString() }, schema: a, keepSchema: true });
    open.push(first);
    const refused = await startTestApp(backend, { env, schema: b, keepSchema: true }).then(
      (app) => (open.push(app), undefined),
      (error: Error) => error,
    );
    expect(refused?.message).toContain(
      `REDIS_CHANNEL_PREFIX "${prefix}" is in use on this Redis by the deployment of database "${url.pathname.slice(1)}" on ${url.host}, schema "${a}" (a node on `,
    );
    expect(refused?.message).not.toContain('hunter2');

    const second = await startTestApp(backend, { env, schema: a, keepSchema: true });
    open.push(second);
    expect((await fetch(`${second.url}/ready`)).status).toBe(200);

    // Once A's nodes have stopped, its prefix is free at once.
    await Promise.all(open.splice(0).map((app) => app.close()));
    const other = await startTestApp(backend, { env, schema: b, keepSchema: true });
    open.push(other);
    expect((await fetch(`${other.url}/ready`)).status).toBe(200);
    await Promise.all(open.splice(0).map((app) => app.close()));
  });

  it("keeps a deployment's live readings apart from another that took its prefix while it was away from Redis, and still live between its own nodes", async () => {
    const [a1, a2] = [await startTestApp(backend, { env, schema: a, keepSchema: true }), await startTestApp(backend, { env, schema: a, keepSchema: true })];
    open.push(a1, a2);
    const admin = new Redis(REDIS_URL!);
    try {
      // Redis restarted empty (nothing kept on disk), and B, which had been refused, started before A's nodes renewed.
      await admin.del(`${prefix}deployment`, `${prefix}deployment:nodes`);
      const other = await startTestApp(backend, { env, schema: b, keepSchema: true });
      open.push(other);
      await Promise.all([a1, a2].map((app) => (app.server.services.pubsub as RedisPubSubDriver).hold.renew()));
      expect((await fetch(`${a2.url}/ready`)).status).toBe(503);

      // Both hospitals have a bed-01.
      for (const app of [a1, other]) await app.mutate(RegisterSourcesDocument, { sources: patients('bed-01') });
      const wall = await a2.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-01'] });
      const now = Date.now();
      await other.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'bed-01', metric: 'heart_rate', value: 151, time: new Date(now).toISOString() }] });
      // A's reading crosses from a1 to a2 through the database (a poll interval), not Redis.
      await a1.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'bed-01', metric: 'heart_rate', value: 72, time: new Date(now + 1).toISOString() }] });
      const values = () => wall.results.items.flatMap((r) => r.data?.readings.map((x) => x.value) ?? []);
      await wall.results.until(() => values().includes(72), "a1's reading on a2's wall");
      expect(values()).toEqual([72]);
      await wall.close();
    } finally {
      admin.disconnect();
    }
  });
});
