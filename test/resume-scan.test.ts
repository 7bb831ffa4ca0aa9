import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readingStoredAfter } from '../src/db/readings.js';
import { ownStoredAfter } from '../src/db/seq-order.js';
import { IngestReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { startTestApp, type TestApp } from './support/app.js';
import { patients, reading } from './support/fixtures.js';

// A read key's resume is judged by where its own replay begins (schema/live.ts resumePoint). Finding that took a
// scan of every stored row after its cursor when the key's tenant had none: a reconnection with an old cursor, or
// many, kept the database busy (462 ms each, tenant-wide readings after cursor 1 over 3 million rows).
describe.each(primaryBackends)('the resume check of a read key on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
  });
  afterAll(() => app?.close());

  // Row g stored at g seconds past 2026-01-01; every seventh is the subscription's own.
  const rowsOf = (count: number) =>
    sql`(select g::int8 as seq, timestamptz '2026-01-01T00:00:00Z' + g * interval '1 second' as at, g % 7 = 0 as mine from generate_series(1, ${count}) g) t`;
  const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));
  const first = (count: number, after: bigint, scanRows: number) =>
    ownStoredAfter(app.server.services.database.db, { from: rowsOf(count), seq: sql`seq`, storedAt: sql`at`, own: sql`mine` }, after, scanRows);

  it('answers its own first row within the rows it may read, the last of them when none is its own, and null past the end', async () => {
    expect(await first(100, 0n, 10)).toEqual(at(7));
    expect(await first(100, 7n, 10)).toEqual(at(14));
    // None of rows 1-5 is its own: row 5 stands in, stored no later than its own first (7).
    expect(await first(100, 0n, 5)).toEqual(at(5));
    // Fewer rows left than it may read, none its own: no replay at all.
    expect(await first(100, 98n, 10)).toBeNull();
    expect(await first(0, 0n, 10)).toBeNull();
  });

  it("judges a tenant-wide readings replay by the tenant's own first reading, or by the last row it may read", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('scan-a', 'scan-b') });
    const [{ cursor }] = (await app.sql<{ cursor: string }>(sql`select last::text as cursor from stream_offsets where stream = 'readings'`)) as [{ cursor: string }];
    await app.mutate(IngestReadingsDocument, { readings: Array.from({ length: 20 }, (_, i) => reading('scan-a', 'heart_rate', 70, i)) });
    await app.mutate(IngestReadingsDocument, { readings: [reading('scan-b', 'heart_rate', 71, 100)] });
    const { db } = app.server.services.database;
    const storedAt = async (sourceId: string, nth = 0) =>
      new Date(
        Number(
          (await app.sql<{ at: string }>(sql`select extract(epoch from received_at) * 1000 as at from readings where source_id = ${sourceId} order by seq offset ${nth} limit 1`))[0]!.at,
        ),
      );
    const after = BigInt(cursor);
    expect(await readingStoredAfter(db, after, { sourceIds: ['scan-b'] }, 100)).toEqual(await storedAt('scan-b'));
    expect(await readingStoredAfter(db, after, { sourceIds: ['scan-b'] }, 5)).toEqual(await storedAt('scan-a', 4));
    expect(await readingStoredAfter(db, after, { sourceIds: ['nobody'] }, 100)).toBeNull();
  });
});
