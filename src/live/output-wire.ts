import { z } from 'zod';
import type { AnomalyFlag } from '../processors/anomaly.js';
import type { Candle } from '../processors/candles.js';
import type { WindowAggregate } from '../processors/windows.js';
import { NEWS2_METRICS, type News2Score } from '../processors/news2.js';

/** Processor outputs on pub/sub: JSON arrays of the outputs as processors made them (times as epoch ms). */
export const WINDOWS_CHANNEL = 'windows';
export const CANDLES_CHANNEL = 'candles';
export const ANOMALIES_CHANNEL = 'anomalies';
export const NEWS2_CHANNEL = 'news2';
export const FRAUD_CHANNEL = 'fraud';
// Fraud signals and alert events are read back from the database by each node's feed (output-feed.ts, `stored`), in
// commit order: their messages only say that something new was stored. Nodes of earlier versions parse them.

const ms = z.number().int();

export const WindowsMessage: z.ZodType<WindowAggregate[]> = z.array(
  z.object({
    id: z.string(),
    sourceId: z.string(),
    metric: z.string(),
    sizeMs: ms,
    hopMs: ms,
    start: ms,
    end: ms,
    count: z.number().int(),
    min: z.number(),
    max: z.number(),
    avg: z.number(),
    stddev: z.number().nullable(),
    first: z.number(),
    last: z.number(),
    firstTime: ms,
    lastTime: ms,
    closed: z.boolean(),
  }),
);

export const CandlesMessage: z.ZodType<Candle[]> = z.array(
  z.object({
    id: z.string(),
    symbol: z.string(),
    intervalMs: ms,
    start: ms,
    end: ms,
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    volume: z.number(),
    vwap: z.number().nullable(),
    trades: z.number().int(),
    closed: z.boolean(),
  }),
);

export const AnomaliesMessage: z.ZodType<AnomalyFlag[]> = z.array(
  z.object({
    id: z.string(),
    sourceId: z.string(),
    metric: z.string(),
    time: ms,
    value: z.number(),
    cursor: z.string(),
    mean: z.number(),
    stddev: z.number(),
    zScore: z.number(),
  }),
);

const perNews2Metric = z.object(Object.fromEntries(NEWS2_METRICS.map((m) => [m, z.number()])) as Record<(typeof NEWS2_METRICS)[number], z.ZodNumber>);

export const News2Message: z.ZodType<News2Score[]> = z.array(
  z.object({
    id: z.string(),
    sourceId: z.string(),
    time: ms,
    cursor: z.string(),
    total: z.number().int(),
    risk: z.enum(['LOW', 'LOW_MEDIUM', 'MEDIUM', 'HIGH']),
    highestSingle: z.number().int(),
    scores: perNews2Metric,
    values: perNews2Metric,
    // Absent from a node of an earlier version (a rolling upgrade).
    times: perNews2Metric.optional(),
    // Absent from a node of the previous version (a rolling upgrade): its scores are of the first stay or unknown.
    stay: ms.nullable().default(null),
  }),
);
