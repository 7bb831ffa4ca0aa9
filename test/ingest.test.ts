import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeadLettersDocument, HistoryDocument, IngestReadingsDocument, IngestTradesDocument, MetricsDocument, ReadingsPageDocument, RegisterSourcesDocument, SourcesDocument, type ReadingInput } from '../src/generated/graphql.js';
import { CLAIM_FIRST_FROM, ConflictAwareInserts, SKIP_AFTER_CONFLICT } from '../src/db/offsets.js';
import { SourceRegistry } from '../src/ingest/source-registry.js';
import { retireSources } from '../src/db/sources.js';
import { primaryBackends } from './support/backends.js';
import { directConnection, sql, startTestApp, type TestApp } from './support/app.js';
import { waitFor } from './support/live.js';
import { at, heartRate, patients, reading, T0 } from './support/fixtures.js';

interface StoredRow {
  source_id: string;
  metric: string;
  value: number;
  quality: string;
  unit: string;
}

describe.each(primaryBackends)('ingest on $name', (backend) => {
  let app: TestApp;
  const snapshot = () =>
    app.sql<StoredRow & { time: string }>(sql`select source_id, metric, time::text, value, quality, unit from readings order by source_id, metric, time`);

  beforeAll(async () => {
    app = await startTestApp(backend, { env: { MAX_BATCH: '50' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('icu-1', 'icu-2') });
  });
  afterAll(() => app?.close());

  it('stores the valid items of a mixed batch and names each problem of the others by index, field and code', async () => {
    const batch: ReadingInput[] = [
      heartRate('icu-1', 80, 1),
      { sourceId: 'ghost-bed', metric: 'heart_rate', time: at(1), value: 80 },
      { sourceId: 'icu-1', metric: 'heart_rat', time: at(2), value: 80 },
      { sourceId: 'icu-1', metric: 'spo2', time: 'yesterday', value: 97 },
      { sourceId: 'icu-1', metric: 'spo2', time: '2026-11-20T08:00:03', value: 97 },
      { sourceId: 'icu-1', metric: 'temperature', time: at(4), value: 98.6, unit: '°F' },
      { sourceId: 'icu-1', metric: 'spo2', time: '1970-01-01T00:00:00Z', value: 97 },
      { sourceId: 'icu-1', metric: 'spo2', time: '2999-01-01T00:00:00Z', value: 97 },
      { sourceId: "icu-1'; drop table readings;--", metric: 'spo2', time: at(5), value: 97 },
      { sourceId: '', metric: 'spo2', time: at(5), value: 97 },
      reading('icu-2', 'spo2', 96, 6),
    ];
    const { ingestReadings: result } = await app.mutate(IngestReadingsDocument, { readings: batch });

    expect(result).toMatchObject({ accepted: 2, duplicates: 0, rejected: 9 });
    expect(result.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [1, 'sourceId', 'UNKNOWN_SOURCE'],
      [2, 'metric', 'UNKNOWN_METRIC'],
      [3, 'time', 'INVALID_TIME'],
      [4, 'time', 'INVALID_TIME'],
      [5, 'unit', 'UNIT_MISMATCH'],
      [6, 'time', 'TIME_OUT_OF_RANGE'],
      [7, 'time', 'TIME_OUT_OF_RANGE'],
      [8, 'sourceId', 'INVALID_SOURCE_ID'],
      [9, 'sourceId', 'INVALID_SOURCE_ID'],
    ]);
    for (const error of result.errors) expect(error.message.length).toBeGreaterThan(10);
    // Each names what was sent, so the bad one is found among a thousand.
    expect(result.errors.find((e) => e.index === 3)!.message).toMatch(/; got "yesterday"$/);
    expect(result.errors.find((e) => e.index === 4)!.message).toMatch(/; got "2026-11-20T08:00:03"$/);
    expect(result.errors.find((e) => e.index === 8)!.message).toMatch(/; got "icu-1'; drop table readings;--"$/);
    expect((await snapshot()).map((r) => [r.source_id, r.metric, r.value])).toEqual([
      ['icu-1', 'heart_rate', 80],
      ['icu-2', 'spo2', 96],
    ]);
  });

  it('keeps each rejected item as a dead letter with its errors and caller', async () => {
    const { deadLetters } = await app.mutate(DeadLettersDocument, { stream: 'readings', first: 20 });
    expect(deadLetters.edges).toHaveLength(9);
    const ghost = deadLetters.edges.map((e) => e.node).find((n) => (n.item as { sourceId?: string }).sourceId === 'ghost-bed');
    expect(ghost).toMatchObject({ stream: 'readings', caller: expect.stringContaining('anonymous@') });
    expect(ghost!.errors).toEqual([expect.objectContaining({ code: 'UNKNOWN_SOURCE', index: 1 })]);
  });

  it('refuses a retired metric in new readings, naming what to send instead, and keeps the readings stored under it readable', async () => {
    // price: from before trades had a mutation of their own.
    const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: [reading('icu-2', 'price', 101.5, 40)] });
    expect(ingestReadings.errors).toEqual([
      expect.objectContaining({ index: 0, field: 'metric', code: 'UNKNOWN_METRIC', message: 'metric "price" is no longer taken in readings: prices are trades, sent with ingestTrades for an INSTRUMENT source' }),
    ]);
    expect((await app.mutate(MetricsDocument, {})).metrics.map((m) => m.name)).not.toContain('price');
    // One stored by an earlier version is still read, by page and in history, and is the source's latest price.
    await app.sql(sql`with next as (update stream_offsets set last = last + 1 where stream = 'readings' returning last)
      insert into readings (source_id, metric, time, value, unit, quality, seq, tenant_id) select 'icu-2', 'price', ${at(41)}::timestamptz, 99.5, 'price', 'GOOD', last, 'default' from next`);
    const { readings } = await app.mutate(ReadingsPageDocument, { sourceIds: ['icu-2'], metrics: ['price'] });
    expect(readings.edges.map((e) => [e.node.metric, e.node.value])).toEqual([['price', 99.5]]);
    const { history } = await app.mutate(HistoryDocument, { sourceId: 'icu-2', metric: 'price', from: at(0), to: at(120), bucket: '1m' });
    expect(history.map((b) => b.value)).toEqual([99.5]);
    const { sources } = await app.mutate(SourcesDocument, { ids: ['icu-2'] });
    expect(sources.edges[0]!.node.latest.find((r) => r.metric === 'price')?.value).toBe(99.5);
  });

  it('stores out-of-range values flagged SUSPECT and keeps a sender\'s own flag', async () => {
    await app.mutate(IngestReadingsDocument, {
      readings: [heartRate('icu-2', 400, 10), heartRate('icu-2', -1, 11), { ...heartRate('icu-2', 70, 12), quality: 'BAD' }, heartRate('icu-2', 70, 13)],
    });
    const rows = await app.sql<StoredRow>(sql`select value, quality, unit from readings where source_id = 'icu-2' and metric = 'heart_rate' order by time`);
    expect(rows.map((r) => [r.value, r.quality, r.unit])).toEqual([
      [400, 'SUSPECT', '/min'],
      [-1, 'SUSPECT', '/min'],
      [70, 'BAD', '/min'],
      [70, 'GOOD', '/min'],
    ]);
    // ACVPU is a code: 0.4 is no level of consciousness, so it is stored SUSPECT, and NEWS2 leaves it out.
    const acvpu = (value: number, second: number) => ({ ...heartRate('icu-2', value, second), metric: 'consciousness' });
    await app.mutate(IngestReadingsDocument, { readings: [acvpu(0.4, 20), acvpu(3, 21)] });
    const codes = await app.sql<StoredRow>(sql`select value, quality, unit from readings where source_id = 'icu-2' and metric = 'consciousness' order by time`);
    expect(codes.map((r) => [r.value, r.quality, r.unit])).toEqual([
      [0.4, 'SUSPECT', 'ACVPU'],
      [3, 'GOOD', 'ACVPU'],
    ]);
  });

  it('stores a retried batch once and never changes an accepted value', async () => {
    const batch = [heartRate('icu-1', 90, 100), heartRate('icu-1', 91, 101), heartRate('icu-1', 91, 101)];
    const first = await app.mutate(IngestReadingsDocument, { readings: batch });
    expect(first.ingestReadings).toMatchObject({ accepted: 2, duplicates: 1 });
    const before = await snapshot();

    const retry = await app.mutate(IngestReadingsDocument, { readings: batch });
    expect(retry.ingestReadings).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0 });
    const changed = await app.mutate(IngestReadingsDocument, { readings: [heartRate('icu-1', 150, 100)] });
    expect(changed.ingestReadings).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await snapshot()).toEqual(before);
  });

  it('rejects a batch above MAX_BATCH whole, with a code, storing nothing', async () => {
    const before = await snapshot();
    const batch = Array.from({ length: 51 }, (_, i) => heartRate('icu-1', 70, 1_000 + i));
    const response = await app.request(IngestReadingsDocument, { readings: batch });
    expect(response.errors?.[0]).toMatchObject({
      message: expect.stringContaining('exceeds the maximum of 50'),
      extensions: { code: 'BATCH_TOO_LARGE', maxBatch: 50 },
    });
    expect(await snapshot()).toEqual(before);
  });

  it('rejects wrongly typed input at the GraphQL layer, naming the item, and stores nothing', async () => {
    const before = await snapshot();
    const response = await app.request(IngestReadingsDocument, {
      readings: [heartRate('icu-1', 70, 2_000), { ...heartRate('icu-1', 70, 2_001), value: 'seventy' as unknown as number }],
    });
    expect(response.errors?.[0]?.message).toMatch(/readings.*1.*value|value.*seventy/s);
    expect(await snapshot()).toEqual(before);
  });

  it('stores each time to the millisecond it was sent, an offset time as the same instant', async () => {
    const times = ['2026-11-20T08:10:00.001Z', '2026-11-20T08:10:00.999Z', '2026-11-20T09:10:01.5+01:00', '2026-11-20T08:10:02.123456Z'];
    const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: times.map((time, i) => ({ sourceId: 'icu-2', metric: 'spo2', time, value: 90 + i })) });
    expect(ingestReadings).toMatchObject({ accepted: 4, rejected: 0 });
    const stored = await app.sql<{ ms: number }>(
      sql`select (extract(epoch from time) * 1000)::float8 as ms from readings where source_id = 'icu-2' and value >= 90 and value < 94 order by value`,
    );
    // Sub-millisecond digits are cut to the millisecond (JavaScript's Date), never rounded up into another instant.
    expect(stored.map((r) => Number(r.ms))).toEqual([Date.parse(times[0]!), Date.parse(times[1]!), Date.parse('2026-11-20T08:10:01.500Z'), Date.parse('2026-11-20T08:10:02.123Z')]);
  });

  it('answers an empty batch with zero counts', async () => {
    const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: [] });
    expect(ingestReadings).toEqual({ accepted: 0, duplicates: 0, rejected: 0, lastCursor: null, errors: [] });
  });
});

describe.each(primaryBackends)('large batches on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { MAX_BATCH: '20000' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('big-1') });
  });
  afterAll(() => app?.close());

  it('keeps every rejected item of a batch above 16k items (past the 65,535-parameter limit) and pages them from cursor 0', async () => {
    const batch = Array.from({ length: 20_000 }, (_, i) => ({ ...heartRate('big-1', 70, i), metric: 'not_a_metric' }));
    const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: batch });
    expect(ingestReadings).toMatchObject({ accepted: 0, rejected: 20_000 });
    const [{ n } = { n: 0 }] = await app.sql<{ n: number }>(sql`select count(*)::int as n from dead_letters`);
    expect(n).toBe(20_000);
    // "0" is a cursor before every id, not "no cursor".
    const { deadLetters } = await app.mutate(DeadLettersDocument, { stream: 'readings', first: 5, after: '0' });
    expect(deadLetters.edges).toHaveLength(0);
  }, 60_000);
});

describe.each(primaryBackends)('trade ingest on $name', (backend) => {
  let app: TestApp;
  const stored = () => app.sql<{ symbol: string; time: string; price: number; size: number }>(sql`select symbol, time::text, price, size from trades order by symbol, time`);
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { MAX_BATCH: '50' } });
  });
  afterAll(() => app?.close());

  it('stores valid trades, names each problem of the others, and stores a retried batch once', async () => {
    const good = [
      { symbol: 'BTC-USD', time: at(1), price: 64_000.5, size: 0.25 },
      { symbol: 'XNAS:MSFT', time: at(1), price: 410.1, size: 100 },
    ];
    const { ingestTrades } = await app.mutate(IngestTradesDocument, {
      trades: [
        ...good,
        { symbol: 'bad symbol!', time: at(2), price: 1, size: 1 },
        { symbol: 'AAPL', time: at(2), price: 0, size: 1 },
        { symbol: 'AAPL', time: at(3), price: 190, size: -5 },
        { symbol: 'AAPL', time: 'yesterday', price: 190, size: 5 },
        { symbol: 'AAPL', time: '1999-12-31T23:59:59Z', price: 190, size: 5 },
      ],
    });
    expect(ingestTrades).toMatchObject({ accepted: 2, duplicates: 0, rejected: 5 });
    expect(ingestTrades.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [2, 'symbol', 'INVALID_SYMBOL'],
      [3, 'price', 'INVALID_PRICE'],
      [4, 'size', 'INVALID_SIZE'],
      [5, 'time', 'INVALID_TIME'],
      [6, 'time', 'TIME_OUT_OF_RANGE'],
    ]);
    expect(ingestTrades.errors[0]!.message).toMatch(/; got "bad symbol!"$/);
    const before = await stored();
    expect(before).toHaveLength(2);
    const ms = await app.sql<{ ms: number }>(sql`select (extract(epoch from time) * 1000)::float8 as ms from trades order by symbol`);
    expect(ms.map((r) => Number(r.ms))).toEqual([Date.parse(at(1)), Date.parse(at(1))]);

    const retry = await app.mutate(IngestTradesDocument, { trades: [...good, { ...good[0]!, price: 1 }] });
    expect(retry.ingestTrades).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0, lastCursor: null });
    expect(await stored()).toEqual(before);
    const { deadLetters } = await app.mutate(DeadLettersDocument, { stream: 'trades', first: 10 });
    expect(deadLetters.edges).toHaveLength(5);
  });

  it("refuses a trade on one of the tenant's patients: a patient is not an instrument", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('trade-bed-1') });
    const before = await stored();
    const { ingestTrades } = await app.mutate(IngestTradesDocument, {
      trades: [
        { symbol: 'trade-bed-1', time: at(300), price: 10, size: 1 },
        { symbol: 'SOL-USD', time: at(300), price: 150, size: 2 },
      ],
    });
    expect(ingestTrades).toMatchObject({ accepted: 1, rejected: 1 });
    expect(ingestTrades.errors).toEqual([
      expect.objectContaining({ index: 0, field: 'symbol', code: 'UNKNOWN_SOURCE', message: 'symbol "trade-bed-1" is one of your sources but not an instrument (registered as another kind)' }),
    ]);
    expect((await stored()).length).toBe(before.length + 1);
  });

  it('keeps patients and instruments apart: no kind change between them, and no readings for an instrument', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [...patients('kind-bed-1'), { id: 'KIND-X', kind: 'INSTRUMENT', name: 'Kind X' }] });
    // A patient turned instrument took trades and vanished from the ward; the reverse took readings.
    for (const [id, kind] of [['kind-bed-1', 'INSTRUMENT'], ['KIND-X', 'PATIENT']] as const) {
      const refused = await app.request(RegisterSourcesDocument, { sources: [{ id, kind, name: 'renamed' }] });
      expect(refused.errors?.[0]).toMatchObject({
        message: expect.stringMatching(new RegExp(`^sources\\[0\\]\\.kind: "${id}" is registered as (PATIENT|INSTRUMENT); .*register it under an id of its own$`)),
        extensions: { code: 'BAD_USER_INPUT', field: 'kind', sourceId: id },
      });
    }
    const kinds = await app.sql<{ id: string; kind: string; name: string }>(sql`select id, kind, name from sources where id in ('kind-bed-1', 'KIND-X') order by id`);
    expect(kinds).toEqual([
      { id: 'KIND-X', kind: 'INSTRUMENT', name: 'Kind X' },
      { id: 'kind-bed-1', kind: 'PATIENT', name: 'Patient kind-bed-1' },
    ]);
    // A patient's monitor re-registered as a device, and renamed: allowed.
    const { registerSources } = await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'kind-bed-1', kind: 'DEVICE', name: 'Monitor 1' }] });
    expect(registerSources).toMatchObject([{ id: 'kind-bed-1', kind: 'DEVICE', name: 'Monitor 1' }]);

    const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: [heartRate('KIND-X', 80, 400), heartRate('kind-bed-1', 80, 400)] });
    expect(ingestReadings).toMatchObject({ accepted: 1, rejected: 1 });
    expect(ingestReadings.errors).toEqual([
      expect.objectContaining({ index: 0, field: 'sourceId', code: 'UNKNOWN_SOURCE', message: 'source "KIND-X" is an instrument: send its trades with ingestTrades; readings are for patients and devices' }),
    ]);
  });

  it('registers an instrument under any symbol ingestTrades takes, such as the pair EUR/USD; other kinds keep source ids', async () => {
    const { registerSources } = await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'REG-EUR/USD', kind: 'INSTRUMENT', name: 'Euro / US dollar' }] });
    expect(registerSources).toMatchObject([{ id: 'REG-EUR/USD', kind: 'INSTRUMENT', name: 'Euro / US dollar' }]);
    const { ingestTrades } = await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'REG-EUR/USD', time: at(500), price: 1.08, size: 1_000 }] });
    expect(ingestTrades).toMatchObject({ accepted: 1, rejected: 0 });
    const refused = await app.request(RegisterSourcesDocument, { sources: [{ id: 'ward/1', kind: 'PATIENT', name: 'Ward 1' }] });
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^sources\[0\]\.id "ward\/1" is not a valid source id: it must be 1-128 characters/), extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
    // Longer than any symbol a trade may name: an instrument nothing could ever trade.
    const untradeable = await app.request(RegisterSourcesDocument, { sources: [{ id: `REG-${'X'.repeat(40)}`, kind: 'INSTRUMENT', name: 'Too long' }] });
    expect(untradeable.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^sources\[0\]\.id "REG-X+" is not a valid instrument symbol: it must be 1-32 characters/), extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
  });

  it('answers registerSources and retireSources in the order asked, each source with its latest readings', async () => {
    const ids = ['order-c', 'order-a', 'order-b'];
    // Written here, not in documents/: latest over the 10,000 sources a call may name costs more than MAX_QUERY_COST.
    type Answered = { id: string; latest: { metric: string; value: number }[] }[];
    const post = async <K extends string>(query: string, variables: Record<string, unknown>) =>
      ((await (await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json()) as { data: Record<K, Answered> }).data;
    const register = async () =>
      (await post<'registerSources'>('mutation($s: [SourceInput!]!) { registerSources(sources: $s) { id latest { metric value } } }', { s: ids.map((id) => ({ id, kind: 'PATIENT', name: `Bed ${id}` })) }))
        .registerSources;
    expect((await register()).map((s) => [s.id, s.latest])).toEqual([['order-c', []], ['order-a', []], ['order-b', []]]);
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('order-a', 81, 500), heartRate('order-a', 83, 501)] });
    // Renamed, or readmitted: the answer shows what the source has reported, as sources does (it was always empty).
    const again = await register();
    expect(again.map((s) => s.id)).toEqual(ids);
    expect(again[1]!.latest).toEqual([{ metric: 'heart_rate', value: 83 }]);
    const retired = (await post<'retireSources'>('mutation($ids: [ID!]!) { retireSources(ids: $ids) { id latest { metric value } } }', { ids: ['order-b', 'order-a'] })).retireSources;
    expect(retired.map((s) => [s.id, s.latest])).toEqual([['order-b', []], ['order-a', [{ metric: 'heart_rate', value: 83 }]]]);
  });

  it('decides a registration racing a trade that claims the same id in the database: both nodes agree on its kind', async () => {
    const { db } = app.server.services.database;
    // Two nodes' registries: one registering a patient, the other claiming the id as a symbol traded.
    const [ward, desk] = [new SourceRegistry(db), new SourceRegistry(db)];
    for (let round = 0; round < 40; round++) {
      const id = `race-${round}`;
      const [registered, instruments] = await Promise.all([
        ward.register([{ id, kind: 'PATIENT', name: id }], 'default'),
        desk.claim([id], 'default', 'INSTRUMENT').then((owned) => desk.instrumentsAmong(owned)),
      ]);
      const [row] = await app.sql<{ kind: string }>(sql`select kind from sources where id = ${id}`);
      expect({ round, kind: row!.kind, desk: instruments.has(id) ? 'INSTRUMENT' : 'PATIENT' }).toEqual({ round, kind: row!.kind, desk: row!.kind });
      expect({ round, stored: registered.stored.length === 1 }).toEqual({ round, stored: row!.kind === 'PATIENT' });
    }
  });

  it('runs registrations, retirements and trade claims naming the same ids in different orders at once, failing none', async () => {
    const { db } = app.server.services.database;
    // Four nodes' registries, so nothing is served from one node's cache.
    const [ward, clinic, desk, exchange] = [new SourceRegistry(db), new SourceRegistry(db), new SourceRegistry(db), new SourceRegistry(db)];
    for (let round = 0; round < 10; round++) {
      const ids = Array.from({ length: 300 }, (_, i) => `lock-${round}-${String(i).padStart(3, '0')}`);
      const symbols = ids.map((id) => `${id}-sym`);
      const backwards = <T>(list: T[]) => [...list].reverse();
      await ward.register(ids.map((id) => ({ id, kind: 'PATIENT', name: id })), 'default');
      const settled = await Promise.allSettled([
        ward.register(ids.map((id) => ({ id, kind: 'PATIENT', name: `${id} ward` })), 'default'),
        clinic.register(backwards(ids).map((id) => ({ id, kind: 'DEVICE', name: `${id} clinic` })), 'default'),
        retireSources(db, backwards(ids), 'default'),
        desk.claim(symbols, 'default', 'INSTRUMENT'),
        exchange.claim(backwards(symbols), 'default', 'INSTRUMENT'),
      ]);
      expect({ round, failed: settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : [])) }).toEqual({ round, failed: [] });
      const [counts] = await app.sql<{ sources: number; instruments: number }>(
        sql`select count(*) filter (where kind <> 'INSTRUMENT')::int as sources, count(*) filter (where kind = 'INSTRUMENT')::int as instruments
            from sources where id like ${`lock-${round}-%`}`,
      );
      expect({ round, ...counts }).toEqual({ round, sources: 300, instruments: 300 });
    }
  });

  it.skipIf(backend.database !== 'postgres')('answers an operation the database aborted in a deadlock with UNAVAILABLE, to retry, not an internal error', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dl-a', 'dl-b') });
    const schema = app.config.database.driver === 'postgres' ? app.config.database.schema : '';
    const other = directConnection(schema);
    try {
      let answer: Promise<Awaited<ReturnType<typeof app.request>>> | undefined;
      await other.begin(async (tx) => {
        // Ours waits long enough that the server's statement is the one PostgreSQL aborts.
        await tx`set local deadlock_timeout = '10s'`;
        await tx`select 1 from sources where id = 'dl-b' for update`;
        // The registration locks dl-a, then waits for dl-b; this transaction then waits for dl-a.
        answer = app.request(RegisterSourcesDocument, { sources: patients('dl-a', 'dl-b').map((s) => ({ ...s, name: `${s.name} again` })) });
        await waitFor(async () => (await tx`select count(*)::int as n from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))`)[0]!.n > 0, 'the registration to wait for this transaction');
        await tx`select 1 from sources where id = 'dl-a' for update`;
      });
      const { errors } = await answer!;
      expect(errors?.[0]).toMatchObject({ message: expect.stringMatching(/conflict with another .*; retry it$/), extensions: { code: 'UNAVAILABLE', sqlState: '40P01' } });
      // Nothing of it was stored, and sent again it is.
      expect((await app.sql<{ name: string }>(sql`select name from sources where id in ('dl-a', 'dl-b') order by id`)).map((r) => r.name)).toEqual(['Patient dl-a', 'Patient dl-b']);
      await app.mutate(RegisterSourcesDocument, { sources: patients('dl-a', 'dl-b').map((s) => ({ ...s, name: `${s.name} again` })) });
    } finally {
      await other.end();
    }
  });

  /** Runs `body` while every insert into `table` raises `message` with the SQLSTATE named `errcode`, as PostgreSQL would. */
  const whileInsertsRaise = async (table: string, errcode: string, message: string, body: () => Promise<void>) => {
    await app.sql(sql.raw(`create function refuse_insert() returns trigger language plpgsql as $$ begin raise exception '${message}' using errcode = '${errcode}'; end $$`));
    await app.sql(sql.raw(`create trigger refuse_insert before insert on ${table} for each row execute function refuse_insert()`));
    try {
      await body();
    } finally {
      await app.sql(sql.raw(`drop trigger if exists refuse_insert on ${table}`));
      await app.sql(sql.raw('drop function if exists refuse_insert()'));
    }
  };

  it('answers an ingest the database cannot store for want of disk space with UNAVAILABLE, to retry, and stores it sent again; another mutation as maybe partly applied', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('full-1') });
    // PostgreSQL's own disk_full (SQLSTATE 53100), raised where the write of a full disk fails. It reached the
    // client as INTERNAL_SERVER_ERROR "Unexpected error.", which a feed drops its readings on.
    await whileInsertsRaise('readings', 'disk_full', 'could not extend file: No space left on device', async () => {
      const { errors } = await app.request(IngestReadingsDocument, { readings: [heartRate('full-1', 70, 7_000)] });
      expect(errors?.[0]).toMatchObject({
        message: 'the database is short of a resource (could not extend file: No space left on device): nothing of this operation was stored; retry it once that is freed',
        extensions: { code: 'UNAVAILABLE', retryable: true, sqlState: '53100' },
      });
    });
    const again = await app.mutate(IngestReadingsDocument, { readings: [heartRate('full-1', 70, 7_000)] });
    expect(again.ingestReadings).toMatchObject({ accepted: 1, duplicates: 0 });

    // Another mutation may commit in steps (deleteAlertRule deletes the rule, then resolves its alerts one by one):
    // it is not told that nothing was stored, nor to retry blind.
    await whileInsertsRaise('sources', 'disk_full', 'could not extend file: No space left on device', async () => {
      const { errors } = await app.request(RegisterSourcesDocument, { sources: patients('full-2') });
      expect(errors?.[0]).toMatchObject({
        message: 'the database is short of a resource (could not extend file: No space left on device): this operation may be partly applied; once that is freed, read what it changes and retry what is missing',
        extensions: { code: 'UNAVAILABLE', retryable: false, sqlState: '53100' },
      });
    });
  });

  it('answers an ingest a read-only database refuses (a standby after a failover) with UNAVAILABLE, to retry, and stores it sent again', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('ro-1') });
    // PostgreSQL's read_only_sql_transaction (SQLSTATE 25006), as a standby or default_transaction_read_only raises
    // it. It reached the client as INTERNAL_SERVER_ERROR "Unexpected error.", which a feed drops its readings on.
    await whileInsertsRaise('readings', 'read_only_sql_transaction', 'cannot execute INSERT in a read-only transaction', async () => {
      const { errors } = await app.request(IngestReadingsDocument, { readings: [heartRate('ro-1', 70, 7_000)] });
      expect(errors?.[0]).toMatchObject({
        message: 'the database is read-only (cannot execute INSERT in a read-only transaction): nothing of this operation was stored; retry it once it is writable again',
        extensions: { code: 'UNAVAILABLE', retryable: true, sqlState: '25006' },
      });
    });
    const again = await app.mutate(IngestReadingsDocument, { readings: [heartRate('ro-1', 70, 7_000)] });
    expect(again.ingestReadings).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('rejects a batch above MAX_BATCH whole, storing nothing', async () => {
    const before = await stored();
    const trades = Array.from({ length: 51 }, (_, i) => ({ symbol: 'ETH-USD', time: at(100 + i), price: 3_000, size: 1 }));
    const response = await app.request(IngestTradesDocument, { trades });
    expect(response.errors?.[0]).toMatchObject({ message: expect.stringContaining('batch of 51 trades exceeds the maximum of 50'), extensions: { code: 'BATCH_TOO_LARGE' } });
    expect(await stored()).toEqual(before);
  });

  it('makes symbols traded before tenants existed instruments of the default tenant on upgrade (migration 0010)', async () => {
    await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'EARLY', time: at(20), price: 1, size: 1 }, { symbol: 'OWNED', time: at(20), price: 1, size: 1 }] });
    // As a database from before 0006 left them: EARLY's trades with no source row; OWNED claimed since, by tenant t2.
    await app.sql(sql`delete from sources where id = 'EARLY'`);
    await app.sql(sql`update sources set tenant_id = 't2' where id = 'OWNED'`);
    await app.sql(sql.raw(readFileSync(new URL('../migrations/0010_instruments_of_early_trades.sql', import.meta.url), 'utf8')));
    const owners = await app.sql<{ id: string; kind: string; tenant_id: string }>(sql`select id, kind, tenant_id from sources where id in ('EARLY', 'OWNED') order by id`);
    expect(owners).toEqual([
      { id: 'EARLY', kind: 'INSTRUMENT', tenant_id: 'default' },
      { id: 'OWNED', kind: 'INSTRUMENT', tenant_id: 't2' },
    ]);
  });

  it('tells trades of one symbol in one millisecond apart by tradeId, stores a resent one once, and names a bad tradeId', async () => {
    // One order sweeping three price levels: three trades with one timestamp.
    const sweep = [
      { symbol: 'SWEEP', time: at(10), tradeId: 'X-1', price: 100, size: 5 },
      { symbol: 'SWEEP', time: at(10), tradeId: 'X-2', price: 100.01, size: 7 },
      { symbol: 'SWEEP', time: at(10), tradeId: 'X-3', price: 100.02, size: 9 },
    ];
    expect((await app.mutate(IngestTradesDocument, { trades: sweep })).ingestTrades).toMatchObject({ accepted: 3, duplicates: 0, rejected: 0 });
    const again = await app.mutate(IngestTradesDocument, {
      trades: [...sweep, { ...sweep[0]!, price: 1 }, { symbol: 'SWEEP', time: at(10), tradeId: 'X 4', price: 1, size: 1 }, { symbol: 'SWEEP', time: at(10), tradeId: '', price: 1, size: 1 }],
    });
    expect(again.ingestTrades).toMatchObject({ accepted: 0, duplicates: 4, rejected: 2 });
    expect(again.ingestTrades.errors.map((e) => [e.index, e.field, e.code])).toEqual([
      [4, 'tradeId', 'INVALID_TRADE_ID'],
      [5, 'tradeId', 'INVALID_TRADE_ID'],
    ]);
    // Without ids, a symbol's trades in one millisecond are one trade: the first stored wins.
    const anonymous = await app.mutate(IngestTradesDocument, {
      trades: [
        { symbol: 'SWEEP', time: at(11), price: 100, size: 1 },
        { symbol: 'SWEEP', time: at(11), price: 101, size: 2 },
      ],
    });
    expect(anonymous.ingestTrades).toMatchObject({ accepted: 1, duplicates: 1, rejected: 0 });
    const rows = await app.sql<{ trade_id: string; price: number; size: number }>(sql`select trade_id, price, size from trades where symbol = 'SWEEP' order by time, trade_id`);
    expect(rows).toEqual([
      { trade_id: 'X-1', price: 100, size: 5 },
      { trade_id: 'X-2', price: 100.01, size: 7 },
      { trade_id: 'X-3', price: 100.02, size: 9 },
      { trade_id: '', price: 100, size: 1 },
    ]);
  });
});

// A batch is first inserted plainly; one that repeats stored rows fails whole, changes nothing, and is written again
// skipping them (db/offsets.ts ConflictAwareInserts). What a caller sees must not tell the two paths apart.
describe.each(primaryBackends)('batches that repeat stored rows on $name', (backend) => {
  let app: TestApp;
  const rewritten = () => app.server.services.ingest.inserts.rewritten.get('readings') ?? 0;
  const stored = (source: string) =>
    app.sql<{ second: number; value: number; seq: string }>(
      sql`select (extract(epoch from time) - ${T0 / 1000})::int as second, value, seq::text as seq from readings where source_id = ${source} order by time`,
    );
  beforeAll(async () => {
    app = await startTestApp(backend);
    await app.mutate(RegisterSourcesDocument, { sources: patients('rep-1', 'rep-2', 'rep-3') });
  });
  // Each test starts on a node that has met no stored row yet (no cool-down left by the one before).
  beforeEach(() => {
    app.server.services.ingest.inserts = new ConflictAwareInserts();
  });
  afterAll(() => app?.close());

  it('stores the new rows of a batch that repeats stored ones, keeps the stored values, and counts the batch as written twice', async () => {
    const first = await app.mutate(IngestReadingsDocument, { readings: [0, 1, 2, 3].map((s) => heartRate('rep-1', 60 + s, s)) });
    expect(first.ingestReadings).toMatchObject({ accepted: 4, duplicates: 0 });
    expect(rewritten()).toBe(0);

    // Seconds 2 and 3 again with other values, and 4 and 5 new.
    const overlapping = await app.mutate(IngestReadingsDocument, { readings: [2, 3, 4, 5].map((s) => heartRate('rep-1', 100 + s, s)) });
    expect(overlapping.ingestReadings).toMatchObject({ accepted: 2, duplicates: 2, rejected: 0 });
    expect(rewritten()).toBe(1);
    const rows = await stored('rep-1');
    expect(rows.map((r) => [r.second, r.value])).toEqual([[0, 60], [1, 61], [2, 62], [3, 63], [4, 104], [5, 105]]);
    // The failed plain try gave its cursors back: the second try numbered the batch from where the first batch ended.
    const base = Number(rows[0]!.seq) - 1;
    expect(rows.map((r) => Number(r.seq) - base)).toEqual([1, 2, 3, 4, 7, 8]);
    expect(overlapping.ingestReadings.lastCursor).toBe(String(base + 8));

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_ingest_batches_rewritten_total\{stream="readings"\} 1$/m);
  });

  it(`skips stored rows for the next ${SKIP_AFTER_CONFLICT} batches after one met them, then tries plainly again`, async () => {
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('rep-2', 70, 0)] });
    expect(rewritten()).toBe(0);
    // Every batch repeats second 0: the first meets it and is written twice; the next ones skip it at once.
    for (let i = 1; i <= SKIP_AFTER_CONFLICT + 1; i++) {
      const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings: [heartRate('rep-2', 99, 0), heartRate('rep-2', 70, i)] });
      expect(ingestReadings).toMatchObject({ accepted: 1, duplicates: 1 });
    }
    expect(rewritten()).toBe(1);
    // The cool-down is over: this batch tries plainly, meets second 0, and is written twice again.
    const again = await app.mutate(IngestReadingsDocument, { readings: [heartRate('rep-2', 99, 0), heartRate('rep-2', 70, 1_000)] });
    expect(again.ingestReadings).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(rewritten()).toBe(2);
    const rows = await stored('rep-2');
    expect(rows).toHaveLength(SKIP_AFTER_CONFLICT + 3);
    expect(rows.every((r) => r.value === 70)).toBe(true);
  });

  it('stores each row once when batches racing each other carry the same new rows', async () => {
    // Eight batches of 20 at once, each sharing seconds 0-9 with the others and bringing 10 of its own.
    const batches = Array.from({ length: 8 }, (_, b) => [
      ...Array.from({ length: 10 }, (_, s) => heartRate('rep-3', 80, s)),
      ...Array.from({ length: 10 }, (_, s) => heartRate('rep-3', 81, 100 + b * 10 + s)),
    ]);
    const results = await Promise.all(batches.map((readings) => app.mutate(IngestReadingsDocument, { readings })));
    expect(results.reduce((n, r) => n + r.ingestReadings.accepted, 0)).toBe(10 + 8 * 10);
    expect(results.reduce((n, r) => n + r.ingestReadings.duplicates, 0)).toBe(7 * 10);
    expect(results.every((r) => r.ingestReadings.rejected === 0)).toBe(true);
    // At least the batch that came second met rows the first had stored (on PostgreSQL, any that raced it too).
    expect(rewritten()).toBeGreaterThanOrEqual(1);
    const rows = await stored('rep-3');
    expect(rows).toHaveLength(90);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(90);
  });
});

describe.each(primaryBackends.filter((b) => b.database === 'postgres'))('ingest statements on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    // One connection, so the check below runs in the session that ingested.
    app = await startTestApp(backend, { env: { DATABASE_POOL_SIZE: '1', PARALLEL_INGEST: 'on' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('prep-1') });
  });
  afterAll(() => app?.close());

  it('prepares each ingest statement once per connection and runs every clean batch, whatever its size, on them', async () => {
    // Small batches claim and insert in one statement; with PARALLEL_INGEST, from CLAIM_FIRST_FROM on, the
    // claim comes first (on the asynchronous-commit connections) and the insert closes it.
    const sizes = [1, 3, 7, CLAIM_FIRST_FROM, CLAIM_FIRST_FROM + 50];
    let from = 0;
    for (const size of sizes) {
      const readings = Array.from({ length: size }, (_, i) => heartRate('prep-1', 60 + (i % 30), from + i));
      const { ingestReadings } = await app.mutate(IngestReadingsDocument, { readings });
      expect(ingestReadings).toMatchObject({ accepted: size, duplicates: 0, rejected: 0 });
      from += size;
    }
    const retried = await app.mutate(IngestReadingsDocument, { readings: [heartRate('prep-1', 99, 0), heartRate('prep-1', 99, from)] });
    expect(retried.ingestReadings).toMatchObject({ accepted: 1, duplicates: 1 });

    const stored = await app.sql<{ value: number; seq: string }>(sql`select value, seq::text as seq from readings where source_id = 'prep-1' order by time`);
    expect(stored.map((r) => r.value)).toEqual([...sizes.flatMap((size) => Array.from({ length: size }, (_, i) => 60 + (i % 30))), 99]);
    // Cursors follow the batches' order; the retry's duplicate leaves its cursor unused.
    expect(stored.map((r) => Number(r.seq))).toEqual([...Array.from({ length: from }, (_, i) => i + 1), from + 2]);

    // A batch that claimed first and then met stored rows is written again under the same claim, and closes it.
    app.server.services.ingest.inserts = new ConflictAwareInserts();
    const offset = async () => Number((await app.sql<{ last: string }>(sql`select last::text as last from stream_offsets where stream = 'readings'`))[0]!.last);
    const claimedFrom = await offset();
    const half = CLAIM_FIRST_FROM / 2;
    const overlapping = Array.from({ length: CLAIM_FIRST_FROM }, (_, i) => heartRate('prep-1', 98, from - half + i));
    const claimedTwice = await app.mutate(IngestReadingsDocument, { readings: overlapping });
    expect(claimedTwice.ingestReadings).toMatchObject({ accepted: half - 1, duplicates: half + 1 });
    expect(app.server.services.ingest.inserts.rewritten.get('readings')).toBe(1);
    expect(await app.sql(sql`select * from stream_claims`)).toEqual([]);
    // One claim, kept across both tries: the new rows carry its last cursors, and no second range was taken.
    expect(await offset()).toBe(claimedFrom + CLAIM_FIRST_FROM);
    const fresh = await app.sql<{ seq: string }>(sql`select seq::text as seq from readings where source_id = 'prep-1' and value = 98 order by time`);
    expect(fresh.map((r) => Number(r.seq))).toEqual(Array.from({ length: half - 1 }, (_, i) => claimedFrom + half + 2 + i));
    expect(claimedTwice.ingestReadings.lastCursor).toBe(String(claimedFrom + CLAIM_FIRST_FROM));

    // Each way in, plain and skipping stored rows: four statements, each prepared once.
    const prepared = await app.sql<{ statement: string }>(sql`select statement from pg_prepared_statements where statement like '%with claim as%' order by statement`);
    const shapes = prepared.map((p) => `${/^with claim as \(delete from stream_claims/.test(p.statement) ? 'claimed first' : /^with claim as \(update stream_offsets/.test(p.statement) ? 'under the lock' : p.statement}, ${/on conflict/.test(p.statement) ? 'skipping' : 'plain'}`);
    expect(shapes.sort()).toEqual(['claimed first, plain', 'claimed first, skipping', 'under the lock, plain', 'under the lock, skipping']);
  });
});
