import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

// Text + CHECK rather than pg enums: enum types are schema-qualified by
// drizzle-kit, which would tie every deployment to the `public` schema.
export const SOURCE_KINDS = ['PATIENT', 'DEVICE', 'INSTRUMENT'] as const;
export const QUALITIES = ['GOOD', 'SUSPECT', 'BAD'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
export type Quality = (typeof QUALITIES)[number];

/** Anything that emits telemetry: a patient, a bedside monitor, a market instrument. */
export const sources = pgTable(
  'sources',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: SOURCE_KINDS }).notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [check('sources_kind', sql`${t.kind} in ('PATIENT', 'DEVICE', 'INSTRUMENT')`)],
);

/**
 * One measurement. `seq` is the stream cursor: assigned in commit order from
 * `stream_offsets` (see db/offsets.ts), so it orders what readers can see.
 * The natural key (source_id, metric, time) is a unique covering index created
 * in SQL (migrations/0001), because drizzle cannot express INCLUDE.
 */
export const readings = pgTable(
  'readings',
  {
    sourceId: text('source_id').notNull(),
    metric: text('metric').notNull(),
    time: timestamp('time', { withTimezone: true, mode: 'date' }).notNull(),
    value: doublePrecision('value').notNull(),
    unit: text('unit').notNull(),
    quality: text('quality', { enum: QUALITIES }).notNull().default('GOOD'),
    seq: bigint('seq', { mode: 'bigint' }).notNull(),
  },
  (t) => [
    index('readings_seq').on(t.seq),
    check('readings_quality', sql`${t.quality} in ('GOOD', 'SUSPECT', 'BAD')`),
  ],
);

/**
 * The last cursor handed out per stream. Ingest bumps it inside its own
 * transaction; the row lock orders writers, so cursors become visible in
 * order and a committed `last` means every cursor up to it is final.
 */
export const streamOffsets = pgTable('stream_offsets', {
  stream: text('stream').primaryKey(),
  last: bigint('last', { mode: 'bigint' }).notNull().default(sql`0`),
});

/** Rejected ingest items, kept for operators for DEAD_LETTER_RETENTION. */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    stream: text('stream').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    caller: text('caller').notNull(),
    item: jsonb('item').notNull(),
    errors: jsonb('errors').notNull(),
  },
  (t) => [index('dead_letters_received_at').on(t.receivedAt)],
);

/**
 * One trade. Like readings: `seq` is the trades stream cursor, and the
 * natural key (symbol, time) is a unique covering index made in SQL
 * (migrations/0002), so a retried batch is stored once.
 */
export const trades = pgTable(
  'trades',
  {
    symbol: text('symbol').notNull(),
    time: timestamp('time', { withTimezone: true, mode: 'date' }).notNull(),
    price: doublePrecision('price').notNull(),
    size: doublePrecision('size').notNull(),
    seq: bigint('seq', { mode: 'bigint' }).notNull(),
  },
  (t) => [index('trades_seq').on(t.seq), check('trades_positive', sql`${t.price} > 0 and ${t.size} > 0`)],
);

const msColumn = (name: string) => bigint(name, { mode: 'number' }).notNull();
const timeColumn = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' }).notNull();

/** Window aggregates per series; upserted by the windows processor (closed = final). */
export const windowAggregates = pgTable(
  'window_aggregates',
  {
    sourceId: text('source_id').notNull(),
    metric: text('metric').notNull(),
    sizeMs: msColumn('size_ms'),
    hopMs: msColumn('hop_ms'),
    start: timeColumn('start_time'),
    end: timeColumn('end_time'),
    count: integer('count').notNull(),
    min: doublePrecision('min').notNull(),
    max: doublePrecision('max').notNull(),
    avg: doublePrecision('avg').notNull(),
    stddev: doublePrecision('stddev'),
    first: doublePrecision('first').notNull(),
    last: doublePrecision('last').notNull(),
    closed: boolean('closed').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.metric, t.sizeMs, t.hopMs, t.start] })],
);

/** OHLCV candles per symbol and interval; upserted by the candles processor (closed = final). */
export const candles = pgTable(
  'candles',
  {
    symbol: text('symbol').notNull(),
    intervalMs: msColumn('interval_ms'),
    start: timeColumn('start_time'),
    end: timeColumn('end_time'),
    open: doublePrecision('open').notNull(),
    high: doublePrecision('high').notNull(),
    low: doublePrecision('low').notNull(),
    close: doublePrecision('close').notNull(),
    volume: doublePrecision('volume').notNull(),
    vwap: doublePrecision('vwap'),
    trades: integer('trades').notNull(),
    closed: boolean('closed').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.symbol, t.intervalMs, t.start] })],
);

/** Readings the anomaly processor flagged, with the trend it compared them to. */
export const anomalies = pgTable(
  'anomalies',
  {
    sourceId: text('source_id').notNull(),
    metric: text('metric').notNull(),
    time: timeColumn('time'),
    value: doublePrecision('value').notNull(),
    cursor: bigint('cursor', { mode: 'bigint' }).notNull(),
    mean: doublePrecision('mean').notNull(),
    stddev: doublePrecision('stddev').notNull(),
    zScore: doublePrecision('z_score').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.metric, t.time] }), index('anomalies_cursor').on(t.cursor)],
);

/**
 * Processor state per pipeline and partition, as of `cursor`: after a restart
 * the runtime loads it and replays the stream after `cursor`.
 */
export const processorCheckpoints = pgTable(
  'processor_checkpoints',
  {
    pipeline: text('pipeline').notNull(),
    partition: integer('partition').notNull(),
    partitions: integer('partitions').notNull(),
    cursor: bigint('cursor', { mode: 'bigint' }).notNull(),
    state: jsonb('state').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.pipeline, t.partition] })],
);

/** Events that arrived behind the watermark: stored raw, but left out of windows and candles. */
export const lateEvents = pgTable(
  'late_events',
  {
    pipeline: text('pipeline').notNull(),
    cursor: bigint('cursor', { mode: 'bigint' }).notNull(),
    series: text('series').notNull(),
    eventTime: timeColumn('event_time'),
    watermark: timeColumn('watermark'),
    recordedAt: timestamp('recorded_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.pipeline, t.cursor] })],
);

/** Which node runs a pipeline's processors; a lease that lapses is taken over. */
export const processorLeases = pgTable('processor_leases', {
  pipeline: text('pipeline').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: timeColumn('expires_at'),
});
