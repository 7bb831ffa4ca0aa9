import { expect } from 'vitest';
import { IngestReadingsDocument, IngestTradesDocument, type ReadingInput, type TradeInput } from '../../src/generated/graphql.js';
import { sql, type TestApp } from './app.js';
import { T0 } from './fixtures.js';

/**
 * Random streams the way partners send them: events spread over a couple of
 * hours of event time, posted roughly in time order but shuffled locally
 * (some further back than the allowed lateness), some resent (duplicates,
 * one with a changed value), in batches of random size.
 */
export interface StreamShape {
  series: number;
  eventsPerSeries: number;
  spanMs: number;
  /** How far an event may be posted out of its time order. */
  jitterMs: number;
  /** Earliest event time; T0 unless given. */
  origin?: number;
}

export interface PostedStream<T> {
  batches: T[][];
  /** Event time of the last event of the main stream. */
  endTime: number;
}

/** mulberry32: a tiny seeded generator, so a failing stream can be replayed from its seed. */
class Random {
  constructor(private state: number) {}
  nextDouble(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  /** Uniform integer in [min, max]. */
  nextInt(min: number, max: number): number {
    return min + Math.floor(this.nextDouble() * (max - min + 1));
  }
}

function arrangeInBatches<T extends { time: string }>(items: T[], random: Random, jitterMs: number): T[][] {
  const keyed = items.map((item) => ({ item, key: Date.parse(item.time) + (random.nextDouble() * 2 - 1) * jitterMs }));
  keyed.sort((a, b) => a.key - b.key);
  const ordered = keyed.map((k) => k.item);
  // Resend about 5% later on, one of them with a different value, as a retrying client would.
  const resent = ordered.filter(() => random.nextDouble() < 0.05);
  const withRetries = [...ordered];
  for (const [i, item] of resent.entries()) {
    const at = Math.min(withRetries.length, withRetries.indexOf(item) + 1 + random.nextInt(0, 40));
    withRetries.splice(at, 0, i === 0 ? { ...item, ...changedValue(item) } : item);
  }
  const batches: T[][] = [];
  for (let i = 0; i < withRetries.length; ) {
    const size = random.nextInt(1, 60);
    batches.push(withRetries.slice(i, i + size));
    i += size;
  }
  return batches;
}

function changedValue(item: object): object {
  if ('value' in item) return { value: (item as { value: number }).value + 1 };
  return { price: (item as { price: number }).price + 1 };
}

/** Unique event times per series: distinct millisecond offsets drawn without replacement. */
function distinctTimes(random: Random, count: number, spanMs: number, origin = T0): number[] {
  const times = new Set<number>();
  while (times.size < count) times.add(origin + random.nextInt(0, spanMs - 1));
  return [...times];
}

export function readingsStream(seed: number, prefix: string, shape: StreamShape): PostedStream<ReadingInput> {
  const random = new Random(seed);
  const items: ReadingInput[] = [];
  const metrics = ['heart_rate', 'spo2'];
  for (let s = 0; s < shape.series; s++) {
    const sourceId = `${prefix}-${Math.floor(s / metrics.length)}`;
    const metric = metrics[s % metrics.length]!;
    for (const time of distinctTimes(random, shape.eventsPerSeries, shape.spanMs, shape.origin)) {
      // Decimals, and the odd reading out of range (stored SUSPECT) or flagged BAD by its sender: stored, in no window.
      const roll = random.nextDouble();
      const plausible = Math.round((metric === 'spo2' ? 90 + random.nextDouble() * 10 : 40 + random.nextDouble() * 120) * 100) / 100;
      const value = roll < 0.02 ? (metric === 'spo2' ? 120 : 350) : plausible;
      items.push({ sourceId, metric, time: new Date(time).toISOString(), value, ...(roll > 0.98 ? { quality: 'BAD' as const } : {}) });
    }
  }
  return { batches: arrangeInBatches(items, random, shape.jitterMs), endTime: (shape.origin ?? T0) + shape.spanMs };
}

export function tradesStream(seed: number, prefix: string, shape: StreamShape): PostedStream<TradeInput> {
  const random = new Random(seed);
  const items: TradeInput[] = [];
  for (let s = 0; s < shape.series; s++) {
    const symbol = `${prefix}${s}`;
    for (const time of distinctTimes(random, shape.eventsPerSeries, shape.spanMs, shape.origin)) {
      items.push({
        symbol,
        time: new Date(time).toISOString(),
        price: Math.round((100 + random.nextDouble() * 20) * 10_000) / 10_000,
        size: random.nextInt(1, 500),
      });
    }
  }
  return { batches: arrangeInBatches(items, random, shape.jitterMs), endTime: (shape.origin ?? T0) + shape.spanMs };
}

const close = (a: number | null, b: number | null) =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Each row carries stored figures and the same figures computed by SQL as `sql_<name>`: `exact` ones must be
 * equal, `approximate` ones (float sums in another order) within 1e-9 relative.
 */
function expectRowsMatchSql<R extends object>(rows: R[], label: (row: R) => string, exact: (keyof R & string)[], approximate: (keyof R & string)[]) {
  for (const row of rows) {
    const r = row as Record<string, number | null>;
    const what = label(row);
    const pick = (prefix: string) => Object.fromEntries([['what', what], ...exact.map((k) => [k, r[`${prefix}${k}`]])]);
    expect(pick('')).toEqual(pick('sql_'));
    for (const k of approximate) expect(close(r[k] ?? null, r[`sql_${k}`] ?? null), `${what} ${k} ${r[k]} vs ${r[`sql_${k}`]}`).toBe(true);
  }
}

interface WindowVsSql {
  series: string;
  size_ms: string;
  hop_ms: string;
  start_ms: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  stddev: number | null;
  first: number;
  last: number;
  sql_count: number;
  sql_min: number;
  sql_max: number;
  sql_avg: number;
  sql_stddev: number | null;
  sql_first: number;
  sql_last: number;
}

/**
 * Every closed stored window of the series under `prefix` beside the same
 * aggregates computed by SQL over the stored raw rows, less the late events
 * (as the lateEvents query lists them) that came once it had closed: behind a
 * watermark at or past its end. Returns how many were compared.
 */
export async function expectWindowsEqualSql(app: TestApp, prefix: string): Promise<number> {
  const compared = await app.sql<WindowVsSql>(sql`
    select w.source_id || '/' || w.metric as series, w.size_ms::text, w.hop_ms::text,
      (extract(epoch from w.start_time) * 1000)::float8 as start_ms,
      w.count, w.min, w.max, w.avg, w.stddev, w.first, w.last,
      s.count as sql_count, s.min as sql_min, s.max as sql_max, s.avg as sql_avg, s.stddev as sql_stddev,
      s.first as sql_first, s.last as sql_last
    from window_aggregates w
    cross join lateral (
      select count(*)::int as count, min(value) as min, max(value) as max, avg(value) as avg, stddev(value) as stddev,
        (array_agg(value order by time))[1] as first, (array_agg(value order by time desc))[1] as last
      from readings r
      where r.source_id = w.source_id and r.metric = w.metric and r.time >= w.start_time and r.time < w.end_time and r.quality = 'GOOD'
        and not exists (select 1 from late_events l where l.pipeline = 'readings' and l.cursor = r.seq and l.watermark >= w.end_time)
    ) s
    where w.closed and w.source_id like ${`${prefix}-%`}
    order by 1, 2, 3, 4`);
  expectRowsMatchSql(compared, (r) => `${r.series} ${r.size_ms}/${r.hop_ms} @ ${new Date(r.start_ms).toISOString()}`, ['count', 'min', 'max', 'first', 'last'], ['avg', 'stddev']);
  return compared.length;
}

interface BucketRow {
  series: string;
  start_ms: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  stddev: number | null;
  first: number;
  last: number;
}

/**
 * The tumbling windows of `sizeMs` that closed by `closedBy` are exactly the
 * buckets SQL makes of the stored rows (less late events that came once the bucket had closed): time_bucket on
 * TimescaleDB, date_bin with time_bucket's origin on plain PostgreSQL.
 */
export async function expectTumblingEqualBucketSql(app: TestApp, prefix: string, sizeMs: number, closedBy: number): Promise<number> {
  const interval = sql.raw(`interval '${sizeMs} milliseconds'`);
  const bucket = app.server.services.database.timescale ? sql`time_bucket(${interval}, time)` : sql`date_bin(${interval}, time, timestamptz '2000-01-03')`;
  const expected = await app.sql<BucketRow>(sql`
    select source_id || '/' || metric as series, (extract(epoch from ${bucket}) * 1000)::float8 as start_ms,
      count(*)::int as count, min(value) as min, max(value) as max, avg(value) as avg, stddev(value) as stddev,
      (array_agg(value order by time))[1] as first, (array_agg(value order by time desc))[1] as last
    from readings r
    where source_id like ${`${prefix}-%`} and quality = 'GOOD'
      and not exists (select 1 from late_events l where l.pipeline = 'readings' and l.cursor = r.seq and l.watermark >= ${bucket} + ${interval})
    group by 1, 2
    having (extract(epoch from ${bucket}) * 1000)::float8 + ${sizeMs} <= ${closedBy}
    order by 1, 2`);
  const stored = await app.sql<BucketRow>(sql`
    select source_id || '/' || metric as series, (extract(epoch from start_time) * 1000)::float8 as start_ms,
      count, min, max, avg, stddev, first, last
    from window_aggregates
    where closed and size_ms = ${sizeMs} and hop_ms = ${sizeMs} and source_id like ${`${prefix}-%`}
      and (extract(epoch from end_time) * 1000)::float8 <= ${closedBy}
    order by 1, 2`);
  const exact = (rows: BucketRow[]) => rows.map(({ avg: _a, stddev: _s, ...rest }) => rest);
  expect(exact(stored)).toEqual(exact(expected));
  stored.forEach((row, i) => {
    expect(close(row.avg, expected[i]!.avg), `avg of ${row.series} @ ${row.start_ms}`).toBe(true);
    expect(close(row.stddev, expected[i]!.stddev), `stddev of ${row.series} @ ${row.start_ms}`).toBe(true);
  });
  return stored.length;
}

/**
 * Windows that must be closed: every window (of each configured spec) that
 * holds a non-late reading of the series and ends at or before `closedBy`.
 * Compared as keys with the closed windows stored.
 */
export async function expectEveryWindowClosed(app: TestApp, prefix: string, specs: { sizeMs: number; hopMs: number }[], closedBy: number) {
  const stored = await app.sql<{ time_ms: number; series: string; behind_ms: number | null }>(sql`
    select (extract(epoch from time) * 1000)::float8 as time_ms, source_id || '/' || metric as series,
      (select (extract(epoch from l.watermark) * 1000)::float8 from late_events l where l.pipeline = 'readings' and l.cursor = r.seq) as behind_ms
    from readings r
    where source_id like ${`${prefix}-%`} and quality = 'GOOD'`);
  const origin = Date.UTC(2000, 0, 3);
  const expected = new Set<string>();
  for (const { time_ms, series, behind_ms } of stored) {
    for (const { sizeMs, hopMs } of specs) {
      const lastStart = time_ms - ((((time_ms - origin) % hopMs) + hopMs) % hopMs);
      for (let start = lastStart; start > time_ms - sizeMs; start -= hopMs) {
        // A late reading is in the windows still open when it came.
        if (behind_ms !== null && start + sizeMs <= behind_ms) continue;
        if (start + sizeMs <= closedBy) expected.add(`${series} ${sizeMs}/${hopMs} ${start}`);
      }
    }
  }
  const closed = await app.sql<{ key: string }>(sql`
    select source_id || '/' || metric || ' ' || size_ms || '/' || hop_ms || ' ' || ((extract(epoch from start_time) * 1000)::int8)::text as key
    from window_aggregates where closed and source_id like ${`${prefix}-%`}`);
  const closedKeys = new Set(closed.map((c) => c.key));
  expect([...expected].filter((k) => !closedKeys.has(k))).toEqual([]);
  expect([...closedKeys].filter((k) => !expected.has(k))).toEqual([]);
  return expected.size;
}

interface CandleVsSql {
  symbol: string;
  interval_ms: string;
  start_ms: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  vwap: number;
  trades: number;
  sql_open: number;
  sql_high: number;
  sql_low: number;
  sql_close: number;
  sql_volume: number;
  sql_vwap: number;
  sql_trades: number;
}

/** Every closed stored candle of symbols under `prefix` beside SQL over the stored trades (less those that came once it had closed). */
export async function expectCandlesEqualSql(app: TestApp, prefix: string): Promise<number> {
  const compared = await app.sql<CandleVsSql>(sql`
    select c.symbol, c.interval_ms::text, (extract(epoch from c.start_time) * 1000)::float8 as start_ms,
      c.open, c.high, c.low, c.close, c.volume, c.vwap, c.trades,
      s.open as sql_open, s.high as sql_high, s.low as sql_low, s.close as sql_close,
      s.volume as sql_volume, s.vwap as sql_vwap, s.trades as sql_trades
    from candles c
    cross join lateral (
      select (array_agg(price order by time))[1] as open, max(price) as high, min(price) as low,
        (array_agg(price order by time desc))[1] as close, sum(size) as volume,
        sum(price * size) / sum(size) as vwap, count(*)::int as trades
      from trades t
      where t.symbol = c.symbol and t.time >= c.start_time and t.time < c.end_time
        and not exists (select 1 from late_events l where l.pipeline = 'trades' and l.cursor = t.seq and l.watermark >= c.end_time)
    ) s
    where c.closed and c.symbol like ${`${prefix}%`}
    order by 1, 2, 3`);
  expectRowsMatchSql(compared, (r) => `${r.symbol} ${r.interval_ms} @ ${new Date(r.start_ms).toISOString()}`, ['open', 'high', 'low', 'close', 'trades'], ['volume', 'vwap']);
  return compared.length;
}

/** Every final processor output stored, in a stable order: what two runs of the same stream must agree on. */
export async function outputsOf(app: TestApp) {
  return {
    windows: await app.sql(sql`select source_id, metric, size_ms::text, hop_ms::text, start_time::text, count, min, max, avg, stddev, first, last
      from window_aggregates where closed order by 1, 2, 3, 4, 5`),
    candles: await app.sql(sql`select symbol, interval_ms::text, start_time::text, open, high, low, close, volume, vwap, trades
      from candles where closed order by 1, 2, 3`),
    anomalies: await app.sql(sql`select source_id, metric, time::text, value, cursor::text, mean, stddev, z_score from anomalies order by cursor`),
  };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const SPECS = [
  { sizeMs: MINUTE, hopMs: MINUTE },
  { sizeMs: 5 * MINUTE, hopMs: 5 * MINUTE },
  { sizeMs: HOUR, hopMs: HOUR },
  { sizeMs: 5 * MINUTE, hopMs: MINUTE },
];
export const PROCESSOR_ENV = { ALLOWED_LATENESS: '30s', WINDOWS: '1m,5m,1h,5m/1m', CANDLE_INTERVALS: '1s,1m,5m,1h', PROCESSOR_PARTITIONS: '4' };
export const SHAPE = { series: 6, eventsPerSeries: 120, spanMs: 2 * HOUR, jitterMs: 40_000 };

export async function postReadings(app: Pick<TestApp, 'mutate'>, batches: ReadingInput[][]) {
  const results = [];
  for (const readings of batches) results.push((await app.mutate(IngestReadingsDocument, { readings })).ingestReadings);
  return results;
}

export async function postTrades(app: Pick<TestApp, 'mutate'>, batches: TradeInput[][]) {
  const results = [];
  for (const trades of batches) results.push((await app.mutate(IngestTradesDocument, { trades })).ingestTrades);
  return results;
}

/** One reading per series far past the stream, so every partition's watermark passes every window of it. */
export function flushReadings(prefix: string, series: number, after: number): ReadingInput[] {
  return Array.from({ length: series }, (_, s) => ({
    sourceId: `${prefix}-${Math.floor(s / 2)}`,
    metric: s % 2 ? 'spo2' : 'heart_rate',
    time: new Date(after + 3 * HOUR).toISOString(),
    value: s % 2 ? 97 : 70,
  }));
}

export const flushTrades = (prefix: string, series: number, after: number): TradeInput[] =>
  Array.from({ length: series }, (_, s) => ({ symbol: `${prefix}${s}`, time: new Date(after + 3 * HOUR).toISOString(), price: 100, size: 1 }));
