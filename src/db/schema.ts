import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/** The tenant every row belongs to when auth is off, and the tenant of rows stored before tenants existed. */
export const DEFAULT_TENANT = 'default';
const tenantColumn = () => text('tenant_id').notNull().default(DEFAULT_TENANT);

export const ROLES = ['ingest', 'read', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A customer of the platform: a hospital, a trading desk. Every source, rule and key belongs to one. */
export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * API keys. The secret is shown once, at creation; only its SHA-256 is kept
 * (the secret is 256 random bits, so a slow password hash would add nothing).
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    name: text('name').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    createdBy: text('created_by').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('api_keys_tenant').on(t.tenantId), check('api_keys_role', sql`${t.role} in ('ingest', 'read', 'analyst', 'admin')`)],
);

/** Who read which sources' data, when and through which operation. Written in batches off the request path. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id'),
    role: text('role').notNull(),
    operationType: text('operation_type').notNull(),
    operationName: text('operation_name'),
    fields: text('fields').array().notNull(),
    sourceIds: text('source_ids').array(),
    caller: text('caller').notNull(),
  },
  (t) => [index('audit_log_tenant_at').on(t.tenantId, t.at)],
);

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
    tenantId: tenantColumn(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** When the tenant retired it (a patient discharged, a device taken out of use); null while in use. */
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
    /** When it was last registered again after a retirement (a patient readmitted); null if never. */
    admittedAt: timestamp('admitted_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('sources_tenant').on(t.tenantId, t.id), check('sources_kind', sql`${t.kind} in ('PATIENT', 'DEVICE', 'INSTRUMENT')`)],
);

/**
 * One measurement. `seq` is the stream cursor: assigned in commit order from
 * `stream_offsets` (see db/offsets.ts), so it orders what readers can see.
 * The natural key (source_id, metric, time) is a unique covering index created
 * in SQL (migrations/0001), because drizzle cannot express INCLUDE.
 */
/**
 * When the platform received an event (its batch's arrival, by the receiving node's clock); null on rows stored
 * before migration 0012. Processors never let a series' clock pass it, so a replay decides lateness as the live
 * run did.
 */
const receivedAtColumn = () => timestamp('received_at', { withTimezone: true, mode: 'date' });

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
    /** The source's tenant, copied at ingest so processors and live filters need no lookup. */
    tenantId: tenantColumn(),
    receivedAt: receivedAtColumn(),
  },
  (t) => [
    index('readings_seq').on(t.seq),
    check('readings_quality', sql`${t.quality} in ('GOOD', 'SUSPECT', 'BAD')`),
  ],
);

/**
 * The last cursor handed out per stream (db/offsets.ts). Cursors up to
 * `last` are final except those of a claim still in `stream_claims`.
 */
export const streamOffsets = pgTable('stream_offsets', {
  stream: text('stream').primaryKey(),
  last: bigint('last', { mode: 'bigint' }).notNull().default(sql`0`),
});

/**
 * Cursor ranges (base, base + count] handed out and not yet stored: a writer
 * deletes its claim in the statement that inserts its rows. Readers see a
 * stream up to its lowest open claim (db/offsets.ts). `pid` is the backend
 * that claimed, one of the claiming node's connections: once it is gone, that
 * node died or lost the database, and the claim is abandoned. A claim whose
 * backend lives on is abandoned when it is 30 s old (ingest/claim-janitor.ts).
 */
export const streamClaims = pgTable(
  'stream_claims',
  {
    stream: text('stream').notNull(),
    base: bigint('base', { mode: 'bigint' }).notNull(),
    count: integer('count').notNull(),
    pid: integer('pid').notNull(),
    claimedAt: timestamp('claimed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.base] })],
);

/** Rejected ingest items, kept for operators for DEAD_LETTER_RETENTION. */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    stream: text('stream').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    caller: text('caller').notNull(),
    tenantId: tenantColumn(),
    item: jsonb('item').notNull(),
    errors: jsonb('errors').notNull(),
  },
  (t) => [index('dead_letters_received_at').on(t.receivedAt)],
);

/**
 * One trade. Like readings: `seq` is the trades stream cursor, and the
 * natural key (symbol, time, trade_id) is a unique covering index made in
 * SQL (migrations/0003, 0009), so a retried batch is stored once.
 */
export const trades = pgTable(
  'trades',
  {
    symbol: text('symbol').notNull(),
    time: timestamp('time', { withTimezone: true, mode: 'date' }).notNull(),
    /** The venue's id of the trade ('' when the client sent none): tells apart trades of one symbol in one millisecond. */
    tradeId: text('trade_id').notNull().default(''),
    price: doublePrecision('price').notNull(),
    size: doublePrecision('size').notNull(),
    seq: bigint('seq', { mode: 'bigint' }).notNull(),
    receivedAt: receivedAtColumn(),
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
 * A pipeline's checkpoint, a row per partition, as of `cursor`: after a
 * restart the runtime loads it with the pipeline's processor_series_states
 * and replays the stream after `cursor`. `state` is {} since series state
 * moved to processor_series_states; a checkpoint written before that holds
 * the partition's whole state here ({ clocks, series }), read once.
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

/**
 * Processor state per series (its stages' states and its clock, the latest
 * event time it has seen), as of its pipeline's checkpoint cursor in
 * processor_checkpoints. A checkpoint writes only the series whose state
 * changed since the one before; `cursor` is the checkpoint that last wrote
 * the row.
 */
export const processorSeriesStates = pgTable(
  'processor_series_states',
  {
    pipeline: text('pipeline').notNull(),
    series: text('series').notNull(),
    partition: integer('partition').notNull(),
    clock: doublePrecision('clock').notNull(),
    /**
     * The series' watermark as last applied: its windows ending at or before it are closed and stored. Later
     * events before it are late whatever ALLOWED_LATENESS is now (raised, or another node's), so a closed window
     * is never opened again with only them. Null: none applied yet, or written by an earlier version.
     */
    watermark: doublePrecision('watermark'),
    // json, not jsonb: stored as written and parsed only on a restart. Building jsonb from a checkpoint's
    // states (600 series of readings' windows, 1.5 MB) took ~100 ms of the server's CPU, json_in ~20 ms.
    state: json('state').notNull(),
    cursor: bigint('cursor', { mode: 'bigint' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.pipeline, t.series] })],
);

/** Events that arrived behind the watermark: stored raw, but left out of the windows and candles closed by then. */
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

export const ALERT_RULE_KINDS = ['THRESHOLD', 'RATE_OF_CHANGE', 'NEWS2', 'NO_DATA'] as const;
export const ALERT_STATES = ['PENDING', 'FIRING', 'RESOLVED'] as const;
export type AlertRuleKind = (typeof ALERT_RULE_KINDS)[number];
export type AlertState = (typeof ALERT_STATES)[number];

/** Alert rules as operators define them; `params` is validated by src/alerts/rule-params.ts. */
export const alertRules = pgTable(
  'alert_rules',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    tenantId: tenantColumn(),
    kind: text('kind', { enum: ALERT_RULE_KINDS }).notNull(),
    sourceIds: text('source_ids').array(),
    params: jsonb('params').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [check('alert_rules_kind', sql`${t.kind} in ('THRESHOLD', 'RATE_OF_CHANGE', 'NEWS2', 'NO_DATA')`)],
);

/**
 * One alert: an episode of one rule on one series (source + metric, or the
 * patient for NEWS2). A partial unique index (migrations/0005) keeps at most
 * one open alert per rule and series, across nodes.
 */
export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id').notNull(),
    sourceId: text('source_id').notNull(),
    metric: text('metric'),
    state: text('state', { enum: ALERT_STATES }).notNull(),
    severity: text('severity').notNull(),
    value: doublePrecision('value'),
    message: text('message').notNull(),
    /** Event time the episode began. */
    startedAt: timeColumn('started_at'),
    /** Wall-clock time it began firing: escalation counts from here. */
    firedAt: timestamp('fired_at', { withTimezone: true, mode: 'date' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'date' }),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true, mode: 'date' }),
    acknowledgeNote: text('acknowledge_note'),
    /** The severity it had when acknowledged: the acknowledgement covers it up to this (cleared when a new evaluation raises it higher). */
    acknowledgedSeverity: text('acknowledged_severity'),
    escalatedAt: timestamp('escalated_at', { withTimezone: true, mode: 'date' }),
    /** The level escalation raised it to (null: never escalated): a new evaluation never sets it lower. */
    escalatedSeverity: text('escalated_severity'),
    /** When a rise cleared its acknowledgement: escalation counts from here too, so the new level gets its own ESCALATE_AFTER. */
    unacknowledgedSince: timestamp('unacknowledged_since', { withTimezone: true, mode: 'date' }),
    seq: bigserial('seq', { mode: 'bigint' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  // alerts_rule: a rule's alerts newest first (the ruleIds filter), and whether a deleted rule left any.
  (t) => [index('alerts_state').on(t.state), index('alerts_source').on(t.sourceId), index('alerts_seq').on(t.seq), index('alerts_rule').on(t.ruleId, t.seq)],
);

/** Every transition of every alert, in the order it was stored: what subscribers were sent. */
export const alertTransitions = pgTable(
  'alert_transitions',
  {
    id: text('id').primaryKey(),
    seq: bigserial('seq', { mode: 'bigint' }).notNull(),
    alertId: text('alert_id').notNull(),
    kind: text('kind').notNull(),
    severity: text('severity').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'date' }),
    value: doublePrecision('value'),
    message: text('message').notNull(),
    actor: text('actor'),
    /**
     * The alert as it stood after this transition, as alert subscribers were sent it: what a subscription resuming
     * after an earlier transition replays. JSON null: not to be sent (recorded only, or stored before migration
     * 0016). SQL NULL: stored by a node of an earlier version (a rolling upgrade), sent with the alert as it stands.
     */
    alert: jsonb('alert'),
  },
  (t) => [index('alert_transitions_alert').on(t.alertId, t.seq), index('alert_transitions_seq').on(t.seq)],
);

/** The latest NEWS2 score of each patient. */
export const news2Scores = pgTable('news2_scores', {
  sourceId: text('source_id').primaryKey(),
  time: timeColumn('time'),
  total: integer('total').notNull(),
  risk: text('risk').notNull(),
  scores: jsonb('scores').notNull(),
  values: jsonb('values').notNull(),
  /** Event time (epoch ms) each value was measured; null for a score stored by an earlier version. */
  times: jsonb('times'),
  /** The stay it was scored in: the patient's admitted_at then (null: the first stay). */
  stay: timestamp('stay', { withTimezone: true, mode: 'date' }),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * Card transactions. A plain table, not a hypertable: idempotency is on the
 * partner's transaction id alone, and a hypertable's unique keys must include time.
 */
export const transactions = pgTable(
  'transactions',
  {
    tenantId: tenantColumn(),
    id: text('id').notNull(),
    cardId: text('card_id').notNull(),
    time: timeColumn('time'),
    amount: doublePrecision('amount').notNull(),
    currency: text('currency').notNull(),
    merchant: text('merchant').notNull(),
    lat: doublePrecision('lat').notNull(),
    lon: doublePrecision('lon').notNull(),
    ip: text('ip').notNull(),
    seq: bigint('seq', { mode: 'bigint' }).notNull(),
    receivedAt: receivedAtColumn(),
  },
  (t) => [
    primaryKey({ name: 'transactions_pkey', columns: [t.tenantId, t.id] }),
    index('transactions_seq').on(t.seq),
    index('transactions_card_time').on(t.tenantId, t.cardId, t.time),
  ],
);

/** Fraud signals, upserted by id (a velocity burst grows while it lasts). */
export const fraudSignals = pgTable(
  'fraud_signals',
  {
    id: text('id').primaryKey(),
    tenantId: tenantColumn(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    time: timeColumn('time'),
    transactionIds: text('transaction_ids').array().notNull(),
    details: jsonb('details').notNull(),
    message: text('message').notNull(),
    seq: bigserial('seq', { mode: 'bigint' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('fraud_signals_seq').on(t.seq), index('fraud_signals_subject').on(t.tenantId, t.subject, t.time)],
);

/**
 * One row: this deployment's identity, made by its first migration run. Every node on this database (and schema)
 * is the same deployment; pubsub/prefix-hold.ts keeps another deployment off its Redis channel prefix.
 */
export const deployment = pgTable('deployment', {
  id: text('id').primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
