import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  doublePrecision,
  index,
  jsonb,
  pgTable,
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
