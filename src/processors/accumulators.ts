import { addExactInPlace, decimalsOf, emptyExactSum, exactSumOf, exactSumValue, mergeExact, type ExactSum } from './exact-sum.js';

/**
 * Mergeable accumulators in the Apache Beam combiner shape
 * (create / add / merge / extract): pure functions over plain JSON-safe
 * objects, so they can live in checkpointed processor state. None mutates
 * its arguments. `merge` is associative and, thanks to the deterministic tie
 * break on (time, cursor), commutative: the order events arrive in never
 * changes which event is first or last, nor a candle's figures at all (its
 * sums are exact); a running mean and variance may differ in the last bits.
 */

/** -0 comes back from JSON as 0; normalise it so a checkpointed state equals the live one. */
const noNegativeZero = (x: number): number => (x === 0 ? 0 : x);

/** Event order: by time, then by stream cursor (compared as BigInt: '10' > '9'). */
function isBefore(time: number, cursor: string, otherTime: number, otherCursor: string): boolean {
  return time < otherTime || (time === otherTime && BigInt(cursor) < BigInt(otherCursor));
}

// ---------------------------------------------------------------- stats

/** Running statistics; `count === 0` means empty and the other fields are meaningless. */
export interface StatsAccumulator {
  count: number;
  /** Welford running mean and sum of squared deviations: stable where sum/sum-of-squares cancels. */
  mean: number;
  m2: number;
  min: number;
  max: number;
  first: number;
  firstTime: number;
  firstCursor: string;
  last: number;
  lastTime: number;
  lastCursor: string;
}

export interface StatsInput {
  time: number;
  value: number;
  cursor: string;
}

export interface Stats {
  count: number;
  min: number;
  max: number;
  avg: number;
  /** Sample standard deviation (n - 1), like PostgreSQL `stddev`; null below two values. */
  stddev: number | null;
  first: number;
  last: number;
  firstTime: number;
  lastTime: number;
}

export function createStats(): StatsAccumulator {
  return { count: 0, mean: 0, m2: 0, min: 0, max: 0, first: 0, firstTime: 0, firstCursor: '0', last: 0, lastTime: 0, lastCursor: '0' };
}

/** A copy the caller owns (for addStatsInPlace). Spelled out: spreading an object V8 built by a spread is ~10x slower on Node 20. */
export function copyStats(acc: StatsAccumulator): StatsAccumulator {
  return {
    count: acc.count,
    mean: acc.mean,
    m2: acc.m2,
    min: acc.min,
    max: acc.max,
    first: acc.first,
    firstTime: acc.firstTime,
    firstCursor: acc.firstCursor,
    last: acc.last,
    lastTime: acc.lastTime,
    lastCursor: acc.lastCursor,
  };
}

/** Adds `input` to an accumulator the caller owns (fresh from createStats or copyStats), in place. */
export function addStatsInPlace(acc: StatsAccumulator, input: StatsInput): void {
  const value = noNegativeZero(input.value);
  const { time, cursor } = input;
  if (acc.count === 0) {
    acc.count = 1;
    acc.mean = acc.min = acc.max = acc.first = acc.last = value;
    acc.m2 = 0;
    acc.firstTime = acc.lastTime = time;
    acc.firstCursor = acc.lastCursor = cursor;
    return;
  }
  const count = acc.count + 1;
  const delta = value - acc.mean;
  const mean = acc.mean + delta / count;
  if (isBefore(time, cursor, acc.firstTime, acc.firstCursor)) {
    acc.first = value;
    acc.firstTime = time;
    acc.firstCursor = cursor;
  }
  if (isBefore(acc.lastTime, acc.lastCursor, time, cursor)) {
    acc.last = value;
    acc.lastTime = time;
    acc.lastCursor = cursor;
  }
  acc.count = count;
  acc.m2 += delta * (value - mean);
  acc.mean = mean;
  acc.min = Math.min(acc.min, value);
  acc.max = Math.max(acc.max, value);
}

export function addStats(acc: StatsAccumulator, input: StatsInput): StatsAccumulator {
  const next = copyStats(acc);
  addStatsInPlace(next, input);
  return next;
}

/** Chan et al.'s pairwise update of mean and m2. */
export function mergeStats(a: StatsAccumulator, b: StatsAccumulator): StatsAccumulator {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  const firstFromB = isBefore(b.firstTime, b.firstCursor, a.firstTime, a.firstCursor);
  const lastFromB = isBefore(a.lastTime, a.lastCursor, b.lastTime, b.lastCursor);
  const first = firstFromB ? b : a;
  const last = lastFromB ? b : a;
  return {
    count,
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    first: first.first,
    firstTime: first.firstTime,
    firstCursor: first.firstCursor,
    last: last.last,
    lastTime: last.lastTime,
    lastCursor: last.lastCursor,
  };
}

/** Throws on an empty accumulator: a window exists only once it holds a value. */
export function extractStats(acc: StatsAccumulator): Stats {
  if (acc.count === 0) throw new Error('extractStats: the accumulator is empty');
  return {
    count: acc.count,
    min: acc.min,
    max: acc.max,
    avg: acc.mean,
    // m2 is a sum of squares, but rounding in a merge can leave it a hair below zero.
    stddev: acc.count < 2 ? null : Math.sqrt(Math.max(0, acc.m2) / (acc.count - 1)),
    first: acc.first,
    last: acc.last,
    firstTime: acc.firstTime,
    lastTime: acc.lastTime,
  };
}

// ---------------------------------------------------------------- OHLCV

/** A candle in progress; `trades === 0` means empty and the other fields are meaningless. */
export interface OhlcvAccumulator {
  trades: number;
  open: number;
  openTime: number;
  openCursor: string;
  high: number;
  low: number;
  close: number;
  closeTime: number;
  closeCursor: string;
  /** sum(size), exact (a plain number in a checkpoint written before sums were exact). */
  volume: ExactSum | number;
  /** sum(price * size), the VWAP numerator, exact as volume is. */
  notional: ExactSum | number;
}

export interface OhlcvInput {
  time: number;
  price: number;
  size: number;
  cursor: string;
}

export interface Ohlcv {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Volume-weighted average price; null when the volume is 0. */
  vwap: number | null;
  trades: number;
}

export function createOhlcv(): OhlcvAccumulator {
  return { trades: 0, open: 0, openTime: 0, openCursor: '0', high: 0, low: 0, close: 0, closeTime: 0, closeCursor: '0', volume: emptyExactSum(), notional: emptyExactSum() };
}

/** A copy the caller owns (for addOhlcvInPlace), spelled out as copyStats is. */
export function copyOhlcv(acc: OhlcvAccumulator): OhlcvAccumulator {
  return {
    trades: acc.trades,
    open: acc.open,
    openTime: acc.openTime,
    openCursor: acc.openCursor,
    high: acc.high,
    low: acc.low,
    close: acc.close,
    closeTime: acc.closeTime,
    closeCursor: acc.closeCursor,
    volume: exactSumOf(acc.volume),
    notional: exactSumOf(acc.notional),
  };
}

/** Adds a trade to an accumulator the caller owns (fresh from createOhlcv or copyOhlcv), in place. */
export function addOhlcvInPlace(acc: OhlcvAccumulator, input: OhlcvInput): void {
  const price = noNegativeZero(input.price);
  const size = noNegativeZero(input.size);
  const { time, cursor } = input;
  if (acc.trades === 0) {
    acc.trades = 1;
    acc.open = acc.high = acc.low = acc.close = price;
    acc.openTime = acc.closeTime = time;
    acc.openCursor = acc.closeCursor = cursor;
    acc.volume = emptyExactSum();
    acc.notional = emptyExactSum();
    addTradeSums(acc.volume, acc.notional, price, size);
    return;
  }
  if (isBefore(time, cursor, acc.openTime, acc.openCursor)) {
    acc.open = price;
    acc.openTime = time;
    acc.openCursor = cursor;
  }
  if (isBefore(acc.closeTime, acc.closeCursor, time, cursor)) {
    acc.close = price;
    acc.closeTime = time;
    acc.closeCursor = cursor;
  }
  acc.trades += 1;
  acc.high = Math.max(acc.high, price);
  acc.low = Math.min(acc.low, price);
  // Sums of the caller's own accumulator: createOhlcv's, or copyOhlcv's, which reads an old checkpoint's numbers as sums.
  addTradeSums(acc.volume as ExactSum, acc.notional as ExactSum, price, size);
}

/** Adds a trade's size and price × size (whose decimals are the price's and the size's together) to the sums. */
function addTradeSums(volume: ExactSum, notional: ExactSum, price: number, size: number): void {
  const sizeDecimals = decimalsOf(size);
  addExactInPlace(volume, size, sizeDecimals);
  addExactInPlace(notional, price * size, decimalsOf(price) + sizeDecimals);
}

export function addOhlcv(acc: OhlcvAccumulator, input: OhlcvInput): OhlcvAccumulator {
  const next = copyOhlcv(acc);
  addOhlcvInPlace(next, input);
  return next;
}

export function mergeOhlcv(a: OhlcvAccumulator, b: OhlcvAccumulator): OhlcvAccumulator {
  if (a.trades === 0) return b;
  if (b.trades === 0) return a;
  const open = isBefore(b.openTime, b.openCursor, a.openTime, a.openCursor) ? b : a;
  const close = isBefore(a.closeTime, a.closeCursor, b.closeTime, b.closeCursor) ? b : a;
  return {
    trades: a.trades + b.trades,
    open: open.open,
    openTime: open.openTime,
    openCursor: open.openCursor,
    high: Math.max(a.high, b.high),
    low: Math.min(a.low, b.low),
    close: close.close,
    closeTime: close.closeTime,
    closeCursor: close.closeCursor,
    volume: mergeExact(a.volume, b.volume),
    notional: mergeExact(a.notional, b.notional),
  };
}

export function extractOhlcv(acc: OhlcvAccumulator): Ohlcv {
  if (acc.trades === 0) throw new Error('extractOhlcv: the accumulator is empty');
  const volume = exactSumValue(acc.volume);
  return {
    open: acc.open,
    high: acc.high,
    low: acc.low,
    close: acc.close,
    volume,
    vwap: volume === 0 ? null : vwapWithin(acc, volume),
    trades: acc.trades,
  };
}

/**
 * notional / volume, held within [low, high], where a VWAP always lies: each price × size rounds, and so does the
 * division, so three trades at 3.3 could give 3.2999999999999994, below the candle's low (and a price near 5e-324
 * underflows its notional to 0).
 */
function vwapWithin(acc: OhlcvAccumulator, volume: number): number {
  return Math.min(Math.max(exactSumValue(acc.notional) / volume, acc.low), acc.high);
}
