import { addStatsInPlace, copyStats, createStats, extractStats, type Stats, type StatsAccumulator } from './accumulators.js';
import { createWindowedProcessor, validateWindowSpecs, type WindowedState, type WindowSpec } from './keyed-windows.js';
import type { Output, Processor } from './processor.js';
import type { Point } from './series.js';

export interface SeriesId {
  sourceId: string;
  metric: string;
}

/** One window of one series: [start, end), its aggregates, and whether it is final. */
export interface WindowAggregate extends Output, SeriesId, Stats {
  sizeMs: number;
  hopMs: number;
  start: number;
  end: number;
  closed: boolean;
}

export type WindowsState = WindowedState<StatsAccumulator, SeriesId>;

/** Tumbling and hopping windows per series: count, min, max, avg, stddev, first, last. */
export function createWindowsProcessor(specs: WindowSpec[]): Processor<WindowsState, Point, WindowAggregate> {
  validateWindowSpecs(specs, 'windows');
  return createWindowedProcessor<StatsAccumulator, SeriesId, Point, WindowAggregate>({
    name: 'windows',
    specs: specs.map(({ sizeMs, hopMs }) => ({ sizeMs, hopMs })),
    seriesOf: ({ sourceId, metric }) => ({ sourceId, metric }),
    timeOf: (point) => point.time,
    create: createStats,
    copy: copyStats,
    addInPlace: addStatsInPlace,
    output: ({ sourceId, metric }, { sizeMs, hopMs, start, acc }, closed) => {
      const stats = extractStats(acc);
      // Spelled out rather than spread: see copyStats.
      return {
        id: `${sourceId}\u0000${metric}\u0000${sizeMs}\u0000${hopMs}\u0000${start}`,
        sourceId,
        metric,
        sizeMs,
        hopMs,
        start,
        end: start + sizeMs,
        count: stats.count,
        min: stats.min,
        max: stats.max,
        avg: stats.avg,
        stddev: stats.stddev,
        first: stats.first,
        last: stats.last,
        firstTime: stats.firstTime,
        lastTime: stats.lastTime,
        closed,
      };
    },
  });
}
