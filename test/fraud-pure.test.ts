import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runPure as run } from './support/pure-runtime.js';
import type { Processor } from '../src/processors/processor.js';
import { EARTH_RADIUS_KM, haversineKm, type LatLon } from '../src/processors/geo.js';
import {
  createAmountAnomalyProcessor,
  createImpossibleTravelProcessor,
  createVelocityProcessor,
  MAX_BURST_TRANSACTIONS,
  MAX_SIGHTINGS,
  SIMULTANEOUS_SPEED_KMH,
  type CardTransaction,
  type FraudSignal,
  type VelocityOptions,
} from '../src/processors/fraud.js';
import { seededNormal } from './support/gaussian.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2024, 4, 6, 9);

const LONDON: LatLon = { lat: 51.5074, lon: -0.1278 };
const PARIS: LatLon = { lat: 48.8566, lon: 2.3522 };
const NEW_YORK: LatLon = { lat: 40.7128, lon: -74.006 };
const LOS_ANGELES: LatLon = { lat: 34.0522, lon: -118.2437 };
const SYDNEY: LatLon = { lat: -33.8688, lon: 151.2093 };
const PLACES = [LONDON, PARIS, NEW_YORK, LOS_ANGELES, SYDNEY];

let nextCursor = 1;
function tx(id: string, time: number, fields: Partial<Omit<CardTransaction, 'id' | 'time'>> & { at?: LatLon } = {}): CardTransaction {
  const { at = LONDON, ...rest } = fields;
  return { id, time, cardId: 'c-1', amount: 40, currency: 'EUR', merchant: 'm-1', lat: at.lat, lon: at.lon, ip: '203.0.113.7', cursor: String(nextCursor++), tenantId: 'default', ...rest };
}

type AnyProcessor = Processor<unknown, CardTransaction, FraudSignal>;

/** The last output per id: what the runtime persists. */
function lastById(out: FraudSignal[]): Map<string, FraudSignal> {
  return new Map(out.map((o) => [o.id, o]));
}

const byCard = (t: CardTransaction) => t.cardId;
const byIp = (t: CardTransaction) => t.ip;

// ---------------------------------------------------------------- geo

describe('haversineKm', () => {
  it('matches known great-circle distances within 0.5%', () => {
    expect(haversineKm(LONDON, PARIS)).toBeGreaterThan(343.5 * 0.995);
    expect(haversineKm(LONDON, PARIS)).toBeLessThan(343.5 * 1.005);
    expect(haversineKm(NEW_YORK, LOS_ANGELES)).toBeGreaterThan(3936 * 0.995);
    expect(haversineKm(NEW_YORK, LOS_ANGELES)).toBeLessThan(3936 * 1.005);
    expect(haversineKm(LONDON, NEW_YORK)).toBeCloseTo(5570, -1);
  });

  it('is 0 for one point, symmetric, and half the circumference (not NaN) for antipodes', () => {
    expect(haversineKm(SYDNEY, SYDNEY)).toBe(0);
    expect(haversineKm(PARIS, SYDNEY)).toBeCloseTo(haversineKm(SYDNEY, PARIS), 9);
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
    expect(haversineKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
    expect(haversineKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 })).toBeCloseTo(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 1 }), 9);
  });
});

// ---------------------------------------------------------------- velocity

const VELOCITY: Omit<VelocityOptions, 'by'> = { windowMs: 10 * MINUTE, minAmount: 500, maxCount: 3 };

describe('velocity processors', () => {
  it('flags a burst of high-value purchases from one IP once, naming exactly its transactions', () => {
    const ip = '198.51.100.9';
    const from = (id: string, time: number, amount: number, card: string) => tx(id, time, { ip, amount, cardId: card });
    const stream = [
      // Normal traffic: high-value but spread out, and low-value inside the burst.
      from('spread-1', T0, 900, 'c-1'),
      from('spread-2', T0 + 20 * MINUTE, 900, 'c-2'),
      from('spread-3', T0 + 40 * MINUTE, 900, 'c-3'),
      from('burst-1', T0 + 60 * MINUTE, 800, 'c-4'),
      from('small-1', T0 + 60 * MINUTE + 30 * SECOND, 20, 'c-5'),
      from('burst-2', T0 + 61 * MINUTE, 750, 'c-6'),
      from('burst-3', T0 + 62 * MINUTE, 500, 'c-7'),
      from('small-2', T0 + 62 * MINUTE + 30 * SECOND, 499.99, 'c-8'),
      from('burst-4', T0 + 63 * MINUTE, 1200, 'c-9'),
      from('burst-5', T0 + 64 * MINUTE, 990, 'c-10'),
      // Quiet for an hour, then another burst.
      from('again-1', T0 + 3 * HOUR, 600, 'c-1'),
      from('again-2', T0 + 3 * HOUR + MINUTE, 600, 'c-1'),
      from('again-3', T0 + 3 * HOUR + 2 * MINUTE, 600, 'c-1'),
      from('again-4', T0 + 3 * HOUR + 3 * MINUTE, 600, 'c-1'),
    ];
    const { out } = run(createVelocityProcessor({ by: 'ip', ...VELOCITY }) as AnyProcessor, byIp, stream);

    expect(out.map((o) => o.id)).toEqual([`IP_VELOCITY/${ip}/burst-1`, `IP_VELOCITY/${ip}/burst-1`, `IP_VELOCITY/${ip}/again-1`]);
    const signals = lastById(out);
    expect(signals.get(`IP_VELOCITY/${ip}/burst-1`)).toStrictEqual({
      id: `IP_VELOCITY/${ip}/burst-1`,
      kind: 'IP_VELOCITY',
      subject: ip,
      time: T0 + 64 * MINUTE,
      transactionIds: ['burst-1', 'burst-2', 'burst-3', 'burst-4', 'burst-5'],
      details: { count: 5, windowMs: 10 * MINUTE, minAmount: 500, maxCount: 3 },
      message: `IP ${ip}: 5 transactions of 500 or more, over 3 within 10m`,
    });
    expect(signals.get(`IP_VELOCITY/${ip}/again-1`)?.transactionIds).toEqual(['again-1', 'again-2', 'again-3', 'again-4']);
  });

  it('flags a burst on one card once, and not the same purchases on different cards', () => {
    const stream = [0, 1, 2, 3].map((i) => tx(`t${i}`, T0 + i * MINUTE, { amount: 700, ip: `192.0.2.${i}` }));
    const card = createVelocityProcessor({ by: 'card', ...VELOCITY }) as AnyProcessor;
    expect(run(card, byCard, stream).out).toMatchObject([{ id: 'CARD_VELOCITY/c-1/t0', kind: 'CARD_VELOCITY', subject: 'c-1', transactionIds: ['t0', 't1', 't2', 't3'] }]);
    // Per IP, each of these is a single purchase.
    expect(run(createVelocityProcessor({ by: 'ip', ...VELOCITY }) as AnyProcessor, byIp, stream).out).toEqual([]);
    const spread = stream.map((t, i) => ({ ...t, cardId: `c-${i}` }));
    expect(run(card, byCard, spread).out).toEqual([]);
  });

  it('uses the window (t - windowMs, t]: exactly windowMs apart is not inside', () => {
    const card = createVelocityProcessor({ by: 'card', ...VELOCITY }) as AnyProcessor;
    const at = (offsets: number[]) => offsets.map((offset, i) => tx(`t${i}`, T0 + offset, { amount: 500 }));
    expect(run(card, byCard, at([0, MINUTE, 2 * MINUTE, 10 * MINUTE])).out).toEqual([]);
    expect(run(card, byCard, at([0, MINUTE, 2 * MINUTE, 10 * MINUTE - 1])).out).toHaveLength(1);
    // The same for a late arrival: the window trails the newest time seen, not the arrival.
    expect(run(card, byCard, at([10 * MINUTE, MINUTE, 2 * MINUTE, 0])).out).toEqual([]);
    expect(run(card, byCard, at([10 * MINUTE - 1, MINUTE, 2 * MINUTE, 0])).out).toHaveLength(1);
  });

  it('keeps one id while a burst slides along, and a new id once it has paused', () => {
    const card = createVelocityProcessor({ by: 'card', windowMs: 10 * MINUTE, minAmount: 500, maxCount: 2 }) as AnyProcessor;
    // Every 4 minutes: 3 in any 10-minute window, for 40 minutes. Then a gap, then 3 more.
    const stream = [...Array.from({ length: 11 }, (_, i) => tx(`a${i}`, T0 + i * 4 * MINUTE, { amount: 600 })), ...[0, 1, 2].map((i) => tx(`b${i}`, T0 + 2 * HOUR + i * MINUTE, { amount: 600 }))];
    const { out } = run(card, byCard, stream);
    const signals = lastById(out);
    expect([...signals.keys()]).toEqual(['CARD_VELOCITY/c-1/a0', 'CARD_VELOCITY/c-1/b0']);
    expect(signals.get('CARD_VELOCITY/c-1/a0')?.transactionIds).toEqual(stream.slice(0, 11).map((t) => t.id));
    expect(signals.get('CARD_VELOCITY/c-1/b0')?.transactionIds).toEqual(['b0', 'b1', 'b2']);
  });

  it('counts a late arrival inside the window, in event-time order, and ignores one outside it', () => {
    const card = createVelocityProcessor({ by: 'card', ...VELOCITY }) as AnyProcessor;
    const stream = [tx('t3', T0 + 3 * MINUTE, { amount: 700 }), tx('t1', T0 + MINUTE, { amount: 700 }), tx('old', T0 - 20 * MINUTE, { amount: 700 }), tx('t2', T0 + 2 * MINUTE, { amount: 700 }), tx('t0', T0, { amount: 700 })];
    // Its time is its newest transaction's (t3), not the late one's that completed it: an analyst polling by time
    // would otherwise see a burst move back into the past.
    expect(run(card, byCard, stream).out).toMatchObject([{ id: 'CARD_VELOCITY/c-1/t0', time: T0 + 3 * MINUTE, transactionIds: ['t0', 't1', 't2', 't3'] }]);
  });

  it('takes a burst from a checkpoint written before the burst kept its latest time, at its newest member', () => {
    const card = createVelocityProcessor({ by: 'card', ...VELOCITY });
    const members = [0, 1, 2, 3].map((i) => ({ id: `t${i}`, time: T0 + i * MINUTE }));
    const { out } = card.onEvent({ newest: T0 + 3 * MINUTE, recent: members, burst: { firstId: 't0', members, count: 4 } }, tx('late', T0 + 30 * SECOND, { amount: 700 }));
    expect(out).toMatchObject([{ id: 'CARD_VELOCITY/c-1/t0', time: T0 + 3 * MINUTE, details: { count: 5 } }]);
  });

  it(`names at most ${MAX_BURST_TRANSACTIONS} transactions of a long burst but counts them all`, () => {
    const card = createVelocityProcessor({ by: 'card', ...VELOCITY }) as AnyProcessor;
    const stream = Array.from({ length: MAX_BURST_TRANSACTIONS + 20 }, (_, i) => tx(`t${String(i).padStart(3, '0')}`, T0 + i * SECOND, { amount: 700 }));
    const last = run(card, byCard, stream).out.at(-1)!;
    expect(last.transactionIds).toEqual(stream.slice(0, MAX_BURST_TRANSACTIONS).map((t) => t.id));
    expect(last.details.count).toBe(stream.length);
  });

  it('rejects options it cannot use', () => {
    expect(() => createVelocityProcessor({ ...VELOCITY, by: 'merchant' as 'card' })).toThrow("velocity: by must be 'card' or 'ip', got merchant");
    expect(() => createVelocityProcessor({ by: 'ip', ...VELOCITY, windowMs: 0 })).toThrow('ip-velocity: windowMs must be a positive whole number of milliseconds, got 0');
    expect(() => createVelocityProcessor({ by: 'ip', ...VELOCITY, windowMs: 1.5 })).toThrow(/windowMs/);
    expect(() => createVelocityProcessor({ by: 'card', ...VELOCITY, minAmount: Number.NaN })).toThrow('card-velocity: minAmount must be a number >= 0, got NaN');
    expect(() => createVelocityProcessor({ by: 'card', ...VELOCITY, maxCount: 0 })).toThrow('card-velocity: maxCount must be a whole number >= 1, got 0');
  });
});

// ---------------------------------------------------------------- impossible travel

describe('impossible travel processor', () => {
  const travel = createImpossibleTravelProcessor({ maxSpeedKmh: 1000, minDistanceKm: 100 }) as AnyProcessor;

  it('flags London then New York 30 minutes apart, in either arrival order', () => {
    const london = tx('t-london', T0, { at: LONDON });
    const newYork = tx('t-ny', T0 + 30 * MINUTE, { at: NEW_YORK });
    const inOrder = run(travel, byCard, [london, newYork]).out;
    const distanceKm = haversineKm(LONDON, NEW_YORK);
    expect(inOrder).toStrictEqual([
      {
        id: 'IMPOSSIBLE_TRAVEL/c-1/t-london/t-ny',
        kind: 'IMPOSSIBLE_TRAVEL',
        subject: 'c-1',
        time: T0 + 30 * MINUTE,
        transactionIds: ['t-london', 't-ny'],
        details: { distanceKm, hours: 0.5, speedKmh: distanceKm / 0.5 },
        message: 'card c-1: 2 transactions 5,570 km apart in 30 min (11,100 km/h)',
      },
    ]);
    expect(run(travel, byCard, [newYork, london]).out).toStrictEqual(inOrder);
  });

  it('says how far apart in time in units an analyst reads: seconds, minutes, hours (not "in 0 h" for 10 s)', () => {
    const after = (ms: number) => run(travel, byCard, [tx('a', T0, { at: LONDON }), tx('b', T0 + ms, { at: NEW_YORK })]).out[0]!.message;
    expect(after(10_000)).toBe('card c-1: 2 transactions 5,570 km apart in 10 s (2,010,000 km/h)');
    expect(after(250)).toMatch(/ apart in 0\.3 s \(/);
    expect(after(MINUTE)).toMatch(/ apart in 1 min \(/);
    expect(after(90 * MINUTE)).toMatch(/ apart in 1\.5 h \(/);
  });

  it('does not flag London then Paris 6 hours apart, nor a short hop', () => {
    expect(run(travel, byCard, [tx('a', T0, { at: LONDON }), tx('b', T0 + 6 * HOUR, { at: PARIS })]).out).toEqual([]);
    // Within minDistanceKm: two shops in one city at the same instant.
    expect(run(travel, byCard, [tx('a', T0, { at: LONDON }), tx('b', T0, { at: { lat: 51.52, lon: -0.1 } })]).out).toEqual([]);
  });

  it('gives two places at the same instant a finite, JSON-safe speed', () => {
    const out = run(travel, byCard, [tx('b', T0, { at: PARIS }), tx('a', T0, { at: LONDON })]).out;
    expect(out).toMatchObject([{ id: 'IMPOSSIBLE_TRAVEL/c-1/a/b', transactionIds: ['a', 'b'], details: { hours: 0, speedKmh: SIMULTANEOUS_SPEED_KMH } }]);
    expect(out[0]!.message).toBe('card c-1: 2 transactions 344 km apart at the same time');
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual(out);
  });

  it('compares a late arrival with both its neighbours in event time', () => {
    const stream = [tx('l1', T0, { at: LONDON }), tx('l2', T0 + 4 * HOUR, { at: LONDON }), tx('ny', T0 + 2 * HOUR, { at: NEW_YORK })];
    expect(run(travel, byCard, stream).out.map((o) => o.id)).toEqual(['IMPOSSIBLE_TRAVEL/c-1/l1/ny', 'IMPOSSIBLE_TRAVEL/c-1/ny/l2']);
    // Only the card's own transactions are compared.
    expect(run(travel, byCard, [tx('a', T0, { at: LONDON }), tx('b', T0 + MINUTE, { at: NEW_YORK, cardId: 'c-2' })]).out).toEqual([]);
  });

  it('keeps a bounded state: the latest sightings, and after a watermark at most one before it', () => {
    const stream = Array.from({ length: 50 }, (_, i) => tx(`t${i}`, T0 + i * HOUR, { at: LONDON }));
    const { states } = run(travel, byCard, stream, { watermarkAfter: stream.map(() => false) });
    expect(states.get('c-1')).toEqual({ recent: [] });
    let state = travel.init('c-1');
    for (const t of stream) state = travel.onEvent(state, t).state;
    expect((state as { recent: unknown[] }).recent).toHaveLength(MAX_SIGHTINGS);
    const trimmed = travel.onWatermark(state, T0 + 45 * HOUR + 1).state as { recent: { id: string }[] };
    expect(trimmed.recent.map((s) => s.id)).toEqual(['t45', 't46', 't47', 't48', 't49']);
  });

  it('rejects options it cannot use', () => {
    expect(() => createImpossibleTravelProcessor({ maxSpeedKmh: 0, minDistanceKm: 100 })).toThrow('impossible-travel: maxSpeedKmh must be a positive number, got 0');
    expect(() => createImpossibleTravelProcessor({ maxSpeedKmh: Infinity, minDistanceKm: 100 })).toThrow(/maxSpeedKmh/);
    expect(() => createImpossibleTravelProcessor({ maxSpeedKmh: 1000, minDistanceKm: 0 })).toThrow('impossible-travel: minDistanceKm must be a positive number, got 0');
  });
});

// ---------------------------------------------------------------- amount anomaly

/** Usual spending: a fixed pseudo-random walk over 20..60 EUR. */
const usualAmounts = (n: number) => Array.from({ length: n }, (_, i) => 20 + ((i * 37) % 41));

describe('amount anomaly processor', () => {
  const amounts = createAmountAnomalyProcessor({ threshold: 4, warmup: 10, alpha: 0.1 }) as AnyProcessor;
  const purchases = (values: number[]) => values.map((amount, i) => tx(`t${i}`, T0 + i * HOUR, { amount }));

  it('flags 4,000 EUR on a card that usually spends 20-60 EUR', () => {
    const stream = purchases([...usualAmounts(30), 4000]);
    const { out } = run(amounts, byCard, stream);
    expect(out).toHaveLength(1);
    const [signal] = out;
    expect(signal).toMatchObject({ id: 'AMOUNT_ANOMALY/c-1/t30', kind: 'AMOUNT_ANOMALY', subject: 'c-1', time: T0 + 30 * HOUR, transactionIds: ['t30'], details: { amount: 4000 } });
    expect(signal!.details.typicalAmount).toBeGreaterThan(20);
    expect(signal!.details.typicalAmount).toBeLessThan(60);
    expect(signal!.details.zScore).toBeGreaterThanOrEqual(4);
    expect(signal!.message).toMatch(/^card c-1: 4,000\.00 EUR, typically \d\d\.\d\d \(z = \d+\.\d\)$/);
  });

  it("gives the flagged amount in its currency's minor digits: 520,000 JPY, 4,000.125 BHD (it read 520,000.00 JPY and 4,000.13 BHD)", () => {
    for (const [currency, amount, shown] of [['JPY', 520_000, '520,000 JPY'], ['BHD', 4000.125, '4,000.125 BHD']] as const) {
      const stream = [...usualAmounts(30), amount].map((a, i) => tx(`t${i}`, T0 + i * HOUR, { amount: a, currency }));
      const [signal] = run(amounts, byCard, stream).out;
      expect(signal!.message.startsWith(`card c-1: ${shown}, typically `), signal!.message).toBe(true);
    }
  });

  it('flags honest cards just out of warm-up no more often than later on (the spread is not underestimated at first)', () => {
    // 2,000 cards, each spending log-normally (a realistic habit), at the default z = 3, warmup 10, alpha 0.1.
    const detector = createAmountAnomalyProcessor({ threshold: 3, warmup: 10, alpha: 0.1 });
    const normal = seededNormal(42);
    const flagged = { early: 0, late: 0 };
    for (let card = 0; card < 2_000; card++) {
      let state = detector.init(`c-${card}`);
      for (let i = 0; i < 40; i++) {
        const step = detector.onEvent(state, tx(`t${i}`, T0 + i * HOUR, { amount: Math.exp(3.5 + normal()) }));
        state = step.state;
        if (step.out.length > 0) flagged[i < 15 ? 'early' : 'late']++;
      }
    }
    // Transactions 11-15 (5 a card) against 16-40 (25 a card), as rates. Dividing by a variance still settling
    // (61% of its value after 10) flagged 1.5% of the first against 0.5% of the rest.
    const early = flagged.early / (2_000 * 5);
    const late = flagged.late / (2_000 * 25);
    expect(early).toBeLessThan(1.5 * late);
  });

  it('does not flag during the warm-up, nor steady spending', () => {
    expect(run(amounts, byCard, purchases([25, 30, 28, 4000])).out).toEqual([]);
    expect(run(amounts, byCard, purchases(usualAmounts(500))).out).toEqual([]);
    // Always the same price: the stddev floor keeps a few cents more from looking like fraud.
    expect(run(amounts, byCard, purchases([...Array<number>(50).fill(9.99), 10.49, 12])).out).toEqual([]);
    expect(run(amounts, byCard, purchases([...Array<number>(50).fill(9.99), 400])).out).toHaveLength(1);
  });

  it('flags only high amounts, and skips refunds and zero-amount checks', () => {
    expect(run(amounts, byCard, purchases([...usualAmounts(30), 0.05])).out).toEqual([]);
    const before = run(amounts, byCard, purchases(usualAmounts(30))).states.get('c-1');
    const after = run(amounts, byCard, purchases([...usualAmounts(30), -500, 0])).states.get('c-1');
    expect(after).toStrictEqual(before);
  });

  it('rejects options it cannot use', () => {
    expect(() => createAmountAnomalyProcessor({ threshold: 0, warmup: 10, alpha: 0.1 })).toThrow('amount-anomaly: threshold must be a positive number, got 0');
    expect(() => createAmountAnomalyProcessor({ threshold: 4, warmup: 1, alpha: 0.1 })).toThrow('amount-anomaly: warmup must be a whole number >= 2, got 1');
    expect(() => createAmountAnomalyProcessor({ threshold: 4, warmup: 10, alpha: 0 })).toThrow('amount-anomaly: alpha must be in (0, 1], got 0');
  });
});

// ---------------------------------------------------------------- properties

const CARDS = ['c-1', 'c-2', 'c-3'];
const IPS = ['203.0.113.7', '198.51.100.2'];
/** Within 3 h, with tight clusters and window boundaries so bursts and ties occur. */
const offset = fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: 0, max: 10 * MINUTE }), fc.integer({ min: 0, max: MINUTE }), fc.constantFrom(0, MINUTE, 10 * MINUTE - 1, 10 * MINUTE));
const amount = fc.oneof(fc.constantFrom(20, 499.99, 500, 500.01, 4000, 0, -25), fc.integer({ min: 1, max: 200_000 }).map((n) => n / 100));

/** Transactions in event-time order (ties by id) and in an arbitrary delivery order of the same. */
const streams = fc
  .array(fc.record({ card: fc.constantFrom(...CARDS), ip: fc.constantFrom(...IPS), offset, amount, place: fc.nat(PLACES.length - 1) }), { maxLength: 60, size: 'max' })
  .map((raw) => raw.map((r, i) => tx(`t${String(i).padStart(2, '0')}`, T0 + r.offset, { cardId: r.card, ip: r.ip, amount: r.amount, at: PLACES[r.place]! })))
  .chain((txs) => fc.shuffledSubarray(txs, { minLength: txs.length, maxLength: txs.length }).map((shuffled) => ({ sorted: [...txs].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1)), shuffled })));
const watermarks = fc.record({ watermarkAfter: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }), lateness: fc.integer({ min: 0, max: 30 * MINUTE }) });
const velocityOptions = fc.record({ by: fc.constantFrom('card' as const, 'ip' as const), windowMs: fc.constantFrom(MINUTE, 10 * MINUTE), minAmount: fc.constantFrom(0, 500), maxCount: fc.constantFrom(1, 2, 3) });

const PROCESSORS: { processor: AnyProcessor; keyOf: (t: CardTransaction) => string }[] = [
  { processor: createVelocityProcessor({ by: 'card', windowMs: 10 * MINUTE, minAmount: 500, maxCount: 2 }) as AnyProcessor, keyOf: byCard },
  { processor: createVelocityProcessor({ by: 'ip', windowMs: 10 * MINUTE, minAmount: 0, maxCount: 1 }) as AnyProcessor, keyOf: byIp },
  { processor: createImpossibleTravelProcessor({ maxSpeedKmh: 900, minDistanceKm: 50 }) as AnyProcessor, keyOf: byCard },
  { processor: createAmountAnomalyProcessor({ threshold: 1.5, warmup: 3, alpha: 0.3 }) as AnyProcessor, keyOf: byCard },
];

/** Whether some maxCount + 1 of these times fit in a window (t - windowMs, t]. */
function hasBurst(times: number[], maxCount: number, windowMs: number): boolean {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted.some((time, i) => i + maxCount < sorted.length && sorted[i + maxCount]! - time < windowMs);
}

/**
 * Velocity the slow way, for streams too short to hit MAX_BURST_TRANSACTIONS:
 * every qualifying transaction is remembered, and the window is recounted
 * from all of them at each step.
 */
function velocityReference(options: VelocityOptions, keyOf: (t: CardTransaction) => string, delivered: CardTransaction[]): FraudSignal[] {
  const { by, windowMs, minAmount, maxCount } = options;
  const kind = by === 'card' ? 'CARD_VELOCITY' : 'IP_VELOCITY';
  const seen = new Map<string, { newest: number; qualifying: CardTransaction[]; burst: { firstId: string; members: CardTransaction[] } | null }>();
  const out: FraudSignal[] = [];
  const order = (a: CardTransaction, b: CardTransaction) => a.time - b.time || (a.id < b.id ? -1 : 1);
  for (const t of delivered) {
    const subject = keyOf(t);
    const s = seen.get(subject) ?? { newest: t.time, qualifying: [], burst: null };
    seen.set(subject, s);
    s.newest = Math.max(s.newest, t.time);
    if (t.amount >= minAmount) s.qualifying.push(t);
    const inWindow = s.qualifying.filter((q) => q.time > s.newest - windowMs).sort(order);
    const counts = t.amount >= minAmount && t.time > s.newest - windowMs;
    if (inWindow.length <= maxCount) {
      s.burst = null;
    } else if (counts) {
      s.burst = s.burst === null ? { firstId: inWindow[0]!.id, members: inWindow } : { firstId: s.burst.firstId, members: [...s.burst.members, t].sort(order) };
      const { firstId, members } = s.burst;
      out.push({
        id: `${kind}/${subject}/${firstId}`, kind, subject, time: members.at(-1)!.time, transactionIds: members.map((m) => m.id),
        details: { count: members.length, windowMs, minAmount, maxCount },
        message: `${by === 'card' ? 'card' : 'IP'} ${subject}: ${members.length} transactions of ${minAmount} or more, over ${maxCount} within ${windowMs / MINUTE}m`,
      });
    }
  }
  return out;
}

describe('fraud processors, properties', () => {
  it('resume from a JSON checkpoint at any point with the same outputs', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PROCESSORS), streams.chain((s) => fc.tuple(fc.constant(s.shuffled), fc.nat(s.shuffled.length))), watermarks, ({ processor, keyOf }, [stream, checkpointAt], plan) => {
        expect(run(processor, keyOf, stream, { ...plan, checkpointAt }).out).toStrictEqual(run(processor, keyOf, stream, plan).out);
      }),
      { numRuns: 200 },
    );
  });

  it('velocity: in any delivery order, a signal names only qualifying transactions of its subject, maxCount + 1 of them inside windowMs', () => {
    fc.assert(
      fc.property(velocityOptions, streams, watermarks, (options, { shuffled }, plan) => {
        const keyOf = options.by === 'card' ? byCard : byIp;
        const { out, kept } = run(createVelocityProcessor(options) as AnyProcessor, keyOf, shuffled, plan);
        const delivered = new Map(kept.map((t) => [t.id, t]));
        for (const signal of out) {
          const members = signal.transactionIds.map((id) => delivered.get(id)!);
          expect(members.every((t) => t !== undefined && keyOf(t) === signal.subject && t.amount >= options.minAmount)).toBe(true);
          expect(new Set(signal.transactionIds).size).toBe(members.length);
          expect(members.map((t) => t.time)).toEqual(members.map((t) => t.time).sort((a, b) => a - b));
          expect(hasBurst(members.map((t) => t.time), options.maxCount, options.windowMs)).toBe(true);
          expect(signal.details.count).toBeGreaterThanOrEqual(members.length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('velocity: in any delivery order, matches a reference that remembers every transaction', () => {
    fc.assert(
      fc.property(velocityOptions, streams, watermarks, (options, { shuffled }, plan) => {
        const keyOf = options.by === 'card' ? byCard : byIp;
        const { out, kept } = run(createVelocityProcessor(options) as AnyProcessor, keyOf, shuffled, plan);
        expect(out).toStrictEqual(velocityReference(options, keyOf, kept));
      }),
      { numRuns: 200 },
    );
  });

  it('velocity: delivered in event-time order, a subject is flagged exactly when it has a burst', () => {
    fc.assert(
      fc.property(velocityOptions, streams, (options, { sorted }) => {
        const keyOf = options.by === 'card' ? byCard : byIp;
        const flagged = new Set(run(createVelocityProcessor(options) as AnyProcessor, keyOf, sorted).out.map((o) => o.subject));
        const withBurst = [...CARDS, ...IPS].filter((subject) => hasBurst(sorted.filter((t) => keyOf(t) === subject && t.amount >= options.minAmount).map((t) => t.time), options.maxCount, options.windowMs));
        expect([...flagged].sort()).toEqual(withBurst.sort());
      }),
      { numRuns: 200 },
    );
  });

  it('impossible travel: every flagged pair is too fast; in event-time order exactly the too-fast neighbours are flagged; watermarks change nothing', () => {
    const options = { maxSpeedKmh: 900, minDistanceKm: 50 };
    const travel = createImpossibleTravelProcessor(options) as AnyProcessor;
    const tooFast = (a: CardTransaction, b: CardTransaction) => {
      const km = haversineKm(a, b);
      return km >= options.minDistanceKm && (b.time === a.time || km / ((b.time - a.time) / HOUR) > options.maxSpeedKmh);
    };
    fc.assert(
      fc.property(streams, watermarks, ({ sorted, shuffled }, plan) => {
        const { out, kept } = run(travel, byCard, shuffled, plan);
        const delivered = new Map(kept.map((t) => [t.id, t]));
        for (const signal of out) {
          const [earlier, later] = signal.transactionIds.map((id) => delivered.get(id)!);
          expect(earlier!.cardId === signal.subject && later!.cardId === signal.subject && earlier!.time <= later!.time && tooFast(earlier!, later!)).toBe(true);
        }
        // Trimming on watermarks only drops sightings no later event can be compared with.
        expect(run(travel, byCard, kept).out).toStrictEqual(out);

        const expected = CARDS.flatMap((card) => {
          const own = sorted.filter((t) => t.cardId === card);
          return own.slice(1).flatMap((later, i) => (tooFast(own[i]!, later) ? [`IMPOSSIBLE_TRAVEL/${card}/${own[i]!.id}/${later.id}`] : []));
        });
        expect(run(travel, byCard, sorted).out.map((o) => o.id).sort()).toEqual(expected.sort());

        // In any order, each arrival is compared with its neighbours among all earlier arrivals (MAX_SIGHTINGS never binds here).
        const arrived = new Map<string, CardTransaction[]>();
        const pairs: string[] = [];
        for (const t of kept) {
          const own = [...(arrived.get(t.cardId) ?? []), t].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
          arrived.set(t.cardId, own);
          const at = own.indexOf(t);
          if (at > 0 && tooFast(own[at - 1]!, t)) pairs.push(`IMPOSSIBLE_TRAVEL/${t.cardId}/${own[at - 1]!.id}/${t.id}`);
          if (at + 1 < own.length && tooFast(t, own[at + 1]!)) pairs.push(`IMPOSSIBLE_TRAVEL/${t.cardId}/${t.id}/${own[at + 1]!.id}`);
        }
        if ([...arrived.values()].every((own) => own.length <= MAX_SIGHTINGS)) expect(out.map((o) => o.id)).toEqual(pairs);
      }),
      { numRuns: 200 },
    );
  });
});
