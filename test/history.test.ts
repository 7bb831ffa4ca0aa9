import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATES, FILLS, history } from '../src/db/history.js';
import { HistoryDocument, IngestReadingsDocument, RegisterSourcesDocument, type ReadingInput } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { T0, at, patients, reading } from './support/fixtures.js';
import { gql } from './support/keyed-client.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** An irregular series: jittered times, values that wander, and two silent stretches. */
function irregularSeries(sourceId: string): ReadingInput[] {
  const out: ReadingInput[] = [];
  let value = 80;
  for (let s = 0; s < 40 * 60; s += 7 + (s % 13)) {
    const minute = Math.floor(s / 60);
    if ((minute >= 6 && minute < 9) || (minute >= 21 && minute < 23)) continue;
    value += ((s * 7919) % 11) - 5;
    out.push(reading(sourceId, 'heart_rate', value, s));
  }
  return out;
}

const SQL_AGGREGATE = {
  AVG: sql`avg(value)`,
  MIN: sql`min(value)`,
  MAX: sql`max(value)`,
  COUNT: sql`count(*)::float8`,
  FIRST: sql`(array_agg(value order by time))[1]`,
  LAST: sql`(array_agg(value order by time desc))[1]`,
} as const;

describe.each(primaryBackends)('history on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
    await app.mutate(RegisterSourcesDocument, { sources: patients('hist-1', 'hist-2', 'gaps') });
    const series = irregularSeries('hist-1');
    for (let i = 0; i < series.length; i += 100) await app.mutate(IngestReadingsDocument, { readings: series.slice(i, i + 100) });
    // Noise in other series must not leak into hist-1's buckets.
    await app.mutate(IngestReadingsDocument, { readings: [reading('hist-2', 'heart_rate', 500, 65), reading('hist-1', 'spo2', 90, 65)] });
    await app.mutate(IngestReadingsDocument, {
      readings: [reading('gaps', 'resp_rate', 10, 10), reading('gaps', 'resp_rate', 20, 70), reading('gaps', 'resp_rate', 50, 250)],
    });
  });
  afterAll(() => app?.close());

  for (const aggregate of AGGREGATES) {
    for (const bucket of ['1m', '5m'] as const) {
      it(`${aggregate} over ${bucket} buckets equals the same aggregate computed by SQL over the stored rows, the first bucket whole`, async () => {
        // Mid-bucket: the range starts at the start of from's bucket, so the first bucket is not a part of one.
        const from = T0 + 30_000;
        const to = T0 + 37 * 60_000 + 15_000;
        const interval = bucket === '1m' ? '1 minute' : '5 minutes';
        const response = await app.request(HistoryDocument, {
          sourceId: 'hist-1', metric: 'heart_rate', from: iso(from), to: iso(to), bucket, aggregate,
        });
        expect(response.errors).toBeUndefined();
        const expected = await app.sql<{ bucket_ms: number; value: number }>(
          sql`select (extract(epoch from date_bin(${interval}::interval, time, '2000-01-03T00:00:00Z'::timestamptz)) * 1000)::float8 as bucket_ms,
                ${SQL_AGGREGATE[aggregate]}::float8 as value
              from readings where source_id = 'hist-1' and metric = 'heart_rate'
                and time >= date_bin(${interval}::interval, ${iso(from)}::timestamptz, '2000-01-03T00:00:00Z'::timestamptz) and time < ${iso(to)}::timestamptz
              group by 1 order by 1`,
        );
        const got = response.data!.history;
        expect(got.map((p) => p.bucket)).toEqual(expected.map((e) => iso(e.bucket_ms)));
        got.forEach((point, i) => expect(point.value).toBeCloseTo(expected[i]!.value, 9));
      });
    }
  }

  it('answers the same for a range starting mid-bucket as for one starting at the bucket', async () => {
    const query = async (from: string) =>
      (await app.mutate(HistoryDocument, { sourceId: 'gaps', metric: 'resp_rate', from, to: at(6 * 60), bucket: '2m', aggregate: 'AVG' })).history;
    // 10 at 0:10 and 20 at 1:10 share the 2-minute bucket at 0:00 (T0 is at a 2-minute edge); from 0:30 leaves it whole.
    expect(await query(at(30))).toEqual(await query(at(0)));
    expect((await query(at(30)))[0]).toEqual({ bucket: at(0), value: 15 });
  });

  it('fills empty buckets by carrying forward (LOCF) and by linear interpolation, within the range', async () => {
    const query = (fill: 'NONE' | 'LOCF' | 'INTERPOLATE') =>
      app.mutate(HistoryDocument, { sourceId: 'gaps', metric: 'resp_rate', from: at(0), to: at(6 * 60), bucket: '1m', aggregate: 'AVG', fill });
    const values = async (fill: 'NONE' | 'LOCF' | 'INTERPOLATE') => (await query(fill)).history.map((p) => [p.bucket, p.value]);
    const minute = (m: number) => at(m * 60);
    expect(await values('NONE')).toEqual([[minute(0), 10], [minute(1), 20], [minute(4), 50]]);
    expect(await values('LOCF')).toEqual([[minute(0), 10], [minute(1), 20], [minute(2), 20], [minute(3), 20], [minute(4), 50], [minute(5), 50]]);
    expect(await values('INTERPOLATE')).toEqual([[minute(0), 10], [minute(1), 20], [minute(2), 30], [minute(3), 40], [minute(4), 50], [minute(5), null]]);
    // A count is never carried or interpolated: no reading came in an empty bucket.
    for (const fill of ['LOCF', 'INTERPOLATE'] as const) {
      const counts = (await app.mutate(HistoryDocument, { sourceId: 'gaps', metric: 'resp_rate', from: at(0), to: at(6 * 60), bucket: '1m', aggregate: 'COUNT', fill })).history;
      expect(counts.map((p) => [p.bucket, p.value]), fill).toEqual([[minute(0), 1], [minute(1), 1], [minute(2), 0], [minute(3), 0], [minute(4), 1], [minute(5), 0]]);
    }
  });

  it('fills no further than the bucket holding now: nothing is carried, interpolated or counted 0 into a time not yet come', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('until-now') });
    const MINUTE = 60_000;
    const minuteOf = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;
    const m = minuteOf(Date.now());
    const timed = (value: number, ms: number): ReadingInput => ({ sourceId: 'until-now', metric: 'heart_rate', value, time: iso(ms) });
    // The last one is ahead of the server's clock, within MAX_FUTURE_SKEW (5 min): a device clock running fast.
    await app.mutate(IngestReadingsDocument, { readings: [timed(70, m - 3 * MINUTE + 10_000), timed(80, m - MINUTE + 10_000), timed(90, m + 3 * MINUTE + 10_000)] });
    const bucket = (k: number) => iso(m + k * MINUTE);
    const answer = async (aggregate: 'AVG' | 'COUNT', fill: 'LOCF' | 'INTERPOLATE') => {
      // The range runs half an hour past now. A query that straddles a minute's end holds one more bucket: asked again.
      for (;;) {
        const before = minuteOf(Date.now());
        const { history: points } = await app.mutate(HistoryDocument, {
          sourceId: 'until-now', metric: 'heart_rate', from: bucket(-4), to: bucket(30), bucket: '1m', aggregate, fill,
        });
        if (before === m && minuteOf(Date.now()) === m) return points.map((p) => [p.bucket, p.value]);
        if (before !== m) return undefined;
      }
    };
    const checked = async (aggregate: 'AVG' | 'COUNT', fill: 'LOCF' | 'INTERPOLATE', expected: unknown) => {
      const got = await answer(aggregate, fill);
      // The minute of the readings has passed (a very slow machine): what is carried is then one bucket longer.
      if (got !== undefined) expect(got, `${aggregate} ${fill}`).toEqual(expected);
    };
    await checked('AVG', 'LOCF', [[bucket(-4), null], [bucket(-3), 70], [bucket(-2), 70], [bucket(-1), 80], [bucket(0), 80], [bucket(3), 90]]);
    await checked('AVG', 'INTERPOLATE', [[bucket(-4), null], [bucket(-3), 70], [bucket(-2), 75], [bucket(-1), 80], [bucket(0), 82.5], [bucket(3), 90]]);
    await checked('COUNT', 'LOCF', [[bucket(-4), 0], [bucket(-3), 1], [bucket(-2), 0], [bucket(-1), 1], [bucket(0), 0], [bucket(3), 1]]);
  });

  it('counts readings of the qualities asked for: an artefact flagged SUSPECT or BAD moves AVG and MAX only when all are asked for', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('artefact') });
    await app.mutate(IngestReadingsDocument, {
      readings: [
        reading('artefact', 'heart_rate', 70, 0),
        reading('artefact', 'heart_rate', 80, 10),
        // Out of the plausible range: stored SUSPECT by the platform.
        reading('artefact', 'heart_rate', 350, 20),
        // Flagged by the monitor: a probe off.
        { ...reading('artefact', 'heart_rate', 0, 30), quality: 'BAD' as const },
      ],
    });
    const bucket = async (aggregate: 'AVG' | 'MAX' | 'COUNT', qualities?: ('GOOD' | 'SUSPECT' | 'BAD')[]) =>
      (await app.mutate(HistoryDocument, { sourceId: 'artefact', metric: 'heart_rate', from: at(0), to: at(60), bucket: '1m', aggregate, qualities })).history.map((p) => p.value);
    expect(await bucket('AVG')).toEqual([125]);
    expect(await bucket('AVG', ['GOOD'])).toEqual([75]);
    expect(await bucket('MAX', ['GOOD'])).toEqual([80]);
    expect(await bucket('COUNT', ['GOOD', 'SUSPECT'])).toEqual([3]);
    expect(await bucket('AVG', ['BAD'])).toEqual([0]);
  });

  it('gives the TimescaleDB path and the plain PostgreSQL path the same answer for every aggregate and fill', async () => {
    const { database } = app.server.services;
    if (!database.timescale) return; // Only a TimescaleDB database can run both paths.
    for (const aggregate of AGGREGATES) {
      for (const fill of FILLS) {
        const request = { sourceId: 'hist-1', metric: 'heart_rate', from: new Date(T0 + 45_000), to: new Date(T0 + 40 * 60_000), bucketMs: 120_000, aggregate, fill };
        const timescale = await history(database.db, true, request);
        const plain = await history(database.db, false, request);
        expect(plain.map((p) => p.bucketMs)).toEqual(timescale.map((p) => p.bucketMs));
        plain.forEach((p, i) => (p.value === null ? expect(timescale[i]!.value).toBeNull() : expect(p.value).toBeCloseTo(timescale[i]!.value!, 9)));
      }
    }
  });

  it('plans in sessions with room to hash buckets and without JIT compilation (sessionSettings)', async () => {
    const [settings] = await app.sql<{ work_mem: string; jit: string }>(sql`select current_setting('work_mem') as work_mem, current_setting('jit') as jit`);
    expect(settings).toEqual({ work_mem: '32MB', jit: 'off' });
  });

  it('refuses a bad bucket or range with a clear, coded error', async () => {
    const base = { sourceId: 'hist-1', metric: 'heart_rate', from: at(0), to: at(60) };
    const badBucket = await app.request(HistoryDocument, { ...base, bucket: '5 parsecs' });
    expect(badBucket.errors?.[0]).toMatchObject({ message: expect.stringContaining('bucket must be'), extensions: { code: 'BAD_USER_INPUT' } });
    const tooMany = await app.request(HistoryDocument, { ...base, to: at(86_400 * 30), bucket: '1s' });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('TOO_MANY_BUCKETS');
    const backwards = await app.request(HistoryDocument, { ...base, from: at(60), to: at(0), bucket: '1m' });
    expect(backwards.errors?.[0]?.message).toContain('to must be after from');
    // Written with different offsets, two equal instants look apart: the refusal names both in UTC.
    const sameInstant = await app.request(HistoryDocument, { ...base, from: '2026-03-01T05:30:00+05:30', to: '2026-03-01T00:00:00Z', bucket: '1m' });
    expect(sameInstant.errors?.[0]).toMatchObject({
      message: 'to must be after from: got from 2026-03-01T00:00:00.000Z and to 2026-03-01T00:00:00.000Z (UTC)',
      extensions: { code: 'BAD_USER_INPUT', argument: 'to' },
    });
    const badTime = await app.request(HistoryDocument, { ...base, from: 'last tuesday', bucket: '1m' });
    expect(badTime.errors?.[0]?.message).toContain('DateTime must be an ISO-8601 timestamp');
    // Written in the document, the refusal points at the literal, as graphql-js's other refusals do: which of from and to.
    const written = `{\n  history(sourceId: "hist-1", metric: "heart_rate", bucket: "1m",\n    from: "${at(0)}", to: "2026-03-01") { value }\n}`;
    const literal = (await gql(`${app.url}/graphql`)(null, written)).body;
    expect(literal.errors?.[0]).toMatchObject({
      message: expect.stringContaining('DateTime must be an ISO-8601 timestamp with seconds and a time zone, e.g. 2026-01-01T12:00:00Z; got "2026-03-01"'),
      locations: [{ line: 3, column: 19 + at(0).length }],
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });
});
