import { describe, expect, it } from 'vitest';
import { formatPrice, formatVolume } from '../web/src/prices.js';

describe("the markets view's prices and volumes", () => {
  it('show every decimal a price has: a pip or pipette is never rounded away', () => {
    expect(['1.08545', '1.08549', '150.123', '0.00001234', '0.00000001', '64123.5'].map((p) => formatPrice(Number(p)))).toEqual([
      '1.08545', '1.08549', '150.123', '0.00001234', '0.00000001', '64123.50',
    ]);
  });

  it('pad to 4 decimals below 10 and 2 from 10 up, so a column lines up', () => {
    expect([1, 1.5, 100, 101.5, 1e15].map(formatPrice)).toEqual(['1.0000', '1.5000', '100.00', '101.50', '1000000000000000.00']);
  });

  it('show a small volume as it is, not as 0', () => {
    expect([0.003, 1e-9, 0.6, 12, 1_000_000_000_001].map((v) => formatVolume(v).replace(/[^0-9.]/g, ''))).toEqual(['0.003', '0.000000001', '0.6', '12', '1000000000001']);
  });
});
