import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalTimeMs, plainReading, ReadingItem, validateReading } from '../src/ingest/reading-item.js';
import { EARLIEST_EVENT_TIME } from '../src/ingest/item-errors.js';

// Good values weigh more than the rest, so that many whole items are good. Values a careless or hostile sender may put in each field, beside good ones.
const anyValue = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.boolean(), fc.object());
const time = fc.oneof(
  { arbitrary: fc.date({ min: new Date(-62_000_000_000_000), max: new Date(300_000_000_000_000), noInvalidDate: true }).map((d) => d.toISOString()), weight: 4 },
  fc.constantFrom('2026-01-01T12:00:00Z', '2026-01-01T12:00:00.250+02:00', '2026-02-30T00:00:00.000Z', '2025-02-29T12:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-01-00T00:00:00.000Z', '2026-00-10T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:59:60.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01 12:00:00.000Z', '2026-1-01T12:00:00.000Z', '2026-01-01T12:00:00.000z'),
  anyValue,
);
const item = fc.record(
  {
    sourceId: fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,130}$/), weight: 4 }, anyValue),
    metric: fc.oneof(fc.constantFrom('heart_rate', 'spo2', 'x'.repeat(64), 'x'.repeat(65)), anyValue),
    time,
    value: fc.oneof(fc.double(), fc.constantFrom(1e15, -1e15, 1e15 + 1, Number.NaN, Infinity, -0), anyValue),
    unit: fc.oneof(fc.constantFrom('/min', 'u'.repeat(32), 'u'.repeat(33)), anyValue),
    quality: fc.oneof(fc.constantFrom('GOOD', 'SUSPECT', 'BAD', 'good'), anyValue),
  },
  { requiredKeys: [] },
);

describe('reading item fast path', () => {
  it('accepts only what the zod schema accepts, with the same result', () => {
    let accepted = 0;
    fc.assert(
      fc.property(item, (candidate) => {
        const plain = plainReading(candidate);
        if (plain === undefined) return;
        accepted++;
        const parsed = ReadingItem.safeParse(candidate);
        expect(parsed.success).toBe(true);
        expect(plain).toEqual(parsed.data);
        // The instant read digit by digit is the one Date reads from the same string.
        expect(canonicalTimeMs(plain.time)).toBe(Date.parse(plain.time));
      }),
      { numRuns: 20_000 },
    );
    // Not vacuous: a good share of the generated items take the fast path.
    expect(accepted).toBeGreaterThan(100);
  });

  it('reads a canonical time as Date does, and refuses what names no real instant', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('0100-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        expect(canonicalTimeMs(date.toISOString())).toBe(date.getTime());
      }),
      { numRuns: 20_000 },
    );
    for (const leap of ['2024-02-29T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '0400-02-29T00:00:00.000Z']) expect(canonicalTimeMs(leap)).toBe(Date.parse(leap));
    for (const unreal of ['2025-02-29T00:00:00.000Z', '1900-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-01-00T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:59:60.000Z', '0099-01-01T00:00:00.000Z', '2026-01-01T12:00:00Z']) {
      expect(canonicalTimeMs(unreal), unreal).toBeNaN();
    }
  });

  it('stores the instant sent, by either path', () => {
    const latest = new Date('2100-01-01T00:00:00Z');
    for (const time of ['2026-03-01T12:00:00.250Z', '2026-03-01T14:00:00.250+02:00', '2024-02-29T00:00:00Z']) {
      const checked = validateReading({ sourceId: 'bed-1', metric: 'heart_rate', time, value: 72 }, 0, { earliest: EARLIEST_EVENT_TIME, latest });
      expect(checked.ok && checked.value.time.getTime(), time).toBe(Date.parse(time));
    }
  });

  it("takes a well-formed item with Date#toISOString's time (so the hot path is the fast one)", () => {
    const sent = { sourceId: 'bed-1', metric: 'heart_rate', time: new Date(1_767_268_800_250).toISOString(), value: 72 };
    expect(plainReading(sent)).toEqual(ReadingItem.parse(sent));
    expect(plainReading({ ...sent, unit: '/min', quality: 'SUSPECT' })).toEqual(ReadingItem.parse({ ...sent, unit: '/min', quality: 'SUSPECT' }));
    // Other valid forms go through zod, which accepts them.
    expect(plainReading({ ...sent, time: '2026-01-01T12:00:00+02:00' })).toBeUndefined();
    expect(ReadingItem.safeParse({ ...sent, time: '2026-01-01T12:00:00+02:00' }).success).toBe(true);
  });
});
