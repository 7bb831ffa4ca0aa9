import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AnomaliesDocument,
  CandlesDocument,
  IngestReadingsDocument,
  IngestTradesDocument,
  LateEventsDocument,
  LiveAnomaliesDocument,
  LiveCandlesDocument,
  LiveWindowsDocument,
  ProcessorsDocument,
  RegisterSourcesDocument,
  WindowsDocument,
  type LiveCandlesSubscription,
  type LiveWindowsSubscription,
  type ReadingInput,
  type TradeInput,
} from '../src/generated/graphql.js';
import { partitionOf } from '../src/processors/partitions.js';
import type { News2Score } from '../src/processors/news2.js';
import { upsertNews2 } from '../src/db/news2.js';
import { backends, primaryBackends } from './support/backends.js';
import { dropSchema, sql, startTestApp, type TestApp } from './support/app.js';
import { T0, at, heartRate, patients, reading } from './support/fixtures.js';
import {
  expectCandlesEqualSql,
  expectEveryWindowClosed,
  expectTumblingEqualBucketSql,
  expectWindowsEqualSql,
  flushReadings,
  flushTrades,
  HOUR,
  outputsOf,
  postReadings,
  postTrades,
  PROCESSOR_ENV,
  readingsStream,
  SHAPE,
  SPECS,
  tradesStream,
} from './support/streams.js';
import { waitFor } from './support/live.js';

describe.each(backends)('stream processors on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: PROCESSOR_ENV });
  });
  afterAll(() => app?.close());

  it('closes every window of shuffled streams with retries equal to SQL over the stored rows, and publishes the same windows', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 90_000 }), async (seed, jitterMs) => {
        // Each run later in event time than the one before, so earlier runs' watermarks are behind it.
        const origin = T0 + run * 12 * HOUR;
        const prefix = `win${run++}`;
        const ids = [0, 1, 2].map((i) => `${prefix}-${i}`);
        await app.mutate(RegisterSourcesDocument, { sources: patients(...ids) });
        const live = await app.subscribeWs(LiveWindowsDocument, { sourceIds: ids, closedOnly: true });
        const stream = readingsStream(seed, prefix, { ...SHAPE, jitterMs, origin });
        await postReadings(app, stream.batches);
        await app.mutate(IngestReadingsDocument, { readings: flushReadings(prefix, SHAPE.series, stream.endTime) });
        await app.settle();

        const closedBy = stream.endTime + HOUR;
        const expected = await expectEveryWindowClosed(app, prefix, SPECS, closedBy);
        expect(await expectWindowsEqualSql(app, prefix)).toBe(expected);
        for (const { sizeMs, hopMs } of SPECS) if (sizeMs === hopMs) expect(await expectTumblingEqualBucketSql(app, prefix, sizeMs, closedBy)).toBeGreaterThan(0);

        type Published = LiveWindowsSubscription['windows'][number];
        const published = await live.results.until(
          (items) => items.flatMap((r) => r.data?.windows ?? []).length >= expected,
          `${expected} closed windows published`,
        );
        const key = (w: Published) => `${w.sourceId}/${w.metric} ${w.window} ${w.start}`;
        const publishedByKey = new Map(published.flatMap((r) => r.data?.windows ?? []).map((w) => [key(w), w]));
        expect(publishedByKey.size).toBe(expected);
        const stored = await app.mutate(WindowsDocument, {
          sourceId: ids[0]!,
          metric: 'heart_rate',
          window: '5m/1m',
          from: new Date(origin - HOUR).toISOString(),
          to: new Date(closedBy).toISOString(),
          first: 1000,
        });
        expect(stored.windows.edges.length).toBeGreaterThan(10);
        for (const { node } of stored.windows.edges) expect(publishedByKey.get(key(node))).toEqual(node);
        await live.close();
      }),
      { numRuns: 2, seed: 20261123 },
    );
    // Jitter beyond the lateness leaves some readings out, and each is listed.
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'readings', first: 1000 });
    expect(lateEvents.edges.length).toBeGreaterThan(0);
    // Polled on past the last: an empty page at its cursor. A cursor ahead of the stream (a database restored from an
    // older backup) is refused, naming the newest, as readings and anomalies refuse it: its empty pages echoed it,
    // and the poller skipped every late event up to it.
    const last = lateEvents.pageInfo.endCursor!;
    expect((await app.mutate(LateEventsDocument, { pipeline: 'readings', after: last })).lateEvents).toMatchObject({ edges: [], pageInfo: { endCursor: last } });
    const ahead = String(BigInt(last) + 1_000_000_000n);
    const refused = await app.request(LateEventsDocument, { pipeline: 'readings', after: ahead });
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringMatching(new RegExp(`^after ${ahead} is ahead of the stream \\(last committed cursor is \\d+\\)`)),
      extensions: { code: 'BAD_USER_INPUT', argument: 'after', resumeAfter: expect.stringMatching(/^\d+$/) },
    });
    // Each pipeline against its own stream: the trades stream is far shorter than the readings cursor.
    expect((await app.request(LateEventsDocument, { pipeline: 'trades', after: last })).errors?.[0]?.extensions).toMatchObject({ argument: 'after', resumeAfter: expect.any(String) });
  });

  it('closes every candle of a shuffled trade stream equal to SQL first/last/max/min/sum and VWAP, and shows the forming candle live', async () => {
    const prefix = 'TK';
    const stream = tradesStream(7, prefix, { ...SHAPE, series: 3 });
    await postTrades(app, stream.batches);
    await postTrades(app, [flushTrades(prefix, 3, stream.endTime)]);
    await app.settle();
    expect(await expectCandlesEqualSql(app, prefix)).toBeGreaterThan(3 * 100);

    // One candle watched step by step: forming on each trade, then closed once event time passes its end + lateness.
    const base = 99_960; // whole minutes, later than the stream above, so no partition watermark is past it
    const trade = (second: number, price: number, size: number) => ({ symbol: 'WATCH', time: at(base + second), price, size });
    // Naming a symbol in a subscription needs it to be one of the tenant's instruments already.
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'WATCH', kind: 'INSTRUMENT', name: 'Watched instrument' }] });
    const watch = await app.subscribeWs(LiveCandlesDocument, { symbols: ['WATCH'], intervals: ['1m'] });
    type Published = LiveCandlesSubscription['candles'][number];
    const seen = () => watch.results.items.flatMap((r) => r.data?.candles ?? []) as Published[];
    await postTrades(app, [[trade(120, 10, 1)]]);
    await watch.results.until(() => seen().length >= 1, 'the forming candle');
    await postTrades(app, [[trade(150, 12, 3)]]);
    await watch.results.until(() => seen().length >= 2, 'the forming candle updated');
    await postTrades(app, [[trade(181 + 30, 11, 1)]]);
    await watch.results.until(() => seen().some((c) => c.closed), 'the candle closed');
    const closedCandle = { symbol: 'WATCH', interval: '1m', start: at(base + 120), end: at(base + 180), open: 10, high: 12, low: 10, close: 12, volume: 4, vwap: 11.5, trades: 2 };
    expect(seen().filter((c) => c.start === at(base + 120))).toEqual([
      { ...closedCandle, high: 10, close: 10, volume: 1, vwap: 10, trades: 1, closed: false },
      { ...closedCandle, closed: false },
      { ...closedCandle, closed: true },
    ]);
    const { candles: page } = await app.mutate(CandlesDocument, { symbol: 'WATCH', interval: '1m', from: at(base + 120), to: at(base + 180) });
    expect(page.edges.map((e) => e.node)).toEqual([{ ...closedCandle, closed: true }]);
    await watch.close();
  });

  it('keeps VWAP within the candle\'s low and high: three trades at 3.3 have a VWAP of 3.3, not 3.2999999999999994', async () => {
    const base = 99_960 + 600; // later than WATCH's candles above
    const flat = (second: number, price: number, tradeId: string) => ({ symbol: 'FLAT', time: at(base + second), tradeId, price, size: 1 });
    await postTrades(app, [[flat(0, 3.3, 'f1'), flat(10, 3.3, 'f2'), flat(20, 3.3, 'f3')], [flat(180, 4, 'f4')]]);
    await app.settle();
    const { candles } = await app.mutate(CandlesDocument, { symbol: 'FLAT', interval: '1m', from: at(base), to: at(base + 60) });
    expect(candles.edges.map((e) => e.node)).toMatchObject([{ open: 3.3, high: 3.3, low: 3.3, close: 3.3, volume: 3, vwap: 3.3, trades: 3, closed: true }]);
  });

  it('flags a reading far off its trend after the warm-up, stores and publishes the flag', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('anom-1') });
    const live = await app.subscribeWs(LiveAnomaliesDocument, { sourceIds: ['anom-1'] });
    // Later than every stream before it in this app, so no partition watermark is past it.
    const steady = Array.from({ length: 60 }, (_, i) => heartRate('anom-1', 70 + (i % 5) - 2, 100_000 + i));
    await app.mutate(IngestReadingsDocument, { readings: steady });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('anom-1', 150, 100_060), heartRate('anom-1', 71, 100_061)] });
    await app.settle();
    const { anomalies } = await app.mutate(AnomaliesDocument, { sourceIds: ['anom-1'] });
    expect(anomalies.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ sourceId: 'anom-1', metric: 'heart_rate', time: at(100_060), value: 150, zScore: expect.any(Number) }),
    ]);
    expect(anomalies.edges[0]!.node.zScore).toBeGreaterThan(4);
    const [first] = await live.results.until((items) => items.length > 0, 'the flag published');
    expect(first!.data?.anomalies).toEqual(anomalies.edges.map((e) => e.node));
    await live.close();
    // Polled on past the flag: an empty page at its cursor, but a cursor ahead of the readings stream (a database
    // restored from an older backup) is refused, naming the newest, not answered with pages that skip what it passed.
    const cursor = anomalies.pageInfo.endCursor!;
    expect((await app.mutate(AnomaliesDocument, { sourceIds: ['anom-1'], after: cursor })).anomalies.edges).toEqual([]);
    const ahead = String(BigInt(cursor) + 1_000_000_000n);
    const refused = await app.request(AnomaliesDocument, { sourceIds: ['anom-1'], after: ahead });
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringMatching(new RegExp(`^after ${ahead} is ahead of the stream \\(last committed cursor is \\d+\\)`)),
      extensions: { code: 'BAD_USER_INPUT', argument: 'after', resumeAfter: expect.stringMatching(/^\d+$/) },
    });
  });
});

describe.each(primaryBackends)('forming windows on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    // Nothing stored by the clock during the test: only what closes, the first batch, and settling.
    app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, ALLOWED_LATENESS: '10s', FORMING_FLUSH_INTERVAL: '1h', CHECKPOINT_INTERVAL: '1h' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('form-1') });
  });
  afterAll(() => app?.close());

  it('publishes every version of a forming window at once, stores it per FORMING_FLUSH_INTERVAL, and stores a closed one with its batch', async () => {
    const stored = async () =>
      app.sql<{ count: number; closed: boolean }>(
        sql`select count, closed from window_aggregates where source_id = 'form-1' and size_ms = 60000 and hop_ms = 60000 and start_time = ${at(0)}::timestamptz`,
      );
    const live = await app.subscribeWs(LiveWindowsDocument, { sourceIds: ['form-1'], windows: ['1m'] });
    const counts = () => live.results.items.flatMap((r) => r.data?.windows ?? []).filter((w) => w.start === at(0)).map((w) => [w.count, w.closed]);

    await app.mutate(IngestReadingsDocument, { readings: [heartRate('form-1', 70, 1), heartRate('form-1', 71, 2)] });
    await live.results.until(() => counts().some(([n]) => n === 2), 'the forming window of 2');
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('form-1', 72, 3), heartRate('form-1', 73, 4)] });
    await live.results.until(() => counts().some(([n]) => n === 4), 'the forming window of 4');
    // Published at once; stored as of the first batch only.
    expect(await stored()).toEqual([{ count: 2, closed: false }]);

    await app.mutate(IngestReadingsDocument, { readings: [heartRate('form-1', 74, 80)] }); // watermark 70 s: [0, 60 s) closes
    await live.results.until(() => counts().some(([, closed]) => closed), 'the closed window');
    expect(await stored()).toEqual([{ count: 4, closed: true }]);
    expect(counts()).toEqual([
      [2, false],
      [4, false],
      [4, true],
    ]);

    // Settling stores the forming window of the next minute, which was published but waiting.
    const next = async () => app.sql<{ count: number }>(sql`select count from window_aggregates where source_id = 'form-1' and size_ms = 60000 and start_time = ${at(60)}::timestamptz`);
    expect(await next()).toEqual([]);
    await app.settle();
    expect(await next()).toEqual([{ count: 1 }]);
    await live.close();
  });
});

describe.each(primaryBackends)('forming windows of a stream gone quiet on $name', (backend) => {
  it('stores the last version of a forming window and candle within FORMING_FLUSH_INTERVAL, with no batch after it', async () => {
    const app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, FORMING_FLUSH_INTERVAL: '200ms', CHECKPOINT_INTERVAL: '1h' } });
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('quiet-form') });
      const window = () => app.sql<{ count: number }>(sql`select count from window_aggregates where source_id = 'quiet-form' and size_ms = 60000 and hop_ms = 60000 and start_time = ${at(0)}::timestamptz`);
      const candle = () => app.sql<{ volume: number }>(sql`select volume from candles where symbol = 'QUIET' and interval_ms = 60000 and start_time = ${at(0)}::timestamptz`);
      // The first batch is stored at once (nothing flushed yet); the ones after it wait for the flush interval.
      await app.mutate(IngestReadingsDocument, { readings: [heartRate('quiet-form', 70, 1)] });
      await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'QUIET', time: at(1), price: 10, size: 1 }] });
      for (let s = 2; s <= 4; s++) {
        await app.mutate(IngestReadingsDocument, { readings: [heartRate('quiet-form', 70 + s, s)] });
        await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'QUIET', time: at(s), price: 10 + s, size: s }] });
      }
      // No settle (it would store them itself) and nothing more sent: the timer stores them.
      await waitFor(async () => (await window())[0]?.count === 4 && (await candle())[0]?.volume === 10, 'the last forming versions stored', 5_000);
    } finally {
      await app.close();
    }
  });
});

describe.each(primaryBackends)('lateness boundary on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, ALLOWED_LATENESS: '10s', PROCESSOR_PARTITIONS: '1' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('late-1', 'late-2') });
  });
  afterAll(() => app?.close());

  it('closes a window once the watermark reaches its end: an event for it arriving then is left out of it (listed), not opening it again; a longer window still open takes it', async () => {
    const live = await app.subscribeWs(LiveWindowsDocument, { sourceIds: ['late-1'], windows: ['1m'] });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('late-1', 80, 100)] }); // watermark = 90 s
    // Processed on its own: batches that queue up are processed together, and only the last update of a window is published.
    await app.settle();
    const onBoundary = reading('late-1', 'heart_rate', 60, 90);
    await app.mutate(IngestReadingsDocument, { readings: [onBoundary] });
    await app.settle();
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('late-1', 81, 130)] }); // watermark = 120 s: [60 s, 120 s) closes
    await app.settle();
    // Behind the watermark by 1 ms, in the minute that closed at it: left out of that minute (never opened again).
    const behind = { ...reading('late-1', 'heart_rate', 50, 0), time: new Date(T0 + 120_000 - 1).toISOString() };
    const dropped = await app.mutate(IngestReadingsDocument, { readings: [behind] });
    await app.settle();

    const updates = (await live.results.until((items) => items.flatMap((r) => r.data?.windows ?? []).filter((w) => w.closed).length >= 1, 'the minute closed')).flatMap(
      (r) => r.data?.windows ?? [],
    );
    expect(updates.filter((w) => w.start === at(60)).map((w) => ({ count: w.count, closed: w.closed }))).toEqual([
      { count: 1, closed: false },
      { count: 2, closed: false },
      { count: 2, closed: true },
    ]);
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'readings' });
    expect(lateEvents.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ cursor: dropped.ingestReadings.lastCursor, series: 'late-1/heart_rate', watermark: at(120) }),
    ]);
    const { processors } = await app.mutate(ProcessorsDocument, {});
    expect(processors.find((p) => p.name === 'readings')).toMatchObject({ role: 'owner', lateDropped: 1 });
    const { windows } = await app.mutate(WindowsDocument, { sourceId: 'late-1', metric: 'heart_rate', window: '1m', from: at(60), to: at(120) });
    expect(windows.edges.map((e) => e.node)).toEqual([expect.objectContaining({ count: 2, min: 60, max: 80, first: 60, last: 80, closed: true })]);
    // The five minutes holding it are still open: they take it.
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('late-1', 82, 400)] });
    await app.settle();
    const { windows: fiveMinutes } = await app.mutate(WindowsDocument, { sourceId: 'late-1', metric: 'heart_rate', window: '5m', from: at(0), to: at(300) });
    expect(fiveMinutes.edges.map((e) => e.node)).toEqual([expect.objectContaining({ count: 4, min: 50, max: 81, closed: true })]);
    await live.close();
  });

  it('counts an event further behind than ALLOWED_LATENESS into the windows still open when it comes, and lists it', async () => {
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('late-2', 80, 1_000)] }); // watermark = 990 s
    await app.settle();
    // 29 s behind the watermark, in the minute [960 s, 1,020 s), which is open until the watermark reaches 1,020 s.
    const behind = await app.mutate(IngestReadingsDocument, { readings: [reading('late-2', 'heart_rate', 60, 961)] });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('late-2', 81, 1_100)] });
    await app.settle();
    const { windows } = await app.mutate(WindowsDocument, { sourceId: 'late-2', metric: 'heart_rate', window: '1m', from: at(960), to: at(1_020) });
    expect(windows.edges.map((e) => e.node)).toEqual([expect.objectContaining({ count: 2, first: 60, last: 80, closed: true })]);
    // Left out of what had closed (and of anomaly flags, which take events in order only): listed.
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'readings' });
    expect(lateEvents.edges.map((e) => e.node.cursor)).toContain(behind.ingestReadings.lastCursor);
  });

  it("keeps trades uploaded newest first in each candle still forming when they come: the hour's candle has all three", async () => {
    const trade = (second: number, price: number) => ({ symbol: 'LATE-BACKFILL', time: at(second), price, size: 1 });
    // A backfill sent newest first: 10 min, then 6 min 40 s, then 3 min 20 s (watermark 9 min 50 s after the first).
    await app.mutate(IngestTradesDocument, { trades: [trade(600, 103)] });
    await app.settle();
    await app.mutate(IngestTradesDocument, { trades: [trade(400, 102), trade(200, 101)] });
    await app.mutate(IngestTradesDocument, { trades: [trade(3_700, 104)] }); // closes the hour
    await app.settle();
    const candles = async (interval: string, from: number, to: number) =>
      (await app.mutate(CandlesDocument, { symbol: 'LATE-BACKFILL', interval, from: at(from), to: at(to) })).candles.edges.map((e) => e.node);
    expect(await candles('1h', 0, 3_600)).toEqual([expect.objectContaining({ trades: 3, open: 101, high: 103, low: 101, close: 103, volume: 3, closed: true })]);
    // The five minutes of 400 s were still forming; those of 200 s had closed (they end at 300 s): never opened again.
    expect((await candles('5m', 0, 600)).map((c) => [c.start, c.trades])).toEqual([[at(300), 1]]);
    // Nor the minutes, long closed.
    expect(await candles('1m', 180, 420)).toEqual([]);
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'trades' });
    expect(lateEvents.edges.map((e) => e.node.series)).toEqual(['LATE-BACKFILL', 'LATE-BACKFILL']);
  });
});

describe.each(primaryBackends)('watermarks per series on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, ALLOWED_LATENESS: '10s', PROCESSOR_PARTITIONS: '1' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('clock-ok', 'clock-ahead') });
  });
  afterAll(() => app?.close());

  it('a device whose clock runs minutes ahead makes no other series late, even in the same partition', async () => {
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('clock-ok', 70, 0)] });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('clock-ahead', 70, 240)] });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('clock-ok', 71, 1), heartRate('clock-ok', 72, 2)] });
    await app.settle();
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'readings' });
    expect(lateEvents.edges).toEqual([]);
    const { windows } = await app.mutate(WindowsDocument, { sourceId: 'clock-ok', metric: 'heart_rate', window: '1m', from: at(0), to: at(60), closedOnly: false });
    expect(windows.edges.map((e) => e.node.count)).toEqual([3]);
  });

  it("a reading stamped minutes ahead of now (within MAX_FUTURE_SKEW) makes none of its own series' on-time readings late", async () => {
    // The patients pipeline (NEWS2, alert rules) keeps one clock per patient, over all of its metrics.
    await app.mutate(RegisterSourcesDocument, { sources: patients('ahead-self') });
    const now = Date.now();
    const timed = (metric: string, value: number, ms: number): ReadingInput => ({ ...reading('ahead-self', metric, value, 0), time: new Date(ms).toISOString() });
    await app.mutate(IngestReadingsDocument, { readings: [timed('heart_rate', 80, now - 1_000)] });
    const ahead = await app.mutate(IngestReadingsDocument, { readings: [timed('spo2', 97, now + 4 * 60_000)] });
    expect(ahead.ingestReadings.accepted).toBe(1);
    await app.settle();
    await app.mutate(IngestReadingsDocument, { readings: [timed('heart_rate', 200, now), timed('spo2', 96, now + 500)] });
    await app.settle();
    for (const pipeline of ['patients', 'readings']) {
      const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline });
      expect(lateEvents.edges.filter((e) => e.node.series.startsWith('ahead-self')), pipeline).toEqual([]);
    }
  });
});

describe.each(primaryBackends)('restart on $name', (backend) => {
  const dataDirs = mkdtempSync(join(tmpdir(), 'vigil-restart-'));
  const schemas: string[] = [];
  afterAll(async () => {
    rmSync(dataDirs, { recursive: true, force: true });
    if (backend.database === 'postgres') for (const schema of schemas) await dropSchema(schema);
  });
  /** A store of its own for one test (data directory, or schema), and how to open a server on it: `env`, then `extra`. */
  const freshStore = (env: Record<string, string>) => {
    const dataDir = join(dataDirs, String(schemas.length));
    const schema = `t_restart_${process.pid}_${schemas.length}`;
    schemas.push(schema);
    return (extra: Record<string, string> = {}) => startTestApp(backend, { env: { ...env, ...extra }, dataDir, schema, keepSchema: true });
  };
  /**
   * Stops every pipeline, which writes a last checkpoint: with CHECKPOINT_INTERVAL=1ms a batch done within the
   * millisecond the checkpoint before it was written gets none of its own.
   */
  const stopPipelines = async (app: TestApp) => {
    for (const pipeline of Object.values(app.server.services.pipelines)) await pipeline.stop();
  };
  /**
   * Tests of what a checkpoint says (its partition count, its older formats) rather than of how it is stored: the
   * same code reads it on every backend, so they run on one, the production pair when the servers are set. Each
   * restarts a node four to six times, which takes an embedded database tens of seconds.
   */
  const itOnOneBackend = backend === primaryBackends.at(-1) ? it : undefined;

  it('a checkpoint writes only the series whose state changed since the one before', async () => {
    const app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '1ms' } });
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('ck-a', 'ck-b', 'ck-c') });
      await app.mutate(IngestReadingsDocument, { readings: [heartRate('ck-a', 70, 0), heartRate('ck-b', 71, 0), heartRate('ck-c', 72, 0)] });
      await app.settle();
      const stored = () =>
        app.sql<{ series: string; cursor: string }>(sql`select series, cursor::text from processor_series_states where pipeline = 'readings' order by series`);
      const before = await stored();
      expect(before.map((r) => r.series)).toEqual(['ck-a/heart_rate', 'ck-b/heart_rate', 'ck-c/heart_rate']);

      await app.mutate(IngestReadingsDocument, { readings: [heartRate('ck-a', 73, 1)] });
      await app.settle();
      await stopPipelines(app);
      const after = await stored();
      const [header] = await app.sql<{ cursor: string }>(sql`select cursor::text from processor_checkpoints where pipeline = 'readings' limit 1`);
      expect(BigInt(header!.cursor)).toBeGreaterThan(BigInt(before[0]!.cursor));
      expect(after[0]).toEqual({ series: 'ck-a/heart_rate', cursor: header!.cursor });
      expect(after.slice(1)).toEqual(before.slice(1));
    } finally {
      await app.close();
    }
  });

  it('a node whose lease another node took writes no checkpoint or output over the new owner\'s, and stands by without its state', async () => {
    // Renewals an hour apart: only the checkpoint can find that the lease went (as when renewals fail for a while).
    const app = await startTestApp(backend, { env: { ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '1ms', PROCESSOR_LEASE: '3h' } });
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('fence-a', 'fence-b') });
      await app.mutate(IngestReadingsDocument, { readings: [heartRate('fence-a', 70, 0), heartRate('fence-b', 71, 0)] });
      await app.settle();
      const checkpoint = async () => ({
        headers: await app.sql(sql`select partition, cursor::text, state from processor_checkpoints where pipeline = 'readings' order by partition`),
        series: await app.sql(sql`select series, clock, state, cursor::text from processor_series_states where pipeline = 'readings' order by series`),
      });
      const before = await checkpoint();
      expect(before.series).toHaveLength(2);
      // Outputs too: a stale owner's retried store landed over the new owner's (a NEWS2 score going back).
      const windows = () => app.sql(sql`select size_ms, hop_ms, start_time::text, count, avg from window_aggregates where source_id = 'fence-a' order by 1, 2, 3`);
      const windowsBefore = await windows();
      expect(windowsBefore.length).toBeGreaterThan(0);

      await app.sql(sql`update processor_leases set owner = 'another-node', expires_at = now() + interval '1 hour' where pipeline = 'readings'`);
      await app.mutate(IngestReadingsDocument, { readings: [heartRate('fence-a', 72, 1)] });
      const roleOf = async () => (await app.mutate(ProcessorsDocument, {})).processors.find((p) => p.name === 'readings')!.role;
      for (let i = 0; i < 200 && (await roleOf()) === 'owner'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await roleOf()).toBe('standby');
      expect(await checkpoint()).toEqual(before);
      expect(await windows()).toEqual(windowsBefore);
      expect(app.server.services.pipelines.readings!.seriesClocks().count, 'state is dropped on standing by').toBe(0);
      const [lease] = await app.sql<{ owner: string }>(sql`select owner from processor_leases where pipeline = 'readings'`);
      expect(lease!.owner).toBe('another-node');
    } finally {
      await app.close();
    }
  });

  it("keeps a patient's newest NEWS2 score when an older one is stored after it (a replay passing through, a stale node)", async () => {
    const app = await startTestApp(backend, { env: PROCESSOR_ENV });
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('n2-order') });
      const score = (time: number, total: number, stay: number | null = null) =>
        ({ sourceId: 'n2-order', time, total, risk: total >= 7 ? 'HIGH' : 'LOW', scores: {}, values: {}, stay }) as unknown as News2Score;
      const { db } = app.server.services.database;
      expect(await upsertNews2(db, [score(T0 + 2_000, 7)])).toHaveLength(1);
      // Not stored, so not published either: subscribers would see the older score last.
      expect(await upsertNews2(db, [score(T0 + 1_000, 0)])).toEqual([]);
      const stored = () => app.sql<{ total: number }>(sql`select total from news2_scores where source_id = 'n2-order'`);
      expect(await stored()).toEqual([{ total: 7 }]);
      // The same time again is a recomputed score (a late parameter): it replaces.
      await upsertNews2(db, [score(T0 + 2_000, 5)]);
      expect(await stored()).toEqual([{ total: 5 }]);
      // A later stay's score replaces it whatever the devices' clocks say; an earlier stay's never does.
      await app.sql(sql`update sources set admitted_at = ${new Date(T0 + 60_000).toISOString()}::timestamptz where id = 'n2-order'`);
      expect(await upsertNews2(db, [score(T0 + 500, 3, T0 + 60_000)])).toHaveLength(1);
      expect(await stored()).toEqual([{ total: 3 }]);
      expect(await upsertNews2(db, [score(T0 + 9_000, 8)])).toEqual([]);
      expect(await stored()).toEqual([{ total: 3 }]);
    } finally {
      await app.close();
    }
  });

  // `written before watermarks were kept`: checkpoints of a version before migration 0017 hold none; the watermark
  // is then seeded from the end of the series' latest closed window or candle.
  it.each(['kept with the checkpoint', 'written before watermarks were kept'] as const)('keeps a closed window and candle as they were when ALLOWED_LATENESS is raised: what its old watermark made late stays late (watermark %s)', async (checkpoint) => {
    const open = freshStore({ ...PROCESSOR_ENV, ALLOWED_LATENESS: '1m', WINDOWS: '1m', CANDLE_INTERVALS: '1m' });
    const trade = (seconds: number, tradeId: string, price: number, size: number) => ({ symbol: 'RAISE', time: at(seconds), tradeId, price, size });
    const firstMinute = async (app: TestApp) => ({
      window: await app.sql(sql`select count, avg, closed from window_aggregates where source_id = 'raise-1' and size_ms = 60000 and start_time = ${new Date(T0).toISOString()}::timestamptz`),
      candle: await app.sql(sql`select trades, open, volume, closed from candles where symbol = 'RAISE' and interval_ms = 60000 and start_time = ${new Date(T0).toISOString()}::timestamptz`),
    });
    const before = await open();
    await before.mutate(RegisterSourcesDocument, { sources: patients('raise-1', 'raise-2') });
    await before.mutate(IngestReadingsDocument, { readings: [0, 10, 20, 30, 40, 50].map((s) => heartRate('raise-1', 70, s)) });
    await before.mutate(IngestTradesDocument, { trades: [0, 10, 20].map((s, i) => trade(s, `t${i}`, 100, 10)) });
    // Four minutes on: the first minute's window and candle close (the watermark is at 3 min).
    // raise-2: a series with no closed window yet.
    await before.mutate(IngestReadingsDocument, { readings: [heartRate('raise-1', 70, 240), heartRate('raise-2', 70, 240)] });
    await before.mutate(IngestTradesDocument, { trades: [trade(240, 'later', 100, 1)] });
    await before.settle();
    const closed = await firstMinute(before);
    expect(closed).toEqual({ window: [{ count: 6, avg: 70, closed: true }], candle: [{ trades: 3, open: 100, volume: 30, closed: true }] });
    await before.close();
    if (checkpoint === 'written before watermarks were kept') {
      const operator = await open({ PROCESSORS: 'off' });
      await operator.sql(sql`update processor_series_states set watermark = null`);
      await operator.close();
    }

    // Restarted with ten minutes of lateness: clock − lateness is now before the closed minute, but its watermark stands.
    const after = await open({ ALLOWED_LATENESS: '10m' });
    try {
      await after.mutate(IngestReadingsDocument, { readings: [heartRate('raise-1', 150, 30.5)] });
      await after.mutate(IngestTradesDocument, { trades: [trade(33, 'behind', 1, 1)] });
      await after.mutate(IngestReadingsDocument, { readings: [heartRate('raise-1', 70, 900)] });
      await after.mutate(IngestTradesDocument, { trades: [trade(900, 'much-later', 100, 1)] });
      await after.settle();
      expect(await firstMinute(after)).toEqual(closed);
      const late = await after.sql<{ pipeline: string; series: string }>(sql`select pipeline, series from late_events where series in ('raise-1/heart_rate', 'RAISE') order by pipeline`);
      expect(late).toEqual([
        { pipeline: 'readings', series: 'raise-1/heart_rate' },
        { pipeline: 'trades', series: 'RAISE' },
      ]);
      // Every series' watermark is kept from here on, seeded or not: a start finds none to seed again.
      await stopPipelines(after);
      expect(await after.sql(sql`select series from processor_series_states where watermark is null and pipeline in ('readings', 'trades')`)).toEqual([]);
    } finally {
      await after.close();
    }
  });

  it('replays a series with a reading stamped ahead of its arrival as the live run processed it, however much later', async () => {
    // Margins for a slow machine: the live run holds as long as the ahead reading arrives within 2.5 s of `now`
    // (lateness 3 s less the on-time readings' 0.5 s); the replay, reading the clock 5 s ahead, would find them late.
    const open = freshStore({ ...PROCESSOR_ENV, ALLOWED_LATENESS: '3s', WINDOWS: '10s', CANDLE_INTERVALS: '10s' });
    const outputs = async (app: TestApp) => ({
      late: (await app.sql<{ n: number }>(sql`select count(*)::int as n from late_events`))[0]!.n,
      windows: await app.sql<{ start: string; count: number; closed: boolean }>(
        sql`select start_time::text as start, count, closed from window_aggregates where source_id = 'ahead-1' order by start_time`,
      ),
    });
    const live = await open();
    await live.mutate(RegisterSourcesDocument, { sources: patients('ahead-1') });
    const now = Date.now();
    const sent = (offsetMs: number, value: number): ReadingInput => ({ sourceId: 'ahead-1', metric: 'heart_rate', time: new Date(now + offsetMs).toISOString(), value });
    // A monitor whose clock runs 5 s ahead sends one reading; the next two, from a monitor on time, follow it.
    for (const batch of [[sent(-10_000, 70)], [sent(5_000, 71)], [sent(-500, 72)], [sent(-300, 73)]]) await live.mutate(IngestReadingsDocument, { readings: batch });
    await live.settle();
    const expected = await outputs(live);
    expect(expected.late).toBe(0);
    await live.close();

    // Outputs and checkpoints gone, the node replays the whole stream, after the ahead reading's time has passed.
    const operator = await open({ PROCESSORS: 'off' });
    for (const table of ['processor_checkpoints', 'processor_series_states', 'window_aggregates', 'candles', 'anomalies', 'late_events']) {
      await operator.sql(sql`delete from ${sql.identifier(table)}`);
    }
    await operator.close();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, now + 6_000 - Date.now())));
    const replay = await open();
    try {
      await replay.settle();
      // Judged by this node's clock at replay, the ahead reading set the series' clock 5 s ahead: the two on-time
      // readings were late, left out of their window, in the replay only.
      expect(await outputs(replay)).toEqual(expected);
    } finally {
      await replay.close();
    }
  });

  itOnOneBackend?.('refuses to start with a PROCESSOR_PARTITIONS other than the one its checkpoints were written with, naming it', async () => {
    const open = freshStore({ ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '1ms', PROCESSOR_PARTITIONS: '4' });
    const first = await open();
    await first.mutate(RegisterSourcesDocument, { sources: patients('parts-a') });
    await first.mutate(IngestReadingsDocument, { readings: [heartRate('parts-a', 70, 0)] });
    await first.settle();
    await first.close();
    // It used to start, answer /ready, and have every pipeline fail and retry for ever, reported as standing by.
    await expect(open({ PROCESSOR_PARTITIONS: '8' })).rejects.toThrow(
      /PROCESSOR_PARTITIONS is 8, but these pipelines were checkpointed with another count: .*readings \(4\)/,
    );
    // An API-only node does not process, so it does not care; nor does the count the checkpoints have.
    await (await open({ PROCESSOR_PARTITIONS: '8', PROCESSORS: 'off' })).close();
    await (await open()).close();
  });

  itOnOneBackend?.('resumes from the oldest checkpoint format (one clock per partition): each series starts from its partition\'s clock', async () => {
    const open = freshStore({ ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '1ms' });
    const first = await open();
    await first.mutate(RegisterSourcesDocument, { sources: patients('old-a') });
    await first.mutate(IngestReadingsDocument, { readings: [heartRate('old-a', 70, 0), heartRate('old-a', 71, 1)] });
    await first.settle();
    const [row] = await first.sql<{ partition: number; clock: number; state: unknown }>(
      sql`select partition, clock, state from processor_series_states where pipeline = 'readings' and series = 'old-a/heart_rate'`,
    );
    await first.close();

    const operator = await open({ PROCESSORS: 'off' });
    const maxEventTime = row!.clock + 5_000;
    await operator.sql(sql`update processor_checkpoints set state = case when partition = ${row!.partition}
        then ${JSON.stringify({ watermark: maxEventTime - 30_000, maxEventTime, series: { 'old-a/heart_rate': row!.state } })}::jsonb
        else ${JSON.stringify({ watermark: null, maxEventTime: null, series: {} })}::jsonb end
      where pipeline = 'readings'`);
    await operator.sql(sql`delete from processor_series_states`);
    await operator.close();

    const second = await open();
    try {
      await second.settle();
      // A checkpoint follows the next batch; the old state must be in it, under the partition's clock.
      await second.mutate(RegisterSourcesDocument, { sources: patients('old-b') });
      await second.mutate(IngestReadingsDocument, { readings: [heartRate('old-b', 72, 2)] });
      await second.settle();
      const stored = await second.sql<{ series: string; clock: number; state: unknown }>(
        sql`select series, clock, state from processor_series_states where pipeline = 'readings' order by series`,
      );
      expect(stored.map((r) => r.series)).toEqual(['old-a/heart_rate', 'old-b/heart_rate']);
      expect(stored[0]).toEqual({ series: 'old-a/heart_rate', clock: maxEventTime, state: row!.state });
    } finally {
      await second.close();
    }
  });

  interface Saved {
    // written_at: when the checkpoint was written, which dates the outputs stored before it.
    headers: { pipeline: string; partition: number; partitions: number; cursor: string; state: unknown; written_at: string }[];
    series: { pipeline: string; series: string; partition: number; clock: number; watermark: number | null; state: unknown; cursor: string }[];
  }
  const savedIn = async (app: TestApp): Promise<Saved> => ({
    headers: await app.sql(sql`select pipeline, partition, partitions, cursor::text, state, updated_at::text as written_at from processor_checkpoints`),
    series: await app.sql(sql`select pipeline, series, partition, clock, watermark, state, cursor::text from processor_series_states`),
  });
  /** Every series' stored state once the pipelines have stopped (stopPipelines). */
  const finalSeriesStatesOf = async (app: TestApp) => {
    await stopPipelines(app);
    return seriesStatesOf(app);
  };
  /** Every series' stored state, as a run's checkpoints left it (cursors aside: they say when it was written). */
  const seriesStatesOf = (app: TestApp) =>
    app.sql<{ pipeline: string; series: string; partition: number; clock: number; state: unknown }>(
      sql`select pipeline, series, partition, clock, state from processor_series_states order by pipeline, series`,
    );

  // `whole partitions`: the checkpoint as a version before processor_series_states wrote it (each partition's
  // whole state in processor_checkpoints), which a new version must resume from, ignoring any series rows beside it.
  // That format on one backend (itOnOneBackend); the crashes themselves on each.
  const formats = itOnOneBackend ? (['series rows', 'whole partitions'] as const) : (['series rows'] as const);
  it.each(formats)('after crashes resumes from its checkpoints (%s, then the rows it wrote) and ends with exactly the outputs and state of an uninterrupted run', async (format) => {
    const readings = readingsStream(99, 'rs', SHAPE);
    const trades = tradesStream(98, 'RS', { ...SHAPE, series: 2 });
    const readingBatches = [...readings.batches, flushReadings('rs', SHAPE.series, readings.endTime)];
    const tradeBatches = [...trades.batches, flushTrades('RS', 2, trades.endTime)];
    const quarter = (q: number) => (n: number) => Math.floor((n * q) / 4);
    const post = async (app: TestApp, from: number, to: number) => {
      await postReadings(app, readingBatches.slice(quarter(from)(readingBatches.length), quarter(to)(readingBatches.length)));
      await postTrades(app, tradeBatches.slice(quarter(from)(tradeBatches.length), quarter(to)(tradeBatches.length)));
      await app.settle();
    };
    const env = { ...PROCESSOR_ENV, CHECKPOINT_INTERVAL: '1ms' };
    const sources = patients('rs-0', 'rs-1', 'rs-2');
    const open = freshStore(env);
    /** The crash: the checkpoint `saved` in `as` format, outputs and stream as the life before left them. */
    const crashTo = async (saved: Saved, as: typeof format) => {
      const operator = await open({ PROCESSORS: 'off' });
      await operator.sql(sql`delete from processor_checkpoints`);
      // Rows beside a header of the old format are not its state (a later version's, before a downgrade):
      // the rows the life before left, a quarter of the stream past the checkpoint, stay to show they are ignored.
      if (as === 'series rows') await operator.sql(sql`delete from processor_series_states`);
      for (const c of saved.headers) {
        const whole = { clocks: {} as Record<string, number>, series: {} as Record<string, unknown> };
        for (const r of saved.series.filter((r) => r.pipeline === c.pipeline && r.partition === c.partition)) {
          whole.clocks[r.series] = r.clock;
          whole.series[r.series] = r.state;
        }
        await operator.sql(sql`insert into processor_checkpoints (pipeline, partition, partitions, cursor, state, updated_at)
          values (${c.pipeline}, ${c.partition}, ${c.partitions}, ${c.cursor}::int8, ${JSON.stringify(as === 'series rows' ? c.state : whole)}::jsonb, ${c.written_at}::timestamptz)`);
      }
      if (as === 'series rows') {
        for (const r of saved.series) {
          await operator.sql(sql`insert into processor_series_states (pipeline, series, partition, clock, watermark, state, cursor)
            values (${r.pipeline}, ${r.series}, ${r.partition}, ${r.clock}, ${r.watermark}, ${JSON.stringify(r.state)}::json, ${r.cursor}::int8)`);
        }
      }
      await operator.close();
    };
    const replayed = async (app: TestApp, postedQuarters: [number, number]) => {
      const { processors } = await app.mutate(ProcessorsDocument, {});
      const posted = readingBatches.slice(quarter(postedQuarters[0])(readingBatches.length), quarter(postedQuarters[1])(readingBatches.length)).flat().length;
      return processors.find((p) => p.name === 'readings')!.eventsIn - posted;
    };

    const uninterrupted = await startTestApp(backend, { env });
    await uninterrupted.mutate(RegisterSourcesDocument, { sources });
    await post(uninterrupted, 0, 4);
    const reference = await outputsOf(uninterrupted);
    const referenceStates = await finalSeriesStatesOf(uninterrupted);
    await uninterrupted.close();
    expect(reference.windows.length).toBeGreaterThan(500);

    // First life: a checkpoint a quarter of the way in, then outputs stored a quarter beyond it.
    const first = await open();
    await first.mutate(RegisterSourcesDocument, { sources });
    await post(first, 0, 1);
    const atQuarter = await savedIn(first);
    expect(atQuarter.series.length).toBeGreaterThan(0);
    // A series heard from only before the checkpoint: nothing after touches its state, which must still be
    // stored at the end (the first checkpoint after a start from the old format writes every series).
    const template = atQuarter.series.find((r) => r.pipeline === 'readings')!;
    const silent = { ...template, series: 'rs-silent/heart_rate', partition: partitionOf('rs-silent/heart_rate', atQuarter.headers[0]!.partitions) };
    atQuarter.series.push(silent);
    await post(first, 1, 2);
    await first.close();
    await crashTo(atQuarter, format);

    // Second life: replays the second quarter, takes the third, checkpointing series rows; then crashes again.
    const second = await open();
    await post(second, 2, 3);
    expect(await replayed(second, [2, 3]), 'the second life replayed the stream after the checkpoint').toBeGreaterThan(0);
    const atThreeQuarters = await savedIn(second);
    expect(atThreeQuarters.headers.every((h) => JSON.stringify(h.state) === '{}'), 'headers of series rows').toBe(true);
    await post(second, 3, 4);
    await second.close();
    await crashTo(atThreeQuarters, 'series rows');

    // Third life: from the rows the second wrote (all once, then only what changed), replays the last quarter.
    const third = await open();
    await third.settle();
    expect(await replayed(third, [4, 4]), 'the third life replayed the stream after the checkpoint').toBeGreaterThan(0);
    expect(await outputsOf(third)).toEqual(reference);
    const states = await finalSeriesStatesOf(third);
    expect(states.filter((r) => r.series !== silent.series)).toEqual(referenceStates);
    expect(states.find((r) => r.series === silent.series)).toEqual({ pipeline: silent.pipeline, series: silent.series, partition: silent.partition, clock: silent.clock, state: silent.state });
    await third.close();
    // Three runs of the whole stream and two crashes: 18-20 s alone here, 45-60 s beside another suite on a slow day.
  }, 180_000);
});
