/**
 * An exact running sum of the decimal numbers a client sent (sizes, prices × sizes): Shewchuk's non-overlapping
 * partials, as Python's `math.fsum` keeps them, hold the exact sum of the doubles added, so their value does not
 * depend on the order they came in; it is then rounded to the most decimals any of them has, which the sum of
 * decimals cannot exceed: three trades of 0.1 make 0.3 (fsum's 0.30000000000000004 is the exact sum of three
 * doubles just above 0.1), ten make 1, where adding them one by one gave 0.9999999999999999.
 * Plain numbers only: it lives in checkpointed processor state. Holds a few partials for numbers of like
 * magnitude (one for whole numbers); at most about 40, whatever is added.
 */
export interface ExactSum {
  parts: number[];
  /** The most decimals of any number added (0.25: 2; 1e-8: 8); null when unknown, in a sum from an old checkpoint. */
  decimals: number | null;
}

/** The most decimals a sum is rounded to: past this, a double holds too few digits for rounding to mend anything. */
const MAX_ROUNDED_DECIMALS = 20;

export function emptyExactSum(): ExactSum {
  return { parts: [], decimals: 0 };
}

/**
 * A copy the caller owns of a sum kept in processor state. A checkpoint written before sums were exact holds a
 * plain number there, taken as the sum so far, of unknown decimals.
 */
export function exactSumOf(stored: ExactSum | number): ExactSum {
  if (typeof stored === 'number') return { parts: stored === 0 ? [] : [stored], decimals: null };
  return { parts: stored.parts.slice(), decimals: stored.decimals };
}

/** Digits after the point of the shortest decimal that reads back as `x` (what the client sent): 1.08545: 5; 1e-8: 8; 1500: 0. */
export function decimalsOf(x: number): number {
  if (Number.isInteger(x)) return 0;
  // A trade's price and size are asked about once per candle interval, one after the other: the last two answers
  // spare most conversions to text.
  if (x === recent[0]) return recent[1];
  if (x === recent[2]) return recent[3];
  const decimals = decimalsOfText(x);
  recent[2] = recent[0];
  recent[3] = recent[1];
  recent[0] = x;
  recent[1] = decimals;
  return decimals;
}

/** The last two numbers decimalsOf was asked about, each with its answer. */
const recent: [number, number, number, number] = [Number.NaN, 0, Number.NaN, 0];

function decimalsOfText(x: number): number {
  const text = String(x);
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const point = mantissa.indexOf('.');
  return Math.max(0, (point < 0 ? 0 : mantissa.length - point - 1) - (e < 0 ? 0 : Number(text.slice(e + 1))));
}

/** Adds `x` (finite), a number of `decimals` decimals, to `sum` in place. */
export function addExactInPlace(sum: ExactSum, x: number, decimals = decimalsOf(x)): void {
  if (sum.decimals !== null && decimals > sum.decimals) sum.decimals = decimals;
  const partials = sum.parts;
  let i = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j]!;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  if (x !== 0) partials[i++] = x;
  // Set only when it changes: a length set on every add was a twentieth of the candles processor's time.
  if (partials.length !== i) partials.length = i;
}

/** The exact sum of `a`'s and `b`'s numbers. */
export function mergeExact(a: ExactSum | number, b: ExactSum | number): ExactSum {
  const merged = exactSumOf(a);
  const other = exactSumOf(b);
  merged.decimals = merged.decimals === null || other.decimals === null ? null : Math.max(merged.decimals, other.decimals);
  for (const x of other.parts) addExactInPlace(merged, x, 0);
  return merged;
}

/** The sum: the exact sum of the doubles rounded once (ties to even, as math.fsum), then to the decimals it may have. */
export function exactSumValue(stored: ExactSum | number): number {
  if (typeof stored === 'number') return stored;
  const value = roundedSum(stored.parts);
  const { decimals } = stored;
  // The exact decimal sum has at most `decimals` decimals and lies within a few ulps of `value`: rounding finds it
  // (where the ulp is coarser than 10^-decimals, toFixed's digits read back as `value` itself).
  return decimals === null || decimals > MAX_ROUNDED_DECIMALS ? value : Number(value.toFixed(decimals));
}

function roundedSum(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n]!;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // hi + lo is exact, and the partials below lo have its sign: they break a tie in hi + lo's rounding.
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}
