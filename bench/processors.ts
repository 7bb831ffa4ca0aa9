/**
 * Stream processors, three ways, each beside a raw baseline from the same run:
 *
 * 1. Pure processors (windows, candles, anomaly) driven in-process with one
 *    watermark for the run (max event time - ALLOWED_LATENESS, onWatermark
 *    for every key after each batch of 1,000 events), against
 *    hand-written loops over plain mutable Maps computing the same aggregates.
 *    The closed outputs of both are compared before a figure is reported.
 * 2. The runtime (persistence + checkpoints + publish): readings stored with
 *    PROCESSORS=off, then a restart with PROCESSORS=on timed until the
 *    readings pipeline has caught up, against SQL computing the same windows
 *    over the same stored rows (insert … select … group by date_bin).
 * 3. End-to-end delay (commit → outputs stored and published) at a steady
 *    offered ingest rate (batches of 100 on schedule, at most 8 in flight, so
 *    a saturated server lowers the accepted rate, which is reported too), as
 *    the `processors` query reports it. No baseline.
 *
 * Embedded by default; with DATABASE_URL (and REDIS_URL) parts 2 and 3 run
 * against the real servers in a fresh schema, dropped afterwards.
 *
 *   npm run bench -- processors [--events 200000] [--rounds 2] [--readings 100000] [--rate 2000] [--seconds 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { sql } from 'drizzle-orm';
import { print } from 'graphql';
import postgres from 'postgres';
import { loadConfig } from '../src/config.js';
import { openDatabase, rows, type Database } from '../src/db/client.js';
import { formatDuration, formatWindowSpec } from '../src/duration.js';
import {
  IngestReadingsDocument,
  ProcessorsDocument,
  RegisterSourcesDocument,
  type IngestReadingsMutation,
  type ProcessorsQuery,
  type ReadingInput,
} from '../src/generated/graphql.js';
import { createLogger } from '../src/log.js';
import { createAnomalyProcessor, MIN_RELATIVE_STDDEV, type AnomalyFlag, type AnomalyOptions } from '../src/processors/anomaly.js';
import { createCandlesProcessor, type Candle } from '../src/processors/candles.js';
import { addExactInPlace, decimalsOf, exactSumValue, type ExactSum } from '../src/processors/exact-sum.js';
import type { WindowSpec } from '../src/processors/keyed-windows.js';
import type { Output, Processor } from '../src/processors/processor.js';
import { bucketStart, type Point, type Trade } from '../src/processors/series.js';
import { createWindowsProcessor, type WindowAggregate } from '../src/processors/windows.js';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { progress, type Figure } from './report.js';

/** Defaults of the server's own configuration (WINDOWS, CANDLE_INTERVALS, ANOMALY_*, ALLOWED_LATENESS). */
const DEFAULTS = loadConfig({}).processors;
const BATCH = 1_000;
const METRICS = [
  { metric: 'heart_rate', base: 80, spread: 6 },
  { metric: 'spo2', base: 96, spread: 1.5 },
  { metric: 'resp_rate', base: 16, spread: 2 },
  { metric: 'temperature', base: 37, spread: 0.3 },
] as const;
const SOURCES = 25; // × 4 metrics = 100 series
const SYMBOLS = 20;
const READING_STEP_MS = 5_000; // per series
const TRADE_STEP_MS = 500; // per symbol
const PURE_START = Date.parse('2025-01-01T00:00:00Z');

export interface ProcessorsOptions {
  events: number;
  rounds: number;
  readings: number;
  rate: number;
  seconds: number;
  /** Unset: embedded PGlite (parts 2 and 3). */
  databaseUrl?: string;
}

function options(): ProcessorsOptions {
  // Not strict: the other benchmarks' names and flags share argv.
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: false,
    allowPositionals: true,
    options: {
      events: { type: 'string' },
      rounds: { type: 'string' },
      readings: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
    },
  });
  const num = (value: unknown, fallback: number) => {
    const n = typeof value === 'string' ? Number(value) : NaN;
    return Number.isSafeInteger(n) && n > 0 ? n : fallback;
  };
  return {
    events: num(values.events, 200_000),
    rounds: num(values.rounds, 2),
    readings: num(values.readings, 100_000),
    rate: num(values.rate, 2_000),
    seconds: num(values.seconds, 10),
    databaseUrl: process.env.DATABASE_URL || undefined,
  };
}

// ---------------------------------------------------------------- data

/** mulberry32: a small deterministic PRNG, so every run sees the same values. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SeriesDef {
  sourceId: string;
  metric: string;
  base: number;
  spread: number;
}

function seriesDefs(prefix: string): SeriesDef[] {
  return Array.from({ length: SOURCES * METRICS.length }, (_, i) => ({ sourceId: `${prefix}-${i % SOURCES}`, ...METRICS[Math.floor(i / SOURCES)]! }));
}

/** Noise around the series' level, and now and then a spike for the anomaly processor to flag. */
function valueOf(next: () => number, def: SeriesDef): number {
  const noise = (next() + next() + next() - 1.5) * def.spread;
  const spike = next() < 0.002 ? 8 * def.spread : 0;
  return Math.round((def.base + noise + spike) * 100) / 100;
}

/** What a processor run iterates: the events, and their series keys and times (precomputed for both sides alike). */
interface Data<E> {
  events: E[];
  keys: string[];
  times: number[];
}

/** `count` readings over 100 series in time order, one per series every READING_STEP_MS. */
function makePoints(count: number): Data<Point> {
  const defs = seriesDefs('bench');
  const next = random(1);
  const events: Point[] = [];
  for (let i = 0; i < count; i++) {
    const def = defs[i % defs.length]!;
    const time = PURE_START + Math.floor(i / defs.length) * READING_STEP_MS;
    events.push({ sourceId: def.sourceId, metric: def.metric, time, value: valueOf(next, def), cursor: String(i + 1) });
  }
  return { events, keys: events.map((p) => `${p.sourceId}/${p.metric}`), times: events.map((p) => p.time) };
}

/** `count` trades over SYMBOLS symbols in time order, each symbol a random walk. */
function makeTrades(count: number): Data<Trade> {
  const next = random(2);
  const prices = Array.from({ length: SYMBOLS }, (_, s) => 50 + s * 10);
  const events: Trade[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % SYMBOLS;
    prices[s] = Math.max(1, prices[s]! * (1 + (next() - 0.5) * 0.002));
    const time = PURE_START + Math.floor(i / SYMBOLS) * TRADE_STEP_MS;
    events.push({ symbol: `SYM${s}`, time, price: Math.round(prices[s]! * 100) / 100, size: 1 + Math.floor(next() * 100), cursor: String(i + 1) });
  }
  return { events, keys: events.map((t) => t.symbol), times: events.map((t) => t.time) };
}

// ---------------------------------------------------------------- measuring

/** The first `count` events of `data`. */
function slice<E>(data: Data<E>, count: number): Data<E> {
  return { events: data.events.slice(0, count), keys: data.keys.slice(0, count), times: data.times.slice(0, count) };
}

/** Events/s of one run over `data`. */
function timed<E, T>(run: (data: Data<E>) => T, data: Data<E>): { rate: number; result: T } {
  const started = performance.now();
  const result = run(data);
  return { rate: data.events.length / ((performance.now() - started) / 1000), result };
}

/**
 * Events/s of `platform` and `baseline` over `data`: a warm-up run of each
 * over a tenth of it, then `rounds` rounds alternating the two over all of
 * it; the best round of each (the least disturbed by other work on the
 * machine). Returns the last round's results for checking.
 */
function compare<E, P, B>(what: string, data: Data<E>, rounds: number, platform: (data: Data<E>) => P, baseline: (data: Data<E>) => B) {
  const warm = slice(data, Math.ceil(data.events.length / 10));
  platform(warm);
  baseline(warm);
  const rates = { platform: [] as number[], baseline: [] as number[] };
  let last: { platform: P; baseline: B } | undefined;
  for (let r = 0; r < rounds; r++) {
    const p = timed(platform, data);
    const b = timed(baseline, data);
    rates.platform.push(p.rate);
    rates.baseline.push(b.rate);
    last = { platform: p.result, baseline: b.result };
    progress(what, r + 1, rounds);
  }
  return { platform: Math.max(...rates.platform), baseline: Math.max(...rates.baseline), last: last! };
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`processors benchmark: outputs disagree: ${message}`);
}

const close = (a: number, b: number, relative = 1e-9) => Math.abs(a - b) <= relative * Math.max(1, Math.abs(a), Math.abs(b));

// ---------------------------------------------------------------- 1. pure processors

/**
 * Drives a processor as the runtime does: state per series key; each batch of
 * BATCH events one at a time in stream order, or, for a processor with
 * onEvents, key by key; then the watermark (max event time - lateness) passed
 * to every key if it advanced. Keeps the outputs `keep` selects.
 */
function runProcessor<S, I, O extends Output>(processor: Processor<S, I, O>, data: Data<I>, keep: (out: O) => boolean) {
  const states = new Map<string, S>();
  const kept: O[] = [];
  let outputs = 0;
  let maxTime = -Infinity;
  let watermark = -Infinity;
  const { events, keys, times } = data;
  const take = (key: string, step: { state: S; out: O[] }) => {
    states.set(key, step.state);
    outputs += step.out.length;
    for (const out of step.out) if (keep(out)) kept.push(out);
  };
  for (let from = 0; from < events.length; from += BATCH) {
    const to = Math.min(events.length, from + BATCH);
    const byKey = new Map<string, I[]>();
    for (let i = from; i < to; i++) {
      const key = keys[i]!;
      if (times[i]! > maxTime) maxTime = times[i]!;
      if (!processor.onEvents) {
        take(key, processor.onEvent(states.get(key) ?? processor.init(key), events[i]!));
        continue;
      }
      const list = byKey.get(key);
      if (list) list.push(events[i]!);
      else byKey.set(key, [events[i]!]);
    }
    for (const [key, list] of byKey) take(key, processor.onEvents!(states.get(key) ?? processor.init(key), list));
    if (maxTime - DEFAULTS.latenessMs > watermark) {
      watermark = maxTime - DEFAULTS.latenessMs;
      for (const [key, state] of states) {
        const step = processor.onWatermark(state, watermark);
        states.set(key, step.state);
        outputs += step.out.length;
        for (const out of step.out) if (keep(out)) kept.push(out);
      }
    }
  }
  return { kept, outputs, watermark };
}

/** Closes the windows of `open` (one Map per spec, by start) ending at or before `watermark`; returns the next end. */
function closeRaw<W>(open: Map<number, W>[], specs: readonly WindowSpec[], watermark: number, closed: (spec: WindowSpec, start: number, window: W) => void): number {
  let nextEnd = Infinity;
  for (let k = 0; k < specs.length; k++) {
    const spec = specs[k]!;
    for (const [start, window] of open[k]!) {
      const end = start + spec.sizeMs;
      if (end <= watermark) {
        closed(spec, start, window);
        open[k]!.delete(start);
      } else if (end < nextEnd) nextEnd = end;
    }
  }
  return nextEnd;
}

interface RawStats {
  count: number;
  sum: number;
  sumSq: number;
  min: number;
  max: number;
  first: number;
  firstTime: number;
  last: number;
  lastTime: number;
}
interface RawClosed<W> {
  key: string;
  spec: WindowSpec;
  start: number;
  window: W;
}

/** The windows baseline: the same windows as the processor, aggregates mutated in place in plain Maps. */
function rawWindows(data: Data<Point>, specs: readonly WindowSpec[]) {
  const series = new Map<string, { open: Map<number, RawStats>[]; nextEnd: number }>();
  const closed: RawClosed<RawStats>[] = [];
  let maxTime = -Infinity;
  let watermark = -Infinity;
  const { events, keys, times } = data;
  for (let from = 0; from < events.length; from += BATCH) {
    const to = Math.min(events.length, from + BATCH);
    for (let i = from; i < to; i++) {
      const key = keys[i]!;
      let s = series.get(key);
      if (!s) series.set(key, (s = { open: specs.map(() => new Map<number, RawStats>()), nextEnd: Infinity }));
      const time = times[i]!;
      const value = events[i]!.value;
      for (let k = 0; k < specs.length; k++) {
        const { sizeMs, hopMs } = specs[k]!;
        const open = s.open[k]!;
        for (let start = bucketStart(time, hopMs) - sizeMs + hopMs; start <= time; start += hopMs) {
          const w = open.get(start);
          if (w === undefined) {
            open.set(start, { count: 1, sum: value, sumSq: value * value, min: value, max: value, first: value, firstTime: time, last: value, lastTime: time });
            if (start + sizeMs < s.nextEnd) s.nextEnd = start + sizeMs;
            continue;
          }
          w.count++;
          w.sum += value;
          w.sumSq += value * value;
          if (value < w.min) w.min = value;
          if (value > w.max) w.max = value;
          if (time < w.firstTime) {
            w.first = value;
            w.firstTime = time;
          }
          if (time >= w.lastTime) {
            w.last = value;
            w.lastTime = time;
          }
        }
      }
      if (time > maxTime) maxTime = time;
    }
    if (maxTime - DEFAULTS.latenessMs > watermark) {
      watermark = maxTime - DEFAULTS.latenessMs;
      for (const [key, s] of series) {
        if (s.nextEnd > watermark) continue;
        s.nextEnd = closeRaw(s.open, specs, watermark, (spec, start, window) => closed.push({ key, spec, start, window }));
      }
    }
  }
  return { closed, watermark };
}

function verifyWindows(platform: WindowAggregate[], baseline: RawClosed<RawStats>[]) {
  check(platform.length === baseline.length, `closed windows: processor ${platform.length}, raw loop ${baseline.length}`);
  check(platform.length > 0, 'no window closed');
  const byId = new Map(baseline.map((b) => [`${b.key}|${b.spec.sizeMs}|${b.spec.hopMs}|${b.start}`, b.window]));
  let sumPlatform = 0;
  let sumBaseline = 0;
  for (const w of platform) {
    const id = `${w.sourceId}/${w.metric}|${w.sizeMs}|${w.hopMs}|${w.start}`;
    const b = byId.get(id);
    check(b !== undefined, `window ${id} closed by the processor only`);
    const n = b!.count;
    const variance = (b!.sumSq - (b!.sum * b!.sum) / n) / (n - 1);
    check(
      w.count === n && w.min === b!.min && w.max === b!.max && w.first === b!.first && w.last === b!.last && close(w.avg, b!.sum / n) &&
        (n < 2 ? w.stddev === null : close(w.stddev!, Math.sqrt(Math.max(0, variance)), 1e-6)),
      `window ${id}: processor ${JSON.stringify(w)}, raw loop ${JSON.stringify(b)}`,
    );
    sumPlatform += w.avg * w.count;
    sumBaseline += b!.sum;
  }
  check(close(sumPlatform, sumBaseline), `sum over closed windows: processor ${sumPlatform}, raw loop ${sumBaseline}`);
}

interface RawOhlcv {
  trades: number;
  open: number;
  openTime: number;
  high: number;
  low: number;
  close: number;
  closeTime: number;
  /** Exact sums, as the candles processor keeps them (exact-sum.ts). */
  volume: ExactSum;
  notional: ExactSum;
}

/** The candles baseline: OHLCV + notional mutated in place in plain Maps. */
function rawCandles(data: Data<Trade>, specs: readonly WindowSpec[]) {
  const symbols = new Map<string, { open: Map<number, RawOhlcv>[]; nextEnd: number }>();
  const closed: RawClosed<RawOhlcv>[] = [];
  let maxTime = -Infinity;
  let watermark = -Infinity;
  const { events, keys, times } = data;
  for (let from = 0; from < events.length; from += BATCH) {
    const to = Math.min(events.length, from + BATCH);
    for (let i = from; i < to; i++) {
      const key = keys[i]!;
      let s = symbols.get(key);
      if (!s) symbols.set(key, (s = { open: specs.map(() => new Map<number, RawOhlcv>()), nextEnd: Infinity }));
      const time = times[i]!;
      const { price, size } = events[i]!;
      for (let k = 0; k < specs.length; k++) {
        const { sizeMs } = specs[k]!;
        const start = bucketStart(time, sizeMs);
        const c = s.open[k]!.get(start);
        if (c === undefined) {
          s.open[k]!.set(start, { trades: 1, open: price, openTime: time, high: price, low: price, close: price, closeTime: time, volume: { parts: [size], decimals: decimalsOf(size) }, notional: { parts: [price * size], decimals: decimalsOf(price) + decimalsOf(size) } });
          if (start + sizeMs < s.nextEnd) s.nextEnd = start + sizeMs;
          continue;
        }
        c.trades++;
        if (price > c.high) c.high = price;
        if (price < c.low) c.low = price;
        addExactInPlace(c.volume, size);
        addExactInPlace(c.notional, price * size, decimalsOf(price) + decimalsOf(size));
        if (time < c.openTime) {
          c.open = price;
          c.openTime = time;
        }
        if (time >= c.closeTime) {
          c.close = price;
          c.closeTime = time;
        }
      }
      if (time > maxTime) maxTime = time;
    }
    if (maxTime - DEFAULTS.latenessMs > watermark) {
      watermark = maxTime - DEFAULTS.latenessMs;
      for (const [key, s] of symbols) {
        if (s.nextEnd > watermark) continue;
        s.nextEnd = closeRaw(s.open, specs, watermark, (spec, start, window) => closed.push({ key, spec, start, window }));
      }
    }
  }
  return { closed, watermark };
}

function verifyCandles(platform: Candle[], baseline: RawClosed<RawOhlcv>[]) {
  check(platform.length === baseline.length, `closed candles: processor ${platform.length}, raw loop ${baseline.length}`);
  check(platform.length > 0, 'no candle closed');
  const byId = new Map(baseline.map((b) => [`${b.key}|${b.spec.sizeMs}|${b.start}`, b.window]));
  for (const c of platform) {
    const id = `${c.symbol}|${c.intervalMs}|${c.start}`;
    const b = byId.get(id);
    check(b !== undefined, `candle ${id} closed by the processor only`);
    const volume = exactSumValue(b!.volume);
    check(
      c.trades === b!.trades && c.open === b!.open && c.high === b!.high && c.low === b!.low && c.close === b!.close && c.volume === volume &&
        close(c.vwap!, exactSumValue(b!.notional) / volume),
      `candle ${id}: processor ${JSON.stringify(c)}, raw loop ${JSON.stringify(b)}`,
    );
  }
}

/** The anomaly baseline: EWMA mean and variance mutated in place, the same z-score rule. */
function rawAnomaly(data: Data<Point>, { alpha, threshold, warmup }: AnomalyOptions) {
  const series = new Map<string, { count: number; mean: number; variance: number }>();
  const settledAfter = alpha >= 1 ? 1 : Math.ceil(Math.log(Number.EPSILON / 4) / Math.log(1 - alpha)) + 1;
  const flags: { index: number; zScore: number }[] = [];
  const { events, keys } = data;
  for (let i = 0; i < events.length; i++) {
    const key = keys[i]!;
    let s = series.get(key);
    if (!s) series.set(key, (s = { count: 0, mean: 0, variance: 0 }));
    const x = events[i]!.value;
    // The variance as far as it has settled after count points (1 past settledAfter), at least 1% of the mean.
    const settled = s.count > settledAfter ? s.variance : s.variance / (1 - (1 - alpha) ** (s.count - 1));
    const stddev = s.count >= warmup ? Math.max(Math.sqrt(settled), MIN_RELATIVE_STDDEV * Math.abs(s.mean)) : 0;
    if (stddev > 0) {
      const zScore = (x - s.mean) / stddev;
      if (Math.abs(zScore) >= threshold && Number.isFinite(zScore)) flags.push({ index: i, zScore });
    }
    if (s.count === 0) {
      s.count = 1;
      s.mean = x;
      continue;
    }
    const diff = x - s.mean;
    const incr = alpha * diff;
    s.count++;
    s.mean += incr;
    s.variance = (1 - alpha) * (s.variance + diff * incr);
  }
  return flags;
}

function verifyAnomaly(platform: AnomalyFlag[], baseline: { index: number; zScore: number }[], data: Data<Point>) {
  check(platform.length === baseline.length, `flags: processor ${platform.length}, raw loop ${baseline.length}`);
  check(platform.length > 0, 'nothing flagged');
  platform.forEach((f, i) => {
    const b = baseline[i]!;
    check(f.cursor === data.events[b.index]!.cursor && f.zScore === b.zScore, `flag ${i}: processor ${JSON.stringify(f)}, raw loop ${JSON.stringify(b)}`);
  });
}

function benchPure(opts: ProcessorsOptions): Figure[] {
  const { events: count, rounds } = opts;
  const figures: Figure[] = [];
  const specs = DEFAULTS.windows;

  // Windows.
  const points = makePoints(count);
  const windows = createWindowsProcessor(specs);
  const w = compare(
    `pure windows processor vs raw loop, ${count} readings, rounds`,
    points,
    rounds,
    (data) => runProcessor(windows, data, (o) => o.closed),
    (data) => rawWindows(data, specs),
  );
  verifyWindows(w.last.platform.kept, w.last.baseline.closed);
  console.log(
    `windows: ${w.last.platform.kept.length} closed windows agree (processor and raw loop, watermark ${new Date(w.last.platform.watermark).toISOString()}); ` +
      `${(w.last.platform.outputs / count).toFixed(1)} outputs per event`,
  );
  figures.push({
    name: `windows processor (${specs.map(formatWindowSpec).join(',')}), 100 series`,
    unit: 'events/s',
    platform: w.platform,
    baseline: w.baseline,
    ratio: w.platform / w.baseline,
  });

  // Candles.
  const trades = makeTrades(count);
  const candleSpecs = DEFAULTS.candleIntervalsMs.map((ms) => ({ sizeMs: ms, hopMs: ms }));
  const candles = createCandlesProcessor(DEFAULTS.candleIntervalsMs);
  const c = compare(
    `pure candles processor vs raw loop, ${count} trades, rounds`,
    trades,
    rounds,
    (data) => runProcessor(candles, data, (o) => o.closed),
    (data) => rawCandles(data, candleSpecs),
  );
  verifyCandles(c.last.platform.kept, c.last.baseline.closed);
  console.log(`candles: ${c.last.platform.kept.length} closed candles agree (processor and raw loop)`);
  figures.push({
    name: `candles processor (${DEFAULTS.candleIntervalsMs.map(formatDuration).join(',')}), ${SYMBOLS} symbols`,
    unit: 'events/s',
    platform: c.platform,
    baseline: c.baseline,
    ratio: c.platform / c.baseline,
  });

  // Anomaly.
  const anomaly = createAnomalyProcessor(DEFAULTS.anomaly);
  const a = compare(
    `pure anomaly processor vs raw EWMA loop, ${count} readings, rounds`,
    points,
    rounds,
    (data) => runProcessor(anomaly, data, () => true),
    (data) => rawAnomaly(data, DEFAULTS.anomaly),
  );
  verifyAnomaly(a.last.platform.kept, a.last.baseline, points);
  console.log(`anomaly: ${a.last.platform.kept.length} flags agree (processor and raw loop)`);
  figures.push({ name: 'anomaly processor (EWMA z-score), 100 series', unit: 'events/s', platform: a.platform, baseline: a.baseline, ratio: a.platform / a.baseline });
  return figures;
}

// ---------------------------------------------------------------- 2 and 3. through the runtime

const printed = new WeakMap<object, string>();

async function gql<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  let query = printed.get(document);
  if (query === undefined) printed.set(document, (query = print(document)));
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: R; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`GraphQL request failed: ${JSON.stringify(body).slice(0, 500)}`);
  return body.data;
}

type PipelineStatus = ProcessorsQuery['processors'][number] & { others: ProcessorsQuery['processors'] };

async function readingsPipeline(url: string): Promise<PipelineStatus> {
  const all = (await gql(url, ProcessorsDocument, {})).processors;
  const found = all.find((p) => p.name === 'readings');
  if (!found) throw new Error('the processors query lists no readings pipeline');
  return { ...found, others: all.filter((p) => p !== found) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 100 ms until the readings pipeline's position reaches `cursor`; returns the status then. */
async function waitForPosition(url: string, cursor: bigint, timeoutMs: number, onPoll?: (status: PipelineStatus) => void): Promise<PipelineStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await readingsPipeline(url);
    onPoll?.(status);
    if (BigInt(status.position) >= cursor) return status;
    if (status.role !== 'owner' && status.role !== 'starting') throw new Error(`readings pipeline is ${status.role}`);
    if (Date.now() > deadline) throw new Error(`readings pipeline at ${status.position}, not ${cursor}, after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function ingest(url: string, readings: ReadingInput[]): Promise<IngestReadingsMutation['ingestReadings']> {
  const result = (await gql(url, IngestReadingsDocument, { readings })).ingestReadings;
  if (result.accepted !== readings.length || !result.lastCursor) throw new Error(`ingest failed: ${JSON.stringify(result).slice(0, 500)}`);
  return result;
}

/** The stored data, from the same stored rows as the runtime read: one windows query per spec into a scratch table. */
function windowSql(spec: WindowSpec, lastCursor: bigint): string {
  const hops = spec.sizeMs / spec.hopMs;
  const hop = `interval '${spec.hopMs} milliseconds'`;
  const bucket = `date_bin(${hop}, r.time, timestamptz '2000-01-03T00:00:00Z')`;
  return `insert into bench_sql_windows
    select r.source_id, r.metric, ${spec.sizeMs}, ${spec.hopMs}, ${hops === 1 ? bucket : `${bucket} - k * ${hop}`},
      count(*)::int, min(r.value), max(r.value), avg(r.value), stddev_samp(r.value),
      (array_agg(r.value order by r.time, r.seq))[1], (array_agg(r.value order by r.time desc, r.seq desc))[1]
    from readings r${hops === 1 ? '' : ` cross join generate_series(0, ${hops - 1}) as k`}
    where r.seq <= ${lastCursor} and r.quality = 'GOOD'
    group by 1, 2, 5`;
}

interface SpecTotals {
  spec: string;
  windows: number;
  events: number;
  max: number;
  first: number;
  last: number;
}

const totals = (table: string, where: string) =>
  sql.raw(`select size_ms || '/' || hop_ms as spec, count(*)::float8 as windows, sum(count)::float8 as events,
    sum(max)::float8 as max, sum(first)::float8 as first, sum(last)::float8 as last
    from ${table} ${where} group by size_ms, hop_ms order by size_ms, hop_ms`);

async function sqlBaseline(database: Database, lastCursor: bigint, lastEventTime: number, events: number): Promise<number> {
  const { db } = database;
  await db.execute(sql.raw(`drop table if exists bench_sql_windows`));
  await db.execute(
    sql.raw(`create table bench_sql_windows (source_id text, metric text, size_ms bigint, hop_ms bigint, start_time timestamptz,
      count int, min float8, max float8, avg float8, stddev float8, first float8, last float8)`),
  );
  const started = performance.now();
  for (const spec of DEFAULTS.windows) await db.execute(sql.raw(windowSql(spec, lastCursor)));
  const seconds = (performance.now() - started) / 1000;

  // The runtime's stored windows over the same readings must be these windows.
  const fromSql = await rows<SpecTotals>(db, totals('bench_sql_windows', ''));
  const fromRuntime = await rows<SpecTotals>(db, totals('window_aggregates', `where start_time <= '${new Date(lastEventTime).toISOString()}'`));
  check(fromSql.length === DEFAULTS.windows.length, `SQL windows per spec: ${JSON.stringify(fromSql)}`);
  check(
    JSON.stringify(fromSql.map((r) => [r.spec, r.windows, r.events])) === JSON.stringify(fromRuntime.map((r) => [r.spec, r.windows, r.events])) &&
      fromSql.every((r, i) => close(r.max, fromRuntime[i]!.max) && close(r.first, fromRuntime[i]!.first) && close(r.last, fromRuntime[i]!.last)),
    `stored windows: runtime ${JSON.stringify(fromRuntime)}, SQL ${JSON.stringify(fromSql)}`,
  );
  console.log(`runtime: stored windows agree with SQL over the same rows (${fromSql.map((r) => `${r.spec}: ${r.windows}`).join(', ')})`);
  await db.execute(sql.raw(`drop table bench_sql_windows`));
  return events / seconds;
}

async function benchRuntime(opts: ProcessorsOptions): Promise<Figure[]> {
  const servers = Boolean(opts.databaseUrl);
  const schema = `bench_processors_${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-processors-'));
  const env: Record<string, string> = servers
    ? { DATABASE_SCHEMA: schema, REDIS_CHANNEL_PREFIX: `vigil-bench-${process.pid}:` }
    : { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
  const figures: Figure[] = [];
  let server: ServerProcess | undefined;
  let database: Database | undefined;
  try {
    // Store the readings with the processors off: 100 series, one reading each every 5 s, ending ~1.5 h ago.
    const defs = seriesDefs('bench');
    const next = random(3);
    const base = bucketStart(Date.now() - 3 * 3_600_000, 3_600_000);
    const total = opts.readings;
    const lastEventTime = base + Math.floor((total - 1) / defs.length) * READING_STEP_MS;
    server = await startServerProcess({ ...env, PROCESSORS: 'off' });
    await gql(server.url, RegisterSourcesDocument, {
      sources: Array.from({ length: SOURCES }, (_, i) => ({ id: `bench-${i}`, kind: 'PATIENT' as const, name: `Bench ${i}` })),
    });
    let lastCursor = 0n;
    for (let from = 0; from < total; from += BATCH) {
      const batch: ReadingInput[] = [];
      for (let i = from; i < Math.min(total, from + BATCH); i++) {
        const def = defs[i % defs.length]!;
        batch.push({ sourceId: def.sourceId, metric: def.metric, time: new Date(base + Math.floor(i / defs.length) * READING_STEP_MS).toISOString(), value: valueOf(next, def) });
      }
      lastCursor = BigInt((await ingest(server.url, batch)).lastCursor!);
      progress('runtime: storing readings with PROCESSORS=off', Math.min(total, from + BATCH), total);
    }
    await server.stop();
    server = undefined;

    // Restart with the processors on. The catch-up starts when the readings runtime has restored its
    // (empty) checkpoint and ends when the processors query shows the last stored cursor processed. Its
    // start is taken from the child's log timestamp (same clock): on PGlite the catch-up runs before the
    // server listens, and log lines only leave the child once its event loop is free again.
    let startedAt: number | undefined;
    let runtimeMs: number | undefined;
    server = await startServerProcess({ ...env, PROCESSORS: 'on' }, (entry) => {
      if (entry.pipeline !== 'readings') return;
      if (entry.msg === 'processors start from the beginning of the stream' || entry.msg === 'processors resume from checkpoint') startedAt ??= Date.parse(String(entry.time));
      if (entry.msg === 'processors caught up; processing live' && typeof entry.ms === 'number') runtimeMs ??= entry.ms;
    });
    const listeningAt = Date.now();
    const caughtUp = await waitForPosition(server.url, lastCursor, 150_000, (s) => progress('runtime: catching up (events processed)', s.eventsIn, total));
    const endedAt = Date.now();
    if (startedAt === undefined || Number.isNaN(startedAt)) throw new Error('the readings runtime did not log its start');
    const catchUpRate = total / ((endedAt - startedAt) / 1000);
    const stages = caughtUp.outputs.map((o) => o.processor);
    console.log(
      `runtime: caught up with ${total} readings in ${((endedAt - startedAt) / 1000).toFixed(1)} s ` +
        `(runtime's own log: ${runtimeMs ?? '?'} ms; the server began to listen ${((listeningAt - startedAt) / 1000).toFixed(1)} s after the catch-up started); ` +
        `processors alone ${caughtUp.eventsPerSecond?.toFixed(0)} events/s of processing time; ${caughtUp.batches} batches; ` +
        `outputs ${caughtUp.outputs.map((o) => `${o.processor} ${o.outputs}`).join(', ')}; checkpoint at ${caughtUp.checkpointCursor}; ` +
        `other pipelines then: ${caughtUp.others.map((p) => `${p.name} at ${p.position}`).join(', ')}`,
    );

    // End-to-end delay on the running server: readings at wall-clock time, so every series' windows keep
    // advancing; batches sent on schedule with at most MAX_IN_FLIGHT outstanding, for `seconds`.
    const MAX_IN_FLIGHT = 8;
    const perBatch = 100;
    const interval = (1000 * perBatch) / opts.rate;
    const batches = Math.floor((opts.seconds * 1000) / interval);
    const inFlight = new Set<Promise<unknown>>();
    const results: IngestReadingsMutation['ingestReadings'][] = [];
    const liveStarted = performance.now();
    const deadline = liveStarted + opts.seconds * 1000;
    for (let b = 0; b < batches; b++) {
      const wait = liveStarted + b * interval - performance.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      if (performance.now() >= deadline) break;
      const now = Date.now();
      const batch = Array.from({ length: perBatch }, (_, j) => {
        const def = defs[(b * perBatch + j) % defs.length]!;
        return { sourceId: def.sourceId, metric: def.metric, time: new Date(now + Math.floor(j / defs.length)).toISOString(), value: valueOf(next, def) };
      });
      const sent: Promise<unknown> = ingest(server.url, batch).then((r) => void results.push(r));
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent)).catch(() => undefined);
      progress(`delay: posting ${opts.rate} readings/s for ${opts.seconds} s (batches sent)`, b + 1, batches);
    }
    await Promise.all(inFlight);
    const accepted = results.reduce((n, r) => n + r.accepted, 0);
    const acceptedRate = accepted / ((performance.now() - liveStarted) / 1000);
    const liveLast = results.reduce((max, r) => (BigInt(r.lastCursor!) > max ? BigInt(r.lastCursor!) : max), 0n);
    const after = await waitForPosition(server.url, liveLast, 60_000);
    const { delay } = after;
    console.log(
      `delay: ${accepted} readings accepted at ${acceptedRate.toFixed(0)}/s (offered ${opts.rate}/s, at most ${MAX_IN_FLIGHT} batches in flight); ` +
        `${delay.samples} live runtime batches sampled; ${after.lateDropped} late events`,
    );
    await server.stop();
    server = undefined;

    // Baseline: SQL over the same stored rows, in the same database.
    const config = loadConfig(servers ? { DATABASE_URL: opts.databaseUrl, DATABASE_SCHEMA: schema } : { DATA_DIR: dataDir });
    database = await openDatabase(config.database, createLogger('silent'));
    const sqlRate = await sqlBaseline(database, lastCursor, lastEventTime, total);
    figures.push({
      name: `runtime catch-up (${stages.join(' + ')}, stored), ${total} readings`,
      unit: 'events/s',
      platform: catchUpRate,
      baseline: sqlRate,
      ratio: catchUpRate / sqlRate,
    });
    figures.push({ name: `delay run: readings accepted (${opts.rate}/s offered)`, unit: 'readings/s', platform: acceptedRate, baseline: null, ratio: null });
    for (const [label, value] of [['p50', delay.p50], ['p95', delay.p95], ['p99', delay.p99], ['max', delay.max]] as const) {
      if (value === null) throw new Error('no delay samples: the live readings never reached the runtime over pub/sub');
      figures.push({ name: `end-to-end delay ${label} (${opts.rate}/s offered, batches of ${perBatch})`, unit: 'ms', platform: value, baseline: null, ratio: null });
    }
  } finally {
    await server?.stop().catch(() => undefined);
    await database?.close().catch(() => undefined);
    if (servers) {
      const admin = postgres(opts.databaseUrl!, { max: 1, onnotice: () => undefined });
      await admin.unsafe(`drop schema if exists ${schema} cascade`).finally(() => admin.end());
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}

/** Parts 1-3 with `opts` (test/bench-smoke.test.ts runs them at tiny sizes). */
export async function runProcessors(opts: ProcessorsOptions): Promise<Figure[]> {
  const pure = benchPure(opts);
  return [...pure, ...(await benchRuntime(opts))];
}

export async function benchProcessors(): Promise<Figure[]> {
  return runProcessors(options());
}
