import { describe, expect, it } from 'vitest';
import { formatPrice, formatVolume, tickDecimals } from '../web/src/prices.js';

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

  it("label the chart's price ticks with the decimals their step needs: EUR/USD ticks 0.00002 apart read 1.08542, 1.08544, not 1.085 four times", () => {
    expect([0.00002, 0.0001, 0.002, 0.5, 1, 10, 250].map(tickDecimals)).toEqual([5, 4, 3, 1, 0, 0, 0]);
    expect([1.08542, 1.08544, 1.08546].map((v) => v.toFixed(tickDecimals(0.00002)))).toEqual(['1.08542', '1.08544', '1.08546']);
  });
});
