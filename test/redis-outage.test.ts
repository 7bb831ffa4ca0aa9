import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAlertRuleDocument,
  IngestReadingsDocument,
  IngestTransactionsDocument,
  LiveFraudSignalsDocument,
  LiveAlertsDocument,
  LiveReadingsDocument,
  LiveWindowsDocument,
  RegisterSourcesDocument,
  type LiveReadingsSubscription,
} from '../src/generated/graphql.js';
import { DATABASE_URL } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { heartRate, patients } from './support/fixtures.js';
import { hasRedisServer, startPrivateRedis } from './support/private-redis.js';
import { waitFor } from './support/live.js';
import { Redis } from 'ioredis';

const flatten = (results: { data?: LiveReadingsSubscription | null }[]) => results.flatMap((r) => r.data?.readings ?? []);

// Two API nodes need a shared database: PostgreSQL when available, else one embedded node.
const topologies = [
  { name: 'one embedded node', database: 'pglite' as const, nodes: 1 },
  ...(DATABASE_URL ? [{ name: 'two PostgreSQL nodes', database: 'postgres' as const, nodes: 2 }] : []),
];

describe.skipIf(!hasRedisServer).each(topologies)('Redis outage with $name', ({ database, nodes }) => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let writer: TestApp;
  let reader: TestApp;
  const schema = `t_outage_${process.pid}_${nodes}`;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    const backend = { name: 'outage', database, pubsub: 'redis' as const };
    const env = { REDIS_URL: redis.url, REDIS_CHANNEL_PREFIX: `outage-${nodes}:` };
    writer = await startTestApp(backend, { env, schema, keepSchema: nodes > 1 });
    reader = nodes > 1 ? await startTestApp(backend, { env, schema }) : writer;
    await writer.mutate(RegisterSourcesDocument, { sources: patients('bed-r', 'bed-a', 'bed-b', 'bed-c') });
  });
  afterAll(async () => {
    if (reader !== writer) await reader?.close();
    await writer?.close();
    await redis?.stop();
  });

  const killSubscribers = async () => {
    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await admin.connect();
      return await admin.client('KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
  };

  const committed = async () => (await writer.sql<{ last: string }>(sql`select last::text as last from stream_offsets where stream = 'readings'`))[0]!.last;

  // A node's own batches reach its tail in process; other nodes' come through Redis.
  const via = nodes > 1 ? 'batches' : 'local';

  it(`fans a reading out to a subscriber on ${nodes > 1 ? 'another node through Redis' : 'the writing node in process'}`, async () => {
    const live = await reader.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-r'] });
    const { stats } = reader.server.services.readingsTail;
    const before = { ...stats };
    await writer.mutate(IngestReadingsDocument, { readings: [heartRate('bed-r', 77, 1)] });
    await live.results.until((items) => flatten(items).length === 1, 'the reading');
    expect(stats[via]).toBeGreaterThan(before[via]);
    // The writer's own message on the broker is skipped, not decoded and dropped.
    expect(writer.server.services.readingsTail.stats.undecodable).toBe(0);
    if (nodes === 1) expect(stats.batches).toBe(before.batches);
    await live.close();
  });

  // Outputs without a cursor (windows here) cannot tell what they missed: a subscriber that may have is told so, and
  // re-reads. Alerts are read from the database in seq order, pub/sub only saying when: one whose message was lost
  // still arrives (at the latest at the next poll), in order, with no error.
  it.each([
    { fault: 'Redis restarted', sourceId: 'bed-a', down: async () => redis.stop(), up: async () => redis.start() },
    // Connections kept open: only the publish times out, and no node loses its subscription. Redis may still read
    // the timed-out PUBLISH once it runs again.
    { fault: 'Redis not answering for 1.5 s', sourceId: 'bed-b', down: async () => redis.pause(), up: async () => redis.resume() },
    // Closed without an error, as Redis does to a subscriber past its output buffer limit: ioredis is back at once.
    { fault: 'Redis closing the subscriber connections', sourceId: 'bed-c', down: async () => void (await killSubscribers()), up: async () => undefined },
  ])('after $fault, ends window subscribers with EVENTS_MISSED, and still delivers the alert transition it held up', async ({ sourceId, down, up }) => {
    const { createAlertRule: rule } = await writer.mutate(CreateAlertRuleDocument, {
      input: { name: `Tachycardia ${sourceId}`, kind: 'THRESHOLD', sourceIds: [sourceId], metric: 'heart_rate', above: 150, clear: 100, severity: 'HIGH' },
    });
    const live = await reader.subscribeWs(LiveAlertsDocument, { ruleIds: [rule.id] });
    const windows = await reader.subscribeWs(LiveWindowsDocument, { sourceIds: [sourceId] });
    const kinds = () => live.results.items.flatMap((r) => r.data?.alerts ?? []).map((e) => e.kind);
    const second = 10;
    await writer.mutate(IngestReadingsDocument, { readings: [heartRate(sourceId, 170, second)] });
    await live.results.until(() => kinds().includes('FIRING'), 'FIRING');

    await down();
    const recovered = new Promise((resolve) => setTimeout(resolve, 1_500)).then(up);
    // Resolved while its publish cannot go out.
    await writer.mutate(IngestReadingsDocument, { readings: [heartRate(sourceId, 70, second + 1)] });
    await recovered;
    await windows.results.until((items) => items.some((r) => r.errors?.length), 'EVENTS_MISSED', 15_000);
    const errors = windows.results.items.flatMap((r) => r.errors ?? []);
    expect(errors[0]).toMatchObject({ extensions: { code: 'EVENTS_MISSED' }, message: expect.stringMatching(/^live windows were interrupted: .*query windows/) });
    const metrics = await (await fetch(`${reader.url}/metrics`)).text();
    expect(Number(/^vigil_live_events_missed_total\{stream="windows"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^vigil_live_events_missed_total\{stream="alerts"\} (\d+)$/m.exec(metrics)?.[1])).toBe(0);

    await live.results.until(() => kinds().includes('RESOLVED'), 'RESOLVED', 15_000);
    expect(kinds()).toEqual(['FIRING', 'RESOLVED']);
    expect(live.results.items.flatMap((r) => r.errors ?? [])).toEqual([]);
    await live.close();
    await windows.close();
    // Each node that failed to publish sends its notice too, once it can: let it land before the next case subscribes.
    await waitFor(() => writer.server.services.ingest.publisher.noticesDue === 0, 'the notices sent', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }, 40_000);

  // Fraud signals are read from the database as alerts are: one raised while its publish could not go out arrives.
  it('tells window subscribers EVENTS_MISSED as Redis goes, not only once it is back, and again when it is', async () => {
    const windows = await reader.subscribeWs(LiveWindowsDocument, { sourceIds: ['bed-a'] });
    const missed = () => windows.results.items.flatMap((r) => r.errors ?? []).filter((e) => e.extensions?.code === 'EVENTS_MISSED');
    await redis.stop();
    try {
      // Still down: a ward screen can say its live values stopped.
      await windows.results.until(() => missed().length > 0, 'EVENTS_MISSED while Redis is down', 10_000);
      // Subscribed again during the outage, it is told again once Redis is back: what was published between is lost.
      const again = await reader.subscribeWs(LiveWindowsDocument, { sourceIds: ['bed-a'] });
      await redis.start();
      await again.results.until((items) => items.some((r) => r.errors?.some((e) => e.extensions?.code === 'EVENTS_MISSED')), 'EVENTS_MISSED once back', 15_000);
      await again.close();
    } finally {
      if (!redis.running) await redis.start();
    }
    await windows.close();
  }, 40_000);

  it('after Redis restarted, still delivers a fraud signal raised while its publish could not go out, with no EVENTS_MISSED', async () => {
    const card = `card-outage-${nodes}`;
    const live = await reader.subscribeWs(LiveFraudSignalsDocument, { subjects: [card] });
    const purchase = (id: string, minutesAgo: number, location: { lat: number; lon: number }) => ({
      id: `${card}-${id}`,
      cardId: card,
      time: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
      amount: 40,
      currency: 'EUR',
      merchant: 'Corner Shop',
      location,
      ip: '198.51.100.77',
    });
    await redis.stop();
    const recovered = new Promise((resolve) => setTimeout(resolve, 1_500)).then(() => redis.start());
    // London, then New York ten minutes later: impossible travel.
    const { ingestTransactions } = await writer.mutate(IngestTransactionsDocument, {
      transactions: [purchase('london', 20, { lat: 51.5074, lon: -0.1278 }), purchase('new-york', 10, { lat: 40.7128, lon: -74.006 })],
    });
    expect(ingestTransactions.accepted).toBe(2);
    await recovered;
    await live.results.until((items) => items.some((r) => (r.data?.fraudSignals.length ?? 0) > 0), 'the signal', 15_000);
    const signals = live.results.items.flatMap((r) => r.data?.fraudSignals ?? []);
    expect(signals.map((signal) => [signal.kind, signal.subject])).toEqual([['IMPOSSIBLE_TRAVEL', card]]);
    expect(live.results.items.flatMap((r) => r.errors ?? [])).toEqual([]);
    await live.close();
  }, 40_000);

  it('keeps acknowledging ingest while Redis is down, and a cursor subscriber ends with exactly the stored readings', async () => {
    const start = await committed();
    const live = await reader.subscribeWs(LiveReadingsDocument, { after: start });
    let second = 1_000;
    let outageDone: Promise<void> = Promise.resolve();
    for (let batch = 0; batch < 60; batch++) {
      if (batch === 15) {
        // Redis disappears for three seconds while ingest goes on.
        await redis.stop();
        // The node says why it is not ready, and that it is still alive.
        const ready = await fetch(`${writer.url}/ready`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ ready: false, database: 'ok', pubsub: expect.stringMatching(/^unreachable: not connected \((reconnecting|connecting|close|end)\)/) });
        expect((await fetch(`${writer.url}/health`)).status).toBe(200);
        outageDone = new Promise((resolve) => setTimeout(resolve, 3_000)).then(() => redis.start());
      }
      const readings = Array.from({ length: 5 }, () => heartRate('bed-r', 60 + (second % 40), second++));
      const { ingestReadings } = await writer.mutate(IngestReadingsDocument, { readings });
      expect(ingestReadings.accepted).toBe(5);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await outageDone;
    const end = await committed();
    await live.results.until((items) => flatten(items).at(-1)?.cursor === end, `cursor ${end}`, 15_000);

    const stored = await writer.sql<{ seq: string }>(sql`select seq::text as seq from readings where seq > ${start}::int8 order by readings.seq`);
    expect(flatten(live.results.items).map((r) => r.cursor)).toEqual(stored.map((r) => r.seq));
    expect(stored).toHaveLength(300);

    // After Redis returns, delivery goes through pub/sub again (in process on one node), not only through
    // the database. The reader's subscriber connection may come back a little after the writer's
    // publisher (whatever it misses meanwhile is repaired), so send markers until one arrives that way.
    const tail = reader.server.services.readingsTail;
    const batchesBefore = tail.stats[via];
    let delivered = 300;
    for (let attempt = 0; attempt < 50 && tail.stats[via] === batchesBefore; attempt++) {
      await writer.mutate(IngestReadingsDocument, { readings: [heartRate('bed-r', 70, second++)] });
      delivered++;
      await live.results.until((items) => flatten(items).length === delivered, 'a reading after the outage');
    }
    expect(tail.stats[via]).toBeGreaterThan(batchesBefore);
    await live.close();
  });
});
