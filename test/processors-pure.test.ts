import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deepFreeze, END_OF_TIME, runPure as run, type Kept } from './support/pure-runtime.js';
import type { Output, Processor } from '../src/processors/processor.js';
import { bucketStart, WINDOW_ORIGIN, type Point, type Trade } from '../src/processors/series.js';
import { addOhlcv, addStats, createOhlcv, createStats, extractOhlcv, extractStats, mergeOhlcv, mergeStats, type OhlcvAccumulator } from '../src/processors/accumulators.js';
import type { WindowSpec } from '../src/processors/keyed-windows.js';
import { createWindowsProcessor, type WindowAggregate } from '../src/processors/windows.js';
import { createCandlesProcessor, type Candle } from '../src/processors/candles.js';
import { createAnomalyProcessor, MIN_RELATIVE_STDDEV, varianceSettler, type AnomalyFlag } from '../src/processors/anomaly.js';
import { seededNormal } from './support/gaussian.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const seriesKey = (p: Point) => `${p.sourceId}\u0000${p.metric}`;

/** Windows [s, s + size) holding t with s = origin + k * hop, found by trying every k near t. */
function startsHolding(time: number, { sizeMs, hopMs }: WindowSpec): number[] {
  const starts: number[] = [];
  const k0 = Math.floor((time - WINDOW_ORIGIN - sizeMs) / hopMs);
  for (let k = k0; k <= k0 + sizeMs / hopMs + 1; k++) {
    const start = WINDOW_ORIGIN + k * hopMs;
    if (start <= time && time < start + sizeMs) starts.push(start);
  }
  return starts;
}

/** The windows holding a kept event that take it: all of them, or for an event behind the watermark those ending after it. */
function startsTaking({ event, behind }: Kept<{ time: number }>, spec: WindowSpec): number[] {
  return startsHolding(event.time, spec).filter((start) => behind === undefined || start + spec.sizeMs > behind);
}

function groupBy<T>(items: T[], keysOf: (item: T) => string[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) for (const key of keysOf(item)) groups.set(key, [...(groups.get(key) ?? []), item]);
  return groups;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * `expected` when `actual` is within 1e-9 relative to the magnitude of the
 * data (a stddev near 0 of values near 1e6 is only that precise), else
 * `actual`: one deep compare then shows every difference.
 */
function snap(actual: number | null, expected: number | null, scale: number): number | null {
  if (actual === null || expected === null) return actual;
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, scale) ? expected : actual;
}

/** Each window with data closes exactly once, and its last open update already said the same. */
function closedOnce<Out extends Output & { closed: boolean }>(out: Out[]): Map<string, Out> {
  const closed = new Map<string, Out>();
  const latest = new Map<string, Out>();
  const problems: string[] = [];
  for (const o of out) {
    const id = JSON.stringify(o.id);
    if (closed.has(o.id)) problems.push(`${id} ${o.closed ? 'closed twice' : 'updated after closing'}`);
    if (o.closed) {
      if (JSON.stringify({ ...latest.get(o.id), closed: true }) !== JSON.stringify(o)) problems.push(`${id} closed unlike its last update`);
      closed.set(o.id, o);
    } else {
      latest.set(o.id, o);
    }
  }
  expect(problems).toEqual([]);
  expect([...latest.keys()].sort()).toEqual([...closed.keys()].sort());
  return closed;
}

// ---------------------------------------------------------------- generators

/** Hour-aligned, and also a base just before WINDOW_ORIGIN, where a naive `%` floors the wrong way. */
const base = fc.constantFrom(Date.UTC(2024, 4, 6, 9), WINDOW_ORIGIN - HOUR);
/** Within 3 h, with clusters and exact bucket boundaries so windows hold several points. */
const offset = fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: 0, max: 10 * MINUTE }), fc.integer({ min: 0, max: 2 * MINUTE }), fc.constantFrom(0, 999, SECOND, MINUTE - 1, MINUTE, 5 * MINUTE, HOUR));
const value = fc.oneof(
  fc.integer({ min: -10_000_000, max: 10_000_000 }).map((n) => n / 100),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v + 0), // + 0 turns -0 into 0
);
const SERIES = [
  ['bed-01', 'heart_rate'],
  ['bed-01', 'spo2'],
  ['bed-02', 'heart_rate'],
] as const;

/** Points of a few series, unique times per series, in an arbitrary order; cursors follow delivery (commit) order. */
const points = fc
  .tuple(base, fc.uniqueArray(fc.record({ series: fc.nat(SERIES.length - 1), offset, value }), { selector: (p) => `${p.series}/${p.offset}`, maxLength: 60, size: 'max' }))
  .chain(([t0, raw]) => fc.shuffledSubarray(raw, { minLength: raw.length, maxLength: raw.length }).map((shuffled) => ({ t0, shuffled })))
  .map(({ t0, shuffled }) =>
    shuffled.map((p, i): Point => ({ sourceId: SERIES[p.series]![0], metric: SERIES[p.series]![1], time: t0 + p.offset, value: p.value, cursor: String(i + 1) })),
  );

const watermarks = fc.record({ watermarkAfter: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }), lateness: fc.integer({ min: 0, max: 30 * MINUTE }) });

// ---------------------------------------------------------------- series

describe('bucketStart', () => {
  it('floors to the bucket holding the time, aligned to Monday 2000-01-03, before the origin too', () => {
    fc.assert(
      fc.property(fc.integer({ min: -40 * 365 * DAY, max: 40 * 365 * DAY }), fc.constantFrom(SECOND, MINUTE, 5 * MINUTE, HOUR, 7 * DAY), (fromOrigin, size) => {
        const time = WINDOW_ORIGIN + fromOrigin;
        const start = bucketStart(time, size);
        expect(start <= time && time < start + size).toBe(true);
        expect(Math.abs((start - WINDOW_ORIGIN) % size)).toBe(0);
      }),
      { numRuns: 200 },
    );
    expect(bucketStart(Date.UTC(2024, 4, 9, 12), 7 * DAY)).toBe(Date.UTC(2024, 4, 6)); // a Monday, like time_bucket('1 week')
    expect(bucketStart(WINDOW_ORIGIN - 1, HOUR)).toBe(WINDOW_ORIGIN - HOUR);
  });
});

// ---------------------------------------------------------------- windows

const SPECS: WindowSpec[] = [
  { sizeMs: MINUTE, hopMs: MINUTE },
  { sizeMs: 5 * MINUTE, hopMs: 5 * MINUTE },
  { sizeMs: HOUR, hopMs: HOUR },
  { sizeMs: 5 * MINUTE, hopMs: MINUTE },
];

/** Brute force over the whole set: every window of every spec that holds a point. */
function expectWindowsMatchReference(out: WindowAggregate[], taken: Kept<Point>[]) {
  const closed = closedOnce(out);
  const groups = groupBy(taken, (k) => SPECS.flatMap((spec) => startsTaking(k, spec).map((start) => `${seriesKey(k.event)}\u0000${spec.sizeMs}\u0000${spec.hopMs}\u0000${start}`)));
  expect([...closed.keys()].sort()).toEqual([...groups.keys()].sort());
  const actual: WindowAggregate[] = [];
  const expected: WindowAggregate[] = [];
  for (const [id, taken] of groups) {
    const members = taken.map((k) => k.event);
    const byTime = [...members].sort((a, b) => a.time - b.time);
    const values = members.map((p) => p.value);
    const mean = sum(values) / values.length;
    const [sourceId, metric, sizeMs, hopMs, start] = id.split('\u0000');
    const want: WindowAggregate = {
      id, sourceId: sourceId!, metric: metric!, sizeMs: Number(sizeMs), hopMs: Number(hopMs), start: Number(start), end: Number(start) + Number(sizeMs),
      count: members.length, min: Math.min(...values), max: Math.max(...values),
      avg: mean, stddev: values.length < 2 ? null : Math.sqrt(sum(values.map((v) => (v - mean) ** 2)) / (values.length - 1)),
      first: byTime[0]!.value, firstTime: byTime[0]!.time, last: byTime.at(-1)!.value, lastTime: byTime.at(-1)!.time,
      closed: true,
    };
    const got = closed.get(id)!;
    const scale = Math.max(...values.map(Math.abs));
    expected.push(want);
    actual.push({ ...got, avg: snap(got.avg, want.avg, scale)!, stddev: snap(got.stddev, want.stddev, scale) });
  }
  expect(actual).toStrictEqual(expected);
}

describe('windows processor', () => {
  const windows = createWindowsProcessor(SPECS);

  it('closes every window with data once, equal to a brute-force reference, whatever the arrival order', () => {
    fc.assert(
      fc.property(points, (stream) => {
        const { out, taken } = run(windows, seriesKey, stream);
        expect(taken).toHaveLength(stream.length);
        expectWindowsMatchReference(out, taken);
      }),
      { numRuns: 150 },
    );
  });

  it('with watermarks along the way, closed windows equal the reference: an event behind the watermark only in the windows still open', () => {
    fc.assert(
      fc.property(points, watermarks, (stream, plan) => {
        const { out, taken } = run(windows, seriesKey, stream, plan);
        expectWindowsMatchReference(out, taken);
      }),
      { numRuns: 150 },
    );
  });

  it('resumes from a JSON checkpoint taken anywhere with the same outputs as an uninterrupted run', () => {
    fc.assert(
      fc.property(
        points.chain((stream) => fc.tuple(fc.constant(stream), fc.nat(stream.length))),
        watermarks,
        ([stream, checkpointAt], plan) => {
          expect(run(windows, seriesKey, stream, { ...plan, checkpointAt }).out).toStrictEqual(run(windows, seriesKey, stream, plan).out);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('emits each updated window on every point, closes in (size, hop, start) order, and skips work when nothing closes', () => {
    const p = (time: number, value: number, cursor: string): Point => ({ sourceId: 'bed-01', metric: 'heart_rate', time, value, cursor });
    const processor = createWindowsProcessor([{ sizeMs: 5 * MINUTE, hopMs: MINUTE }, { sizeMs: MINUTE, hopMs: MINUTE }]);
    const t0 = Date.UTC(2024, 4, 6, 9);
    let step = processor.onEvent(processor.init('bed-01\u0000heart_rate'), p(t0 + 90 * SECOND, 80, '1'));
    expect(step.out.map((w) => [w.sizeMs, w.start - t0, w.closed])).toEqual([
      [5 * MINUTE, -3 * MINUTE, false], [5 * MINUTE, -2 * MINUTE, false], [5 * MINUTE, -MINUTE, false], [5 * MINUTE, 0, false], [5 * MINUTE, MINUTE, false],
      [MINUTE, MINUTE, false],
    ]);
    step = processor.onEvent(step.state, p(t0 + 100 * SECOND, 90, '2'));
    expect(step.out.at(-1)).toMatchObject({ count: 2, avg: 85, first: 80, last: 90 });

    const idle = processor.onWatermark(step.state, t0 + MINUTE);
    expect(idle).toEqual({ state: step.state, out: [] });
    expect(idle.state).toBe(step.state);

    const closing = processor.onWatermark(step.state, t0 + 2 * MINUTE);
    expect(closing.out.map((w) => [w.sizeMs, w.start - t0, w.closed])).toEqual([[MINUTE, MINUTE, true], [5 * MINUTE, -3 * MINUTE, true]]);
    expect(closing.state.nextEnd).toBe(t0 + 3 * MINUTE);
  });

  it('takes an event behind the watermark into the windows ending after it only, with onEvent and onEvents alike; openUntil names the last end', () => {
    const p = (time: number, value: number, cursor: string): Point => ({ sourceId: 'bed-01', metric: 'heart_rate', time, value, cursor });
    const processor = createWindowsProcessor([{ sizeMs: 5 * MINUTE, hopMs: MINUTE }, { sizeMs: MINUTE, hopMs: MINUTE }]);
    const t0 = Date.UTC(2024, 4, 6, 9);
    const late = p(t0 + 30 * SECOND, 60, '2');
    expect(processor.openUntil!(late.time)).toBe(t0 + 5 * MINUTE);
    const first = processor.onEvent(processor.init('bed-01\u0000heart_rate'), p(t0 + 3 * MINUTE, 80, '1'));
    const closed = processor.onWatermark(first.state, t0 + 2 * MINUTE);
    // Behind t0 + 2 min: its minute [t0, t0 + 1 min) and the five minutes ending by then are closed; the others take it.
    const one = processor.onEvent(closed.state, late, t0 + 2 * MINUTE);
    expect(one.out.map((w) => [w.sizeMs, w.start - t0, w.count])).toEqual([
      [5 * MINUTE, -2 * MINUTE, 1], [5 * MINUTE, -MINUTE, 2], [5 * MINUTE, 0, 2],
    ]);
    const many = processor.onEvents!(closed.state, [late], [t0 + 2 * MINUTE]);
    expect(many).toEqual(one);
  });

  it('rejects window specs it cannot align', () => {
    expect(() => createWindowsProcessor([])).toThrow('windows: at least one window is required');
    expect(() => createWindowsProcessor([{ sizeMs: 0, hopMs: 0 }])).toThrow(/sizeMs must be a positive whole number of milliseconds/);
    expect(() => createWindowsProcessor([{ sizeMs: 1.5, hopMs: 1.5 }])).toThrow(/sizeMs must be a positive whole number/);
    expect(() => createWindowsProcessor([{ sizeMs: MINUTE, hopMs: -1 }])).toThrow(/hopMs must be a positive whole number/);
    expect(() => createWindowsProcessor([{ sizeMs: 5 * MINUTE, hopMs: 2 * MINUTE }])).toThrow('windows: window { sizeMs: 300000, hopMs: 120000 }: sizeMs must be a whole multiple of hopMs');
    expect(() => createWindowsProcessor([{ sizeMs: MINUTE, hopMs: 5 * MINUTE }])).toThrow(/sizeMs must be a whole multiple of hopMs/);
    expect(() => createWindowsProcessor([{ sizeMs: MINUTE, hopMs: MINUTE }, { sizeMs: MINUTE, hopMs: MINUTE }])).toThrow(/appears twice/);
  });
});

// ---------------------------------------------------------------- candles

const INTERVALS = [SECOND, MINUTE, 5 * MINUTE, HOUR];
const SYMBOLS = ['BTC-USD', 'ETH-USD'];
const cursorOrder = (a: Trade, b: Trade) => a.time - b.time || (BigInt(a.cursor) < BigInt(b.cursor) ? -1 : 1);

/**
 * Trades with many equal times, in an arbitrary order, with cursors unrelated
 * to delivery order and of mixed lengths, so only a BigInt comparison breaks ties right.
 */
const trades = fc
  .tuple(
    base,
    fc.array(
      fc.record({
        symbol: fc.constantFrom(...SYMBOLS),
        offset: fc.oneof(offset, fc.constantFrom(0, 500, SECOND)),
        price: fc.integer({ min: 1, max: 10_000_000 }).map((n) => n / 100),
        size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 }).map((n) => n / 1000)),
      }),
      { maxLength: 60, size: 'max' },
    ),
  )
  .chain(([t0, raw]) =>
    fc
      .uniqueArray(fc.oneof(fc.bigInt({ min: 1n, max: 999n }), fc.bigInt({ min: 1n, max: 10n ** 20n })), { minLength: raw.length, maxLength: raw.length })
      .map((cursors) => raw.map((t, i): Trade => ({ symbol: t.symbol, time: t0 + t.offset, price: t.price, size: t.size, cursor: String(cursors[i]) }))),
  );

function expectCandlesMatchReference(out: Candle[], taken: Kept<Trade>[]) {
  const closed = closedOnce(out);
  const groups = groupBy(taken, (k) => INTERVALS.flatMap((interval) => startsTaking(k, { sizeMs: interval, hopMs: interval }).map((start) => `${k.event.symbol}\u0000${interval}\u0000${start}`)));
  expect([...closed.keys()].sort()).toEqual([...groups.keys()].sort());
  const actual: Candle[] = [];
  const expected: Candle[] = [];
  for (const [id, taken] of groups) {
    const members = taken.map((k) => k.event);
    const ordered = [...members].sort(cursorOrder);
    const prices = members.map((t) => t.price);
    const volume = sum(members.map((t) => t.size));
    const [symbol, intervalMs, start] = id.split('\u0000');
    const want: Candle = {
      id, symbol: symbol!, intervalMs: Number(intervalMs), start: Number(start), end: Number(start) + Number(intervalMs),
      open: ordered[0]!.price, high: Math.max(...prices), low: Math.min(...prices), close: ordered.at(-1)!.price,
      volume, vwap: volume === 0 ? null : sum(members.map((t) => t.price * t.size)) / volume, trades: members.length,
      closed: true,
    };
    const got = closed.get(id)!;
    expected.push(want);
    actual.push({ ...got, volume: snap(got.volume, volume, volume)!, vwap: snap(got.vwap, want.vwap, want.high) });
  }
  expect(actual).toStrictEqual(expected);
}

describe('candles processor', () => {
  const candles = createCandlesProcessor(INTERVALS);

  it('closes OHLCV + VWAP candles equal to a reference, ties on time broken by cursor', () => {
    fc.assert(
      fc.property(trades, watermarks, (stream, plan) => {
        const { out, taken } = run(candles, (t) => t.symbol, stream, plan);
        expectCandlesMatchReference(out, taken);
      }),
      { numRuns: 150 },
    );
  });

  it('resumes from a JSON checkpoint with the same outputs', () => {
    fc.assert(
      fc.property(trades.chain((stream) => fc.tuple(fc.constant(stream), fc.nat(stream.length))), watermarks, ([stream, checkpointAt], plan) => {
        expect(run(candles, (t) => t.symbol, stream, { ...plan, checkpointAt }).out).toStrictEqual(run(candles, (t) => t.symbol, stream, plan).out);
      }),
      { numRuns: 100 },
    );
  });

  it('orders equal times by cursor as a number, not as text, and has no VWAP without volume', () => {
    const processor = createCandlesProcessor([MINUTE]);
    const t0 = Date.UTC(2024, 4, 6, 9);
    const trade = (price: number, size: number, cursor: string): Trade => ({ symbol: 'BTC-USD', time: t0, price, size, cursor });
    let state = processor.init('BTC-USD');
    for (const t of [trade(101, 0, '10'), trade(100, 0, '9'), trade(102, 0, '100')]) state = processor.onEvent(state, t).state;
    expect(processor.onWatermark(state, t0 + MINUTE).out).toEqual([
      { id: `BTC-USD\u0000${MINUTE}\u0000${t0}`, symbol: 'BTC-USD', intervalMs: MINUTE, start: t0, end: t0 + MINUTE, open: 100, high: 102, low: 100, close: 102, volume: 0, vwap: null, trades: 3, closed: true },
    ]);
  });

  it('rejects intervals it cannot align', () => {
    expect(() => createCandlesProcessor([])).toThrow('candles: at least one window is required');
    expect(() => createCandlesProcessor([0])).toThrow(/candles: .*sizeMs must be a positive whole number/);
    expect(() => createCandlesProcessor([1.5])).toThrow(/positive whole number/);
    expect(() => createCandlesProcessor([MINUTE, MINUTE])).toThrow(/appears twice/);
  });
});

// ---------------------------------------------------------------- accumulators

/**
 * The runtime hands a batch's events to onEvents series by series (processor.ts): each batch, for each
 * key, onEvents on frozen state and events gives the state of folding onEvent over the same events, and
 * the fold's last output per id, in the order the fold first emitted each id. Watermarks between batches
 * close windows, so state goes on from partly closed windows too. As in the runtime, an event behind the
 * watermark (as it stood at that event) comes with it while one of its windows is open, and not at all
 * otherwise; and no window closed is ever emitted again.
 */
function expectBatchesEqualFold<S, In extends { time: number }, Out extends Output & { closed: boolean }>(
  processor: Processor<S, In, Out>,
  keyOf: (event: In) => string,
  stream: readonly In[],
  cuts: readonly number[],
  lateness: number,
) {
  const batched = new Map<string, S>();
  const folded = new Map<string, S>();
  const closed = new Set<string>();
  let maxTime = -Infinity;
  let applied = -Infinity;
  let from = 0;
  for (const to of [...cuts.filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b), stream.length]) {
    // Each event with the watermark it came behind (undefined: on time); those behind every open window are dropped.
    const taken: { event: In; behind: number | undefined }[] = [];
    for (const event of stream.slice(from, to)) {
      const watermark = Math.max(applied, maxTime - lateness);
      const behind = event.time < watermark ? watermark : undefined;
      if (behind !== undefined && processor.openUntil!(event.time) <= behind) continue;
      taken.push({ event, behind });
      maxTime = Math.max(maxTime, event.time);
    }
    from = to;
    const byKey = groupBy(taken, ({ event }) => [keyOf(event)]);
    for (const [key, events] of byKey) {
      const last = new Map<string, Out>();
      let state = folded.get(key) ?? processor.init(key);
      for (const { event, behind } of events) {
        const step = processor.onEvent(state, event, behind);
        state = step.state;
        for (const out of step.out) last.set(out.id, out);
      }
      for (const id of last.keys()) expect(closed.has(id), `window ${id} emitted again after it closed`).toBe(false);
      folded.set(key, state);
      const step = processor.onEvents!(
        deepFreeze(batched.get(key) ?? processor.init(key)),
        deepFreeze(events.map(({ event }) => ({ ...event }))),
        events.map(({ behind }) => behind),
      );
      expect(step.state).toStrictEqual(state);
      expect(step.out).toStrictEqual([...last.values()]);
      batched.set(key, step.state);
    }
    applied = Math.max(applied, maxTime - lateness);
    for (const states of [batched, folded]) {
      for (const [key, state] of states) {
        const step = processor.onWatermark(state, applied);
        states.set(key, step.state);
        if (states === folded) for (const out of step.out) if (out.closed) closed.add(out.id);
      }
    }
  }
}

const cuts = fc.array(fc.nat(60), { maxLength: 6 });

describe('processing a batch at once (onEvents)', () => {
  it('windows: the same state and last output per window as one event at a time', () => {
    const windows = createWindowsProcessor(SPECS);
    fc.assert(fc.property(points, cuts, watermarks, (stream, at, { lateness }) => expectBatchesEqualFold(windows, seriesKey, stream, at, lateness)), { numRuns: 150 });
  });

  it('candles: the same state and last output per candle as one trade at a time', () => {
    const candles = createCandlesProcessor(INTERVALS);
    fc.assert(fc.property(trades, cuts, watermarks, (stream, at, { lateness }) => expectBatchesEqualFold(candles, (t) => t.symbol, stream, at, lateness)), { numRuns: 150 });
  });
});

describe('accumulators', () => {
  const split = <T>(items: T[]) => fc.array(fc.boolean(), { minLength: items.length, maxLength: items.length }).map((side) => [items.filter((_, i) => side[i]), items.filter((_, i) => !side[i])] as const);

  it('merging the stats of any two halves gives the stats of the whole', () => {
    fc.assert(
      fc.property(points.filter((ps) => ps.length > 0).chain((ps) => fc.tuple(fc.constant(ps), split(ps))), ([all, [left, right]]) => {
        const whole = extractStats(all.reduce(addStats, createStats()));
        const merged = extractStats(mergeStats(left.reduce(addStats, createStats()), right.reduce(addStats, createStats())));
        const scale = Math.max(...all.map((p) => Math.abs(p.value)));
        expect({ ...merged, avg: snap(merged.avg, whole.avg, scale), stddev: snap(merged.stddev, whole.stddev, scale) }).toStrictEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('merging the OHLCV of any two halves gives the OHLCV of the whole', () => {
    fc.assert(
      fc.property(trades.filter((ts) => ts.length > 0).chain((ts) => fc.tuple(fc.constant(ts), split(ts))), ([all, [left, right]]) => {
        const whole = extractOhlcv(all.reduce(addOhlcv, createOhlcv()));
        const merged = extractOhlcv(mergeOhlcv(left.reduce(addOhlcv, createOhlcv()), right.reduce(addOhlcv, createOhlcv())));
        expect({ ...merged, volume: snap(merged.volume, whole.volume, whole.volume), vwap: snap(merged.vwap, whole.vwap, whole.high) }).toStrictEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('sums volume and the VWAP numerator exactly: ten trades of 0.1 make a volume of 1, and no order changes a figure', () => {
    const ohlcvOf = (ts: readonly Trade[]) => extractOhlcv(ts.reduce(addOhlcv, createOhlcv()));
    const T0 = Date.UTC(2026, 11, 7, 9);
    const trade = (i: number, price: number, size: number): Trade => ({ symbol: 'EUR/USD', time: T0 + i, price, size, cursor: String(i + 1) });
    // Added one by one, these read 0.9999999999999999, 9.100000000000001 and 0.6000000000000001.
    expect(ohlcvOf(Array.from({ length: 10 }, (_, i) => trade(i, 0.1 * (i + 1), 0.1)))).toMatchObject({ volume: 1, vwap: 0.55 });
    expect(ohlcvOf([0.7, 1.2, 1.5, 0.3, 2.2, 1.9, 1.3].map((size, i) => trade(i, 1.25, size))).volume).toBe(9.1);
    expect(ohlcvOf([0.1, 0.2, 0.3].map((x, i) => trade(i, x, x))).volume).toBe(0.6);
    expect(ohlcvOf([0.3, 0.2, 0.1].map((x, i) => trade(i, x, x))).volume).toBe(0.6);
    // The exact sum of three doubles just above 0.1 rounds to 0.30000000000000004 (as math.fsum): sizes are decimals.
    // Added one by one, the second VWAP read 1.0854549999999998.
    expect(ohlcvOf([0, 1, 2].map((i) => trade(i, 1.08545, 0.1)))).toMatchObject({ volume: 0.3, vwap: 1.08545 });
    expect(ohlcvOf([1.08545, 1.08547, 1.08541, 1.08549].map((price, i) => trade(i, price, 0.1)))).toMatchObject({ volume: 0.4, vwap: 1.085455 });
    expect(ohlcvOf([trade(0, 150.123, 0.001), trade(1, 150.127, 0.002), trade(2, 1e-8, 1e12)])).toMatchObject({ volume: 1_000_000_000_000.003, trades: 3 });
    const anyMagnitude = fc.array(
      fc.record({ price: fc.double({ min: 1e-9, max: 1e15, noNaN: true }), size: fc.oneof(fc.double({ min: 1e-9, max: 1e15, noNaN: true }), fc.integer({ min: 1, max: 10_000 }).map((n) => n / 100)) }),
      { minLength: 1, maxLength: 40 },
    ).map((raw) => raw.map(({ price, size }, i) => trade(i, price, size)));
    fc.assert(
      fc.property(fc.oneof(trades.filter((ts) => ts.length > 0), anyMagnitude).chain((ts) => fc.tuple(fc.constant(ts), fc.shuffledSubarray(ts, { minLength: ts.length, maxLength: ts.length }), split(ts))), ([ts, shuffled, [left, right]]) => {
        const whole = ohlcvOf(ts);
        expect(ohlcvOf(shuffled)).toStrictEqual(whole);
        expect(extractOhlcv(mergeOhlcv(left.reduce(addOhlcv, createOhlcv()), right.reduce(addOhlcv, createOhlcv())))).toStrictEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('goes on from a checkpoint whose volume and VWAP numerator are plain numbers (written before sums were exact)', () => {
    const T0 = Date.UTC(2026, 11, 7, 9);
    const before = { ...addOhlcv(createOhlcv(), { time: T0, price: 2, size: 3, cursor: '1' }), volume: 3, notional: 6 } as unknown as OhlcvAccumulator;
    expect(extractOhlcv(before)).toMatchObject({ volume: 3, vwap: 2 });
    expect(extractOhlcv(addOhlcv(before, { time: T0 + 1, price: 4, size: 1, cursor: '2' }))).toMatchObject({ volume: 4, vwap: 2.5, trades: 2 });
    expect(extractOhlcv(mergeOhlcv(before, addOhlcv(createOhlcv(), { time: T0 + 1, price: 4, size: 1, cursor: '2' })))).toMatchObject({ volume: 4, vwap: 2.5 });
  });

  it('keeps -0 out of the state, since JSON would turn it into 0', () => {
    const acc = addStats(createStats(), { time: 0, value: -0, cursor: '1' });
    expect(JSON.parse(JSON.stringify(acc))).toStrictEqual(acc);
    expect(() => extractStats(createStats())).toThrow(/empty/);
  });
});

// ---------------------------------------------------------------- anomaly

describe('anomaly processor', () => {
  const T0 = Date.UTC(2024, 4, 6, 9);
  const series = (values: number[]): Point[] => values.map((value, i) => ({ sourceId: 'bed-01', metric: 'heart_rate', time: T0 + i * SECOND, value, cursor: String(i + 1) }));
  const indexOf = (flag: AnomalyFlag) => (flag.time - T0) / SECOND;
  /** 10 with a little deterministic wobble: stddev > 0 but small. */
  const calm = (n: number) => Array.from({ length: n }, (_, i) => 10 + [0, 0.1, -0.1, 0.05, -0.05][i % 5]!);
  const options = fc.record({ alpha: fc.double({ min: 0.01, max: 1, noNaN: true }), threshold: fc.double({ min: 0.5, max: 5, noNaN: true }), warmup: fc.integer({ min: 2, max: 20 }) });
  const values = fc.array(fc.oneof(value, fc.constant(-0)), { maxLength: 60 }); // -0 must not leak into the state

  it('never flags during warm-up, and every flag is a z-score at or past the threshold', () => {
    fc.assert(
      fc.property(options, values, (opts, vs) => {
        const { out } = run(createAnomalyProcessor(opts), seriesKey, series(vs));
        for (const flag of out) {
          expect(indexOf(flag)).toBeGreaterThanOrEqual(opts.warmup);
          expect(flag.stddev).toBeGreaterThan(0);
          expect(flag.zScore).toBe((flag.value - flag.mean) / flag.stddev);
          expect(Math.abs(flag.zScore)).toBeGreaterThanOrEqual(opts.threshold);
        }
      }),
      { numRuns: 150 },
    );
    const anomaly = createAnomalyProcessor({ alpha: 0.2, threshold: 3, warmup: 5 });
    expect(run(anomaly, seriesKey, series([10, 11, 10, 11, 1000])).out).toEqual([]);
    expect(run(anomaly, seriesKey, series([10, 11, 10, 11, 10, 1000])).out.map(indexOf)).toEqual([5]);
  });

  it('flags a spike up with a positive z and a dip with a negative z in an otherwise calm series', () => {
    const anomaly = createAnomalyProcessor({ alpha: 0.1, threshold: 4, warmup: 10 });
    const { out } = run(anomaly, seriesKey, series([...calm(30), 40, ...calm(30), -20, ...calm(5)]));
    expect(out.map((f) => [indexOf(f), Math.sign(f.zScore)])).toEqual([[30, 1], [61, -1]]);
    expect(out[0]).toMatchObject({ id: `bed-01\u0000heart_rate\u0000${T0 + 30 * SECOND}`, value: 40, cursor: '31' });
  });

  it('judges a point against the mean and stddev from before it, then folds it in', () => {
    const anomaly = createAnomalyProcessor({ alpha: 0.1, threshold: 4, warmup: 10 });
    let state = anomaly.init('bed-01\u0000heart_rate');
    const points = series([...calm(30), 40]);
    for (const p of points.slice(0, -1)) state = anomaly.onEvent(state, p).state;
    const step = anomaly.onEvent(state, points.at(-1)!);
    expect(step.out).toHaveLength(1);
    // The variance as far as it has settled (1 - 0.9^29 of the spread after 30 points), at least 1% of the mean.
    expect(step.out[0]).toMatchObject({ mean: state.mean, stddev: Math.max(Math.sqrt(state.variance / (1 - 0.9 ** 29)), MIN_RELATIVE_STDDEV * state.mean) });
    expect(step.state.mean).toBe(state.mean + 0.1 * (40 - state.mean));
    expect(anomaly.onWatermark(step.state, END_OF_TIME)).toEqual({ state: step.state, out: [] });
  });

  it('flags a far move from a series that sat perfectly flat, judged against 1% of its mean', () => {
    const anomaly = createAnomalyProcessor({ alpha: 0.05, threshold: 4, warmup: 30 });
    const flat = (value: number, n: number) => Array.from({ length: n }, () => value);
    const [drop] = run(anomaly, seriesKey, series([...flat(98, 40), 70])).out;
    expect(drop).toMatchObject({ value: 70, mean: 98, stddev: 0.98 });
    expect(drop!.zScore).toBeCloseTo(-28 / 0.98, 9);
    // A step of one unit is within 1% of the trend: not flagged.
    expect(run(anomaly, seriesKey, series([...flat(98, 40), 97])).out).toEqual([]);
    // Flat at exactly 0 gives no scale to judge by, nor does one of subnormal magnitude (z would be infinite).
    expect(run(anomaly, seriesKey, series([...flat(0, 40), 5])).out).toEqual([]);
    expect(run(createAnomalyProcessor({ alpha: 0.01, threshold: 0.5, warmup: 2 }), seriesKey, series([-0, 2.4456e-320, -0.01])).out).toEqual([]);
  });

  it('flags a vital just out of warm-up no more often than later on (the spread is not underestimated at first)', () => {
    // 2,000 series of Gaussian noise around 50 (stddev 2), 120 points each, at the default alpha 0.05 and warm-up
    // 30, with z = 3 so that honest points are flagged often enough to count.
    const anomaly = createAnomalyProcessor({ alpha: 0.05, threshold: 3, warmup: 30 });
    const normal = seededNormal(7);
    const flagged = { early: 0, late: 0 };
    for (let n = 0; n < 2_000; n++) {
      let state = anomaly.init(`bed-${n}`);
      for (const point of series(Array.from({ length: 120 }, () => 50 + 2 * normal()))) {
        const step = anomaly.onEvent(state, point);
        state = step.state;
        if (step.out.length > 0) flagged[state.count <= 45 ? 'early' : 'late']++;
      }
    }
    // Points 31-45 (15 a series) against 46-120 (75), as rates. Dividing by a variance still settling (77% of its
    // value after 30) flagged 0.91% of the first against 0.61% of the rest; 0.47% against 0.55% now.
    const early = flagged.early / (2_000 * 15);
    const late = flagged.late / (2_000 * 75);
    expect(early).toBeLessThan(1.25 * late);
  });

  it('divides the variance by how far it has settled, to the last bit, and skips the power once that is 1', () => {
    for (const alpha of [0.01, 0.05, 0.3, 0.999, 1]) {
      const settled = varianceSettler(alpha);
      for (let count = 2; count < 5_000; count++) expect(settled(2.5, count), `alpha ${alpha}, count ${count}`).toBe(2.5 / (1 - (1 - alpha) ** (count - 1)));
    }
  });

  it('seeds the mean with the first point instead of decaying up from 0', () => {
    const anomaly = createAnomalyProcessor({ alpha: 0.1, threshold: 4, warmup: 10 });
    expect(anomaly.onEvent(anomaly.init('bed-01\u0000heart_rate'), series([72])[0]!).state).toStrictEqual({ count: 1, mean: 72, variance: 0 });
  });

  it('resumes from a JSON checkpoint with the same flags', () => {
    fc.assert(
      fc.property(options, values.chain((vs) => fc.tuple(fc.constant(vs), fc.nat(vs.length))), (opts, [vs, checkpointAt]) => {
        const anomaly = createAnomalyProcessor(opts);
        expect(run(anomaly, seriesKey, series(vs), { checkpointAt }).out).toStrictEqual(run(anomaly, seriesKey, series(vs)).out);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects options it cannot use', () => {
    const ok = { alpha: 0.1, threshold: 3, warmup: 10 };
    expect(() => createAnomalyProcessor({ ...ok, alpha: 0 })).toThrow('anomaly: alpha must be in (0, 1], got 0');
    expect(() => createAnomalyProcessor({ ...ok, alpha: 1.5 })).toThrow(/alpha must be in \(0, 1\]/);
    expect(() => createAnomalyProcessor({ ...ok, alpha: Number.NaN })).toThrow(/alpha/);
    expect(() => createAnomalyProcessor({ ...ok, threshold: 0 })).toThrow('anomaly: threshold must be a positive number, got 0');
    expect(() => createAnomalyProcessor({ ...ok, warmup: 1 })).toThrow('anomaly: warmup must be a whole number >= 2, got 1');
    expect(() => createAnomalyProcessor({ ...ok, warmup: 2.5 })).toThrow(/warmup must be a whole number/);
    expect(() => createAnomalyProcessor({ ...ok, alpha: 1 })).not.toThrow();
  });
});
