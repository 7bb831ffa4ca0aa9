/**
 * Prices and volumes as the markets view shows them (its table, summary line and chart legend): every decimal the
 * number has, so a pip or pipette is never rounded away (EUR/USD 1.08545, USD/JPY 150.123, a token at 0.00001234),
 * where a fixed 4 decimals (2 from 10 up; 2 in the legend) showed 1.0855, 150.12 and 0.0000, and a volume of 0.003
 * showed 0.
 */

/** Digits after the point in the shortest text that reads back as `v` (1.08545: 5; 1e-8: 8; 1500: 0). */
function decimalsOf(v: number): number {
  const [mantissa = '', exponent = '0'] = String(Math.abs(v)).split('e');
  return Math.max(0, (mantissa.split('.')[1]?.length ?? 0) - Number(exponent));
}

/** toFixed's limit. */
const MAX_DECIMALS = 100;

/** A price with all its decimals, and at least 4 below 10 and 2 from 10 up so a column lines up. */
export function formatPrice(v: number): string {
  const least = Math.abs(v) < 10 ? 4 : 2;
  return v.toFixed(Math.min(MAX_DECIMALS, Math.max(least, decimalsOf(v))));
}

/** A volume with all its decimals (a candle's volume is its sizes' exact sum, so 0.1 + 0.2 reads 0.3), grouped by locale. */
export function formatVolume(v: number): string {
  return v.toLocaleString(undefined, { maximumFractionDigits: Math.min(MAX_DECIMALS, decimalsOf(v)) });
}

/** Decimals that tell apart axis ticks `step` apart (0.00002: 5; 0.5: 1; 10: 0), at most 20. */
export function tickDecimals(step: number): number {
  return Math.min(20, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
}
