import { describe, expect, it } from 'vitest';
import { isoUtc } from '../src/iso-time.js';

describe('isoUtc', () => {
  it('writes what toISOString writes, across the four-digit years and at their edges', () => {
    const edges = [
      0, -1, 1, 86_399_999, 86_400_000,
      Date.parse('0000-01-01T00:00:00.000Z'), Date.parse('9999-12-31T23:59:59.999Z'),
      Date.parse('2000-02-29T12:00:00.000Z'), Date.parse('1900-02-28T23:59:59.999Z'), Date.parse('1900-03-01T00:00:00.000Z'),
      Date.parse('2024-12-31T23:59:59.999Z'), Date.parse('1969-12-31T23:59:59.999Z'), Date.parse('1600-02-29T00:00:00.000Z'),
    ];
    for (const ms of edges) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
    // A fixed pseudo-random walk over the whole range, so a failure repeats.
    let seed = 12_345;
    const first = Date.parse('0000-01-01T00:00:00.000Z');
    const span = Date.parse('9999-12-31T23:59:59.999Z') - first;
    for (let i = 0; i < 200_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const ms = first + Math.floor((seed / 2_147_483_648) * span) + (i % 1000);
      if (isoUtc(ms) !== new Date(ms).toISOString()) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('is toISOString outside them, an invalid time included', () => {
    for (const ms of [Date.parse('+010000-01-01T00:00:00Z'), Date.parse('-000001-06-01T00:00:00Z'), 8.64e15]) {
      expect(isoUtc(ms)).toBe(new Date(ms).toISOString());
    }
    expect(() => isoUtc(Number.NaN)).toThrow(RangeError);
  });
});
