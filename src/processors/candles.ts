import type { Output, Processor } from './processor.js';
import { addOhlcvInPlace, copyOhlcv, createOhlcv, extractOhlcv, type Ohlcv, type OhlcvAccumulator } from './accumulators.js';
import type { Trade } from './series.js';
import { createWindowedProcessor, validateWindowSpecs, type WindowedState } from './keyed-windows.js';

/** One candle of one symbol: [start, end), OHLCV + VWAP, and whether it is final. */
export interface Candle extends Output, Ohlcv {
  symbol: string;
  intervalMs: number;
  start: number;
  end: number;
  closed: boolean;
}

export type CandlesState = WindowedState<OhlcvAccumulator, { symbol: string }>;

/**
 * OHLCV + VWAP candles per symbol, one tumbling window per interval, aligned
 * to WINDOW_ORIGIN; emitted on every trade, closed by the watermark like windows.
 */
export function createCandlesProcessor(intervalsMs: number[]): Processor<CandlesState, Trade, Candle> {
  const specs = intervalsMs.map((intervalMs) => ({ sizeMs: intervalMs, hopMs: intervalMs }));
  validateWindowSpecs(specs, 'candles');
  return createWindowedProcessor<OhlcvAccumulator, { symbol: string }, Trade, Candle>({
    name: 'candles',
    specs,
    seriesOf: ({ symbol }) => ({ symbol }),
    timeOf: (trade) => trade.time,
    create: createOhlcv,
    copy: copyOhlcv,
    addInPlace: addOhlcvInPlace,
    output: ({ symbol }, { sizeMs, start, acc }, closed) => {
      const c = extractOhlcv(acc);
      // Spelled out rather than spread: see copyStats.
      return {
        id: `${symbol}\u0000${sizeMs}\u0000${start}`,
        symbol,
        intervalMs: sizeMs,
        start,
        end: start + sizeMs,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        vwap: c.vwap,
        trades: c.trades,
        closed,
      };
    },
  });
}
