import { formatDuration } from '../duration.js';
import { haversineKm, MAX_SURFACE_DISTANCE_KM } from './geo.js';
import type { Output, Processor } from './processor.js';
import { varianceSettler } from './anomaly.js';
import { formatMoney } from '../currency.js';

/** A card transaction as processors see it: times in epoch ms, cursor = stream cursor as a decimal string. */
export interface CardTransaction {
  id: string;
  cardId: string;
  time: number;
  amount: number;
  currency: string;
  merchant: string;
  lat: number;
  lon: number;
  ip: string;
  cursor: string;
  /** The runtime keys series per tenant; processors never mix tenants. */
  tenantId: string;
}

export const FRAUD_KINDS = ['CARD_VELOCITY', 'IP_VELOCITY', 'IMPOSSIBLE_TRAVEL', 'AMOUNT_ANOMALY'] as const;
export type FraudKind = (typeof FRAUD_KINDS)[number];

export interface FraudSignal extends Output {
  kind: FraudKind;
  /** The card id, or the IP for IP_VELOCITY. */
  subject: string;
  /** Event time of its newest transaction: for a growing burst, the latest of them, whatever order they came in. */
  time: number;
  /** The transactions that caused it, in event-time order. */
  transactionIds: string[];
  /** Kind-specific figures, JSON-safe numbers: e.g. { count, windowMs, minAmount } or { distanceKm, hours, speedKmh } or { amount, typicalAmount, zScore }. */
  details: Record<string, number>;
  /** Human readable, e.g. "card c-17: 2 transactions 8,950 km apart in 25 min (21,300 km/h)". */
  message: string;
}

/** A transaction as the velocity state remembers it: only what ordering and naming need. */
export interface TransactionRef {
  id: string;
  time: number;
}

const HOUR_MS = 3_600_000;

/**
 * Event-time order, ties broken by id: every delivery order of the same
 * transactions then sorts them the same way, which keeps signals
 * deterministic however the runtime interleaved them.
 */
function byEventTime(a: TransactionRef, b: TransactionRef): number {
  return a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Where `item` goes in `sorted` (ascending by byEventTime): after every element that sorts before it. */
function insertionIndex(sorted: readonly TransactionRef[], item: TransactionRef): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (byEventTime(sorted[mid]!, item) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** A copy of `sorted` with `item` in its place; the input is left alone (it may belong to a checkpoint). */
function insertSorted<T extends TransactionRef>(sorted: readonly T[], item: T): T[] {
  const at = insertionIndex(sorted, item);
  return [...sorted.slice(0, at), item, ...sorted.slice(at)];
}

// en-US fixed so that a message reads the same on every host.
const WHOLE = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const UP_TO_2_DECIMALS = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const THREE_DIGITS = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
const UP_TO_1_DECIMAL = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/**
 * Time between two transactions as an analyst reads it: seconds under a minute, minutes under an hour, hours above.
 * In hours alone, 10 s read "0 h" and a minute "0.02 h".
 */
function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${UP_TO_1_DECIMAL.format(ms / 1000)} s`;
  if (ms < HOUR_MS) return `${UP_TO_1_DECIMAL.format(ms / 60_000)} min`;
  return `${UP_TO_2_DECIMALS.format(ms / HOUR_MS)} h`;
}

// ---------------------------------------------------------------- velocity

export interface VelocityOptions {
  /** Count per card or per IP address. */
  by: 'card' | 'ip';
  /** Length of the trailing event-time window (t - windowMs, t], in ms. */
  windowMs: number;
  /** Only transactions of at least this amount count. Compared as given: currencies are not converted. */
  minAmount: number;
  /** A burst is more than this many such transactions in one window (whole number >= 1). */
  maxCount: number;
}

/** A burst in progress: the qualifying transactions in the window have stayed above maxCount since it began. */
export interface VelocityBurst {
  /** Id of the earliest transaction in the window when the burst was raised: it names the burst's signal for its whole life. */
  firstId: string;
  /** The burst's transactions in event-time order; the earliest MAX_BURST_TRANSACTIONS when there are more. */
  members: TransactionRef[];
  /** Every transaction the burst has had, including any beyond the cap. */
  count: number;
  /**
   * Event time of its newest transaction, beyond the cap too: the signal's time, which a late member must not move
   * back. Absent in checkpoints from before it was kept; then the newest member's.
   */
  latest?: number;
}

export interface VelocityState {
  /** The subject's newest event time, null before its first transaction: the window is (newest - windowMs, newest]. */
  newest: number | null;
  /**
   * The newest maxCount + 1 qualifying transactions inside the window, in
   * event-time order. No more are needed: the count exceeds maxCount exactly
   * when maxCount + 1 of them are inside, and keeping the newest ones by
   * event time (not arrival) stays right when a late one arrives.
   */
  recent: TransactionRef[];
  /** The burst in progress, or null: non-null exactly when recent holds maxCount + 1. */
  burst: VelocityBurst | null;
}

/**
 * Caps a signal's transaction list so the state stays bounded under a long
 * bot attack; `details.count` still says how many there were. A judgement
 * call: enough for an analyst to see the pattern, small in a checkpoint.
 */
export const MAX_BURST_TRANSACTIONS = 100;

/**
 * Many purchases of at least minAmount from one card or one IP address within
 * windowMs. The window trails the newest event time of the subject (any of its
 * transactions, qualifying or not), so a late transaction counts only if it
 * falls inside it.
 *
 * A burst starts when the window's count first exceeds maxCount; since one
 * event adds at most one transaction, that is exactly maxCount + 1, all of
 * which the signal names. Each further qualifying transaction that lands
 * inside the window while the count stays above maxCount joins the burst and
 * re-emits the same id with the longer list: the runtime persists by id, so
 * the last emission holds the whole burst (up to MAX_BURST_TRANSACTIONS). Once the count drops to maxCount
 * or below the burst is over, and the next one gets a new id.
 */
export function createVelocityProcessor(options: VelocityOptions): Processor<VelocityState, CardTransaction, FraudSignal> {
  const { by, windowMs, minAmount, maxCount } = options;
  const what = by === 'card' || by === 'ip' ? `${by}-velocity` : 'velocity';
  if (by !== 'card' && by !== 'ip') throw new Error(`${what}: by must be 'card' or 'ip', got ${String(by)}`);
  if (!(Number.isSafeInteger(windowMs) && windowMs > 0)) throw new Error(`${what}: windowMs must be a positive whole number of milliseconds, got ${windowMs}`);
  if (!(Number.isFinite(minAmount) && minAmount >= 0)) throw new Error(`${what}: minAmount must be a number >= 0, got ${minAmount}`);
  if (!(Number.isSafeInteger(maxCount) && maxCount >= 1)) throw new Error(`${what}: maxCount must be a whole number >= 1, got ${maxCount}`);

  const kind: FraudKind = by === 'card' ? 'CARD_VELOCITY' : 'IP_VELOCITY';
  const subjectLabel = by === 'card' ? 'card' : 'IP';
  const keep = maxCount + 1;

  return {
    name: what,
    init: () => ({ newest: null, recent: [], burst: null }),
    onEvent(state, tx) {
      const subject = by === 'card' ? tx.cardId : tx.ip;
      const newest = state.newest === null ? tx.time : Math.max(state.newest, tx.time);
      const windowStart = newest - windowMs; // exclusive
      // NaN compares false, so a NaN amount never qualifies.
      const qualifies = tx.amount >= minAmount && tx.time > windowStart;
      const ref: TransactionRef = { id: tx.id, time: tx.time };
      const inWindow = state.recent.filter((r) => r.time > windowStart);
      const recent = qualifies ? insertSorted(inWindow, ref).slice(-keep) : inWindow;

      if (recent.length < keep) return { state: { newest, recent, burst: null }, out: [] };
      // Only a qualifying transaction can lift the count, so a burst is in progress here unless this one qualifies.
      if (!qualifies) return { state: { newest, recent, burst: state.burst }, out: [] };

      const latest = state.burst === null ? recent.at(-1)!.time : Math.max(state.burst.latest ?? state.burst.members.at(-1)!.time, tx.time);
      const burst: VelocityBurst =
        state.burst === null
          ? { firstId: recent[0]!.id, members: recent, count: recent.length, latest }
          : { firstId: state.burst.firstId, members: insertSorted(state.burst.members, ref).slice(0, MAX_BURST_TRANSACTIONS), count: state.burst.count + 1, latest };
      const signal: FraudSignal = {
        id: `${kind}/${subject}/${burst.firstId}`,
        kind,
        subject,
        time: latest,
        transactionIds: burst.members.map((m) => m.id),
        details: { count: burst.count, windowMs, minAmount, maxCount },
        message: `${subjectLabel} ${subject}: ${burst.count} transactions of ${UP_TO_2_DECIMALS.format(minAmount)} or more, over ${maxCount} within ${formatDuration(windowMs)}`,
      };
      return { state: { newest, recent, burst }, out: [signal] };
    },
    // The window trails the newest event time, which only events move.
    onWatermark: (state) => ({ state, out: [] }),
  };
}

// ---------------------------------------------------------------- impossible travel

export interface TravelOptions {
  /** A pair implying a speed above this (km/h) is flagged, e.g. 1,000: faster than an airliner. */
  maxSpeedKmh: number;
  /** Only pairs at least this far apart (km) count: geolocation is coarse, and two shops in one city can share a timestamp. */
  minDistanceKm: number;
}

/** A transaction as the travel state remembers it. */
export interface Sighting extends TransactionRef {
  lat: number;
  lon: number;
}

export interface TravelState {
  /** The card's recent transactions in event-time order, at most MAX_SIGHTINGS. */
  recent: Sighting[];
}

/**
 * Per card, at most this many transactions are kept for comparing a late
 * arrival with its neighbours in event time. Watermarks usually trim far more
 * (see onWatermark); this bounds a card the watermark has not caught up with.
 */
export const MAX_SIGHTINGS = 20;

/**
 * Stands in for the speed of two transactions at the same instant, which is
 * infinite: Infinity does not survive JSON, the largest finite double does
 * and still compares above any finite maxSpeedKmh.
 */
export const SIMULTANEOUS_SPEED_KMH = Number.MAX_VALUE;

/**
 * The same card used in two places too far apart for the time between them.
 * Each transaction is compared with its neighbours in event time (the previous
 * and the next transaction of that card), not with the one that arrived
 * before it, since events can arrive out of order. A pair is named earlier
 * first, and its signal carries the later one's time, so the same two
 * transactions give the same signal in either arrival order, as long as the
 * later-arriving one is within ALLOWED_LATENESS (the runtime leaves out one
 * further behind its card's newest: see onWatermark).
 *
 * A late transaction landing between two already flagged does not withdraw
 * their signal: outputs can be superseded but not retracted.
 */
export function createImpossibleTravelProcessor(options: TravelOptions): Processor<TravelState, CardTransaction, FraudSignal> {
  const { maxSpeedKmh, minDistanceKm } = options;
  if (!(Number.isFinite(maxSpeedKmh) && maxSpeedKmh > 0)) throw new Error(`impossible-travel: maxSpeedKmh must be a positive number, got ${maxSpeedKmh}`);
  // Zero would flag two transactions at the same place and instant.
  if (!(Number.isFinite(minDistanceKm) && minDistanceKm > 0)) throw new Error(`impossible-travel: minDistanceKm must be a positive number, got ${minDistanceKm}`);
  /**
   * Two transactions this far apart in time are never too fast: no two points
   * are farther apart than half the Earth's circumference. Doubled, so that
   * rounding at the boundary can never make it matter.
   */
  const horizonMs = 2 * (MAX_SURFACE_DISTANCE_KM / maxSpeedKmh) * HOUR_MS;

  function check(cardId: string, earlier: Sighting, later: Sighting): FraudSignal | null {
    const distanceKm = haversineKm(earlier, later);
    // Negated so that a NaN distance (a missing coordinate) never flags.
    if (!(distanceKm >= minDistanceKm)) return null;
    const hours = (later.time - earlier.time) / HOUR_MS;
    const speedKmh = hours === 0 ? SIMULTANEOUS_SPEED_KMH : distanceKm / hours;
    if (hours !== 0 && !(speedKmh > maxSpeedKmh)) return null;
    const apart = `card ${cardId}: 2 transactions ${WHOLE.format(distanceKm)} km apart`;
    return {
      id: `IMPOSSIBLE_TRAVEL/${cardId}/${earlier.id}/${later.id}`,
      kind: 'IMPOSSIBLE_TRAVEL',
      subject: cardId,
      time: later.time,
      transactionIds: [earlier.id, later.id],
      details: { distanceKm, hours, speedKmh },
      message: hours === 0 ? `${apart} at the same time` : `${apart} in ${formatElapsed(later.time - earlier.time)} (${THREE_DIGITS.format(speedKmh)} km/h)`,
    };
  }

  return {
    name: 'impossible-travel',
    init: () => ({ recent: [] }),
    onEvent(state, tx) {
      const here: Sighting = { id: tx.id, time: tx.time, lat: tx.lat, lon: tx.lon };
      const at = insertionIndex(state.recent, here);
      const previous = state.recent[at - 1];
      const next = state.recent[at];
      const out: FraudSignal[] = [];
      const before = previous && check(tx.cardId, previous, here);
      if (before) out.push(before);
      const after = next && check(tx.cardId, here, next);
      if (after) out.push(after);
      const recent = insertSorted(state.recent, here).slice(-MAX_SIGHTINGS);
      return { state: { recent }, out };
    },
    /**
     * Every transaction still to come has time >= watermark, so its previous
     * neighbour is at worst the last one before the watermark: older ones can
     * never be compared again. Even that one goes once it is a horizon before
     * the watermark. This keeps most cards at zero or one sighting, and drops
     * nothing a later comparison could use, so outputs do not depend on when
     * watermarks arrive.
     */
    onWatermark(state, watermark) {
      const firstKept = state.recent.findIndex((s) => s.time >= watermark);
      const lastBefore = (firstKept === -1 ? state.recent.length : firstKept) - 1;
      const from = lastBefore >= 0 && state.recent[lastBefore]!.time > watermark - horizonMs ? lastBefore : lastBefore + 1;
      if (from <= 0) return { state, out: [] };
      return { state: { recent: state.recent.slice(from) }, out: [] };
    },
  };
}

// ---------------------------------------------------------------- amount anomaly

export interface AmountOptions {
  /** Flag when the z-score of log(amount) is >= threshold (only unusually high amounts). */
  threshold: number;
  /** Transactions a card must have had before it can flag (whole number >= 2). */
  warmup: number;
  /** EWMA smoothing factor in (0, 1]: the weight of the newest transaction. */
  alpha: number;
}

/** Exponentially weighted mean and variance of ln(amount) for one card. */
export interface AmountState {
  /** Transactions seen, for the warm-up. */
  count: number;
  mean: number;
  variance: number;
}

/**
 * The least log-stddev a transaction is judged against, about a ±20% spread.
 * A judgement call: a card that always pays the same subscription price has a
 * stddev near 0, which would make a few cents more look like fraud and leave
 * nothing to divide by at exactly 0; with the floor, the same card still flags
 * a purchase several times its usual price.
 */
export const MIN_LOG_STDDEV = 0.2;

/**
 * Unusually large purchases for a card: a streaming z-score over an
 * exponentially weighted mean and variance of ln(amount), as in anomaly.ts.
 * Spending is roughly log-normal (many small purchases, a few large ones), so
 * on a log scale "four times the usual" is a fixed distance whether the usual
 * is 5 or 500.
 *
 * A transaction is judged against the statistics before it, then folded in,
 * so an outlier does not inflate the stddev it is measured with. Amounts are
 * compared as given: currencies are not converted. A non-positive or
 * non-finite amount (a refund, a zero-amount card check) has no logarithm and
 * says nothing about spending, so it is skipped.
 */
export function createAmountAnomalyProcessor(options: AmountOptions): Processor<AmountState, CardTransaction, FraudSignal> {
  const { threshold, warmup, alpha } = options;
  if (!(Number.isFinite(threshold) && threshold > 0)) throw new Error(`amount-anomaly: threshold must be a positive number, got ${threshold}`);
  if (!(Number.isSafeInteger(warmup) && warmup >= 2)) throw new Error(`amount-anomaly: warmup must be a whole number >= 2, got ${warmup}`);
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`amount-anomaly: alpha must be in (0, 1], got ${alpha}`);
  const settled = varianceSettler(alpha);

  return {
    name: 'amount-anomaly',
    init: () => ({ count: 0, mean: 0, variance: 0 }),
    onEvent(state, tx) {
      const { amount } = tx;
      if (!(amount > 0 && Number.isFinite(amount))) return { state, out: [] };
      const x = Math.log(amount);
      const out: FraudSignal[] = [];
      if (state.count >= warmup) {
        // The weighted variance starts at 0 and reaches the spread it estimates only as 1 - (1 - alpha)^(n - 1):
        // 61% of it after 10 transactions at alpha 0.1, so a card just out of warm-up was judged against a stddev
        // 22% too small (its honest purchases flagged at six times the rate the threshold implies). Divided out.
        const logStddev = Math.max(Math.sqrt(settled(state.variance, state.count)), MIN_LOG_STDDEV);
        const zScore = (x - state.mean) / logStddev;
        if (zScore >= threshold) {
          const typicalAmount = Math.exp(state.mean);
          out.push({
            id: `AMOUNT_ANOMALY/${tx.cardId}/${tx.id}`,
            kind: 'AMOUNT_ANOMALY',
            subject: tx.cardId,
            time: tx.time,
            transactionIds: [tx.id],
            details: { amount, typicalAmount, logMean: state.mean, logStddev, zScore },
            // The typical amount is of the card's history, in whatever currencies it came (they are not converted).
            message: `card ${tx.cardId}: ${formatMoney(amount, tx.currency)}, typically ${MONEY.format(typicalAmount)} (z = ${zScore.toFixed(1)})`,
          });
        }
      }
      // The first transaction seeds the mean; starting from 0 would bias it towards 0 (an amount of 1) for ~1/alpha transactions.
      if (state.count === 0) return { state: { count: 1, mean: x, variance: 0 }, out };
      const diff = x - state.mean;
      const incr = alpha * diff;
      return { state: { count: state.count + 1, mean: state.mean + incr, variance: (1 - alpha) * (state.variance + diff * incr) }, out };
    },
    onWatermark: (state) => ({ state, out: [] }),
  };
}
