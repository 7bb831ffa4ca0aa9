import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestReadingsDocument, LiveReadingsDocument, ReadingsPageDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import type { Executor } from '../src/db/client.js';
import { abandonDeadClaims, CLAIM_FIRST_FROM, claimCursors, committedOffset, insertClaimed } from '../src/db/offsets.js';
import { insertReadingsSql, READINGS_STREAM } from '../src/db/readings.js';
import { DEFAULT_TENANT } from '../src/db/schema.js';
import { primaryBackends } from './support/backends.js';
import { directConnection, sql, startTestApp, type TestApp } from './support/app.js';
import { heartRate, patients, T0 } from './support/fixtures.js';
import { waitFor } from './support/live.js';

/**
 * With PARALLEL_INGEST on the PostgreSQL pool, large batches of a stream claim
 * their cursors first and insert in parallel, so they may commit out of
 * cursor order (db/offsets.ts).
 * These tests hold a claim open from a connection of their own, as a slow or
 * dead writer would, and check what readers, subscribers and writers see.
 */
describe.each(primaryBackends.filter((b) => b.database === 'postgres'))('cursor claims on $name', (backend) => {
  let app: TestApp;
  const writers: postgres.Sql[] = [];
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { PARALLEL_INGEST: 'on', LIVE_POLL_INTERVAL: '100ms' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('claim-1', 'claim-2', 'claim-3', 'claim-4', 'claim-5') });
  });
  afterAll(async () => {
    await Promise.all(writers.map((w) => w.end()));
    await app?.close();
  });

  /** A writer on its own connection (another node, say), in the app's schema. */
  const writer = () => {
    const client = directConnection(app.config.database.driver === 'postgres' ? app.config.database.schema : '');
    writers.push(client);
    return { client, db: drizzle(client) as unknown as Executor };
  };
  const committed = () => committedOffset(app.server.services.database.db, READINGS_STREAM);
  const rowsOf = (sourceId: string, values: number[], second: number) =>
    values.map((value, i) => ({ sourceId, metric: 'heart_rate', time: new Date(T0 + (second + i) * 1000), value, unit: '/min', quality: 'GOOD' as const }));
  const storedCursors = async (sourceId: string) =>
    (await app.sql<{ seq: string }>(sql`select seq::text as seq from readings where source_id = ${sourceId} order by readings.seq`)).map((r) => r.seq);

  it('keeps a batch committed after an open claim from readers, subscribers and its own answer until that claim is stored', async () => {
    const live = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['claim-1'] });
    const slow = writer();
    const base = await claimCursors(slow.db, READINGS_STREAM, 2);

    let answered = false;
    // Large enough to claim first and insert in parallel itself.
    const batch = Array.from({ length: CLAIM_FIRST_FROM }, (_, i) => heartRate('claim-1', 70 + (i % 20), 10 + i));
    const ingest = app.mutate(IngestReadingsDocument, { readings: batch }).finally(() => (answered = true));
    // The batch is committed (its rows are in the table) but sits above the open claim.
    await waitFor(async () => (await storedCursors('claim-1')).length === batch.length, 'the batch to be committed');
    expect(await committed()).toBe(base);
    const page = await app.mutate(ReadingsPageDocument, { sourceIds: ['claim-1'], first: 1000 });
    expect(page.readings.edges).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    expect(live.results.items).toEqual([]);

    const stored = await insertClaimed(slow.db, READINGS_STREAM, base, 2, insertReadingsSql(rowsOf('claim-1', [60, 61], 0), DEFAULT_TENANT, Date.now()));
    expect(stored).toEqual({ base, inserted: null });
    const { ingestReadings } = await ingest;
    const end = base + 2n + BigInt(batch.length);
    expect(ingestReadings).toMatchObject({ accepted: batch.length, lastCursor: String(end) });
    expect(await committed()).toBeGreaterThanOrEqual(end);

    // Everyone sees them all in cursor order: the claimed two first, though they committed last.
    const expected = [60, 61, ...batch.map((r) => r.value)];
    const items = await live.results.until((r) => r.flatMap((x) => x.data!.readings).length >= expected.length, 'every reading');
    expect(items.flatMap((x) => x.data!.readings.map((r) => r.value))).toEqual(expected);
    const after = await app.mutate(ReadingsPageDocument, { sourceIds: ['claim-1'], first: 1000 });
    expect(after.readings.edges.map((e) => e.node.value)).toEqual(expected);
    expect(await storedCursors('claim-1')).toEqual(expected.map((_, i) => String(base + BigInt(i + 1))));
    await live.close();
  });

  it('abandons the claim of a writer whose connection died, so readers move past it, and refuses its late insert', async () => {
    const live = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['claim-2'] });
    const dying = writer();
    const base = await claimCursors(dying.db, READINGS_STREAM, 4);
    const ingest = app.mutate(IngestReadingsDocument, { readings: [heartRate('claim-2', 80, 1), heartRate('claim-2', 81, 2)] });
    await waitFor(async () => (await storedCursors('claim-2')).length === 2, 'the batch to be committed');
    expect(await committed()).toBe(base);

    await dying.client.end();
    // The server's sweep (every second) sees the claiming backend gone.
    const { ingestReadings } = await ingest;
    expect(ingestReadings.lastCursor).toBe(String(base + 6n));
    expect(await committed()).toBeGreaterThanOrEqual(base + 6n);
    const items = await live.results.until((r) => r.length > 0, 'the batch');
    expect(items.flatMap((x) => x.data!.readings.map((r) => r.cursor))).toEqual([String(base + 5n), String(base + 6n)]);
    expect(app.server.services.claims.abandoned).toBeGreaterThanOrEqual(1);

    // The writer comes back with its old claim: nothing is stored under it.
    const late = writer();
    expect(await insertClaimed(late.db, READINGS_STREAM, base, 4, insertReadingsSql(rowsOf('claim-2', [1, 2, 3, 4], 100), DEFAULT_TENANT, Date.now()))).toBeNull();
    expect(await storedCursors('claim-2')).toEqual([String(base + 5n), String(base + 6n)]);
    await live.close();
  });

  it('delivers large batches stored in parallel once each, in cursor order, and answers each only once all before it are visible', async () => {
    const live = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['claim-3'] });
    const start = await committed();
    let second = 0;
    const answers: { lastCursor: bigint; committedThen: bigint }[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let b = 0; b < 5; b++) {
          const readings = Array.from({ length: CLAIM_FIRST_FROM }, () => heartRate('claim-3', 60 + (second % 40), second++));
          const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings });
          answers.push({ lastCursor: BigInt(ingestReadings.lastCursor!), committedThen: await committed() });
        }
      }),
    );
    for (const a of answers) expect(a.committedThen).toBeGreaterThanOrEqual(a.lastCursor);
    const total = 4 * 5 * CLAIM_FIRST_FROM;
    const items = await live.results.until((r) => r.flatMap((x) => x.data!.readings).length >= total, `${total} readings`);
    const delivered = items.flatMap((x) => x.data!.readings.map((r) => r.cursor));
    expect(delivered).toEqual(await storedCursors('claim-3'));
    expect(delivered).toEqual(Array.from({ length: total }, (_, i) => String(start + BigInt(i + 1))));
    await live.close();
  });

  it('stores batches racing each other with the same new rows in opposite orders once each, failing neither', async () => {
    // Inserting in parallel, each waits for the other's rows: PostgreSQL aborts one to break the deadlock.
    for (let round = 0; round < 5; round++) {
      const readings = Array.from({ length: 1_000 }, (_, i) => heartRate('claim-4', 60 + (i % 40), round * 1_000 + i));
      const results = await Promise.allSettled([readings, [...readings].reverse()].map((batch) => app.mutate(IngestReadingsDocument, { readings: batch })));
      const answers = results.map((r) => (r.status === 'fulfilled' ? r.value.ingestReadings : String(r.reason)));
      expect({ round, answers }).toEqual({
        round,
        answers: [expect.objectContaining({ rejected: 0 }), expect.objectContaining({ rejected: 0 })],
      });
      const counted = answers as { accepted: number; duplicates: number }[];
      expect({ round, accepted: counted[0]!.accepted + counted[1]!.accepted, duplicates: counted[0]!.duplicates + counted[1]!.duplicates }).toEqual({
        round,
        accepted: 1_000,
        duplicates: 1_000,
      });
    }
    expect(await storedCursors('claim-4')).toHaveLength(5_000);
  });

  it('stores a batch with a rejected item racing a clean batch of the same new rows in the opposite order, failing neither', async () => {
    // The batch with a rejected item is stored in a transaction with its dead letter (under the stream's lock), the
    // clean one claims first and inserts in parallel: each waits for the other's rows, and PostgreSQL aborts one.
    for (let round = 0; round < 5; round++) {
      const readings = Array.from({ length: 1_000 }, (_, i) => heartRate('claim-5', 60 + (i % 40), round * 1_000 + i));
      const withRejected = [...readings.slice().reverse(), { ...heartRate('claim-5', 70, round * 1_000), metric: 'no_such_metric' }];
      const results = await Promise.allSettled([readings, withRejected].map((batch) => app.mutate(IngestReadingsDocument, { readings: batch })));
      const answers = results.map((r) => (r.status === 'fulfilled' ? r.value.ingestReadings : String(r.reason)));
      expect({ round, answers }).toEqual({
        round,
        answers: [expect.objectContaining({ rejected: 0 }), expect.objectContaining({ rejected: 1 })],
      });
    }
    expect(await storedCursors('claim-5')).toHaveLength(5_000);
  });

  it('abandons a claim open longer than allowed even while its backend lives, and only such claims', async () => {
    const { db } = writer();
    const old = await claimCursors(db, READINGS_STREAM, 3);
    expect(await abandonDeadClaims(app.server.services.database.db, 60_000)).toEqual([]);
    expect(await committed()).toBe(old);
    expect(await abandonDeadClaims(app.server.services.database.db, 0)).toEqual([{ stream: READINGS_STREAM, base: old, count: 3, reason: 'expired' }]);
    expect(await committed()).toBeGreaterThanOrEqual(old + 3n);
  });
});
