import { limitHolder } from '../auth/principal.js';
import { readingsAfter, readingStoredAfter, type Reading } from '../db/readings.js';
import { QUALITIES, type Quality } from '../db/schema.js';
import { ValidationError } from '../errors.js';
import { committedOffset } from '../db/offsets.js';
import type { Executor } from '../db/client.js';
import { READINGS_STREAM, ingestReadings } from '../ingest/ingest-readings.js';
import { builder, describedValues } from './builder.js';
import { requestLog } from './context.js';
import { IngestResultRef } from './ingest-result.js';
import { emitBatch, resumePoint, tailedStream } from './live.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkTimeRange, connectionOf, pageSize, parseCursor, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';
import { checkMetrics } from './metrics.js';

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

const QUALITY_DESCRIPTIONS: Record<Quality, string> = {
  GOOD: "Sent as GOOD (or without quality) and plausible: within the metric's catalog range, and a whole number where the metric takes one.",
  SUSPECT: "Outside the metric's plausible range (or not a whole number where it must be), so marked at ingest; or so flagged by the sender. Stored and listed, never dropped.",
  BAD: 'Flagged unusable by the sender (ingest never sets it). Stored and listed.',
};
export const QualityEnum = builder.enumType('Quality', {
  description:
    'How far a reading can be trusted. Windows, anomaly flags, NEWS2 and alert rules use GOOD readings only; history aggregates every stored reading.',
  values: describedValues(QUALITIES, QUALITY_DESCRIPTIONS),
});

export const ReadingRef = builder.objectRef<Reading>('Reading').implement({
  description: 'One stored measurement.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Position in the readings stream (commit order). Pass as `after` to resume a subscription or page.',
      resolve: (r) => r.cursor.toString(),
    }),
    sourceId: t.exposeID('sourceId', { description: 'The source that measured it.' }),
    metric: t.exposeString('metric', { description: 'What was measured, e.g. heart_rate.' }),
    time: t.field({ type: 'DateTime', description: 'When it was measured (event time).', resolve: (r) => r.time }),
    value: t.exposeFloat('value', { description: 'The measured value, in unit.' }),
    unit: t.exposeString('unit', { description: 'The metric\'s unit.' }),
    quality: t.field({ description: 'GOOD; SUSPECT when out of the metric\'s plausible range or flagged so by the sender; BAD when flagged unusable by the sender.', type: QualityEnum, resolve: (r) => r.quality }),
  }),
});

const ReadingInput = builder.inputType('ReadingInput', {
  description: 'A measurement to ingest. Each item is validated on its own; see IngestError.',
  fields: (t) => ({
    sourceId: t.string({ required: true, description: 'A registered source id.' }),
    metric: t.string({ required: true, description: 'A metric from the catalog (query `metrics`).' }),
    time: t.string({ required: true, description: 'ISO-8601 timestamp with seconds and a time zone (Z or ±hh:mm), e.g. 2026-01-01T12:00:00.250Z; kept to the millisecond, so two readings of one series in the same millisecond are one reading (the first stored wins).' }),
    value: t.float({ required: true, description: "In the metric's catalog unit." }),
    unit: t.string({ description: "Optional; if given it must equal the metric's catalog unit." }),
    quality: t.field({ type: QualityEnum, description: 'Sender-side quality flag; defaults to GOOD.' }),
  }),
});

builder.mutationField('ingestReadings', (t) =>
  t.field({
    type: IngestResultRef,
    description: 'Stores a batch of readings (at most MAX_BATCH). Idempotent: resending a batch stores nothing twice.',
    args: { readings: t.arg({ type: [ReadingInput], required: true, description: 'Readings, at most MAX_BATCH; each is stored or rejected on its own, and a retried reading is stored once.' }) },
    resolve: (_root, args, ctx) => ingestReadings(ctx.services.ingest, args.readings, ctx.principal, { log: requestLog(ctx), id: ctx.requestId }),
  }),
);

const ReadingConnection = connectionOf('Reading', ReadingRef);

/**
 * Refuses a page's `after` (a cursor of `stream`, readings by default) ahead of the stream: it belongs to another history (a database
 * restored from an older backup), and polled on, its empty pages would skip every reading stored up to it. Asked
 * only of an empty page, as the subscription refuses such a cursor.
 */
export async function refuseCursorAhead(db: Executor, after: bigint | null, stream = READINGS_STREAM): Promise<void> {
  if (after === null) return;
  const committed = await committedOffset(db, stream);
  if (after > committed) {
    throw new ValidationError(`after ${after} is ahead of the stream (last committed cursor is ${committed}); page on with a cursor this API returned`, {
      argument: 'after',
      resumeAfter: committed.toString(),
    });
  }
}

builder.queryField('readings', (t) =>
  t.field({
    type: ReadingConnection,
    description:
      'Stored readings in cursor (commit) order: a catch-up feed. Filters combine with AND. An `after` ahead of the stored stream (a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the newest committed cursor.',
    args: {
      sourceIds: t.arg.idList({ description: 'Only these sources (default: all of the tenant\'s).' }),
      metrics: t.arg.stringList({ description: 'Only these metrics (default: all).' }),
      from: t.arg({ type: 'DateTime', description: 'Measured at or after.' }),
      to: t.arg({ type: 'DateTime', description: 'Measured before.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      checkMetrics(args.metrics, 'metrics');
      checkTimeRange(args.from, args.to);
      const limit = pageSize(args.first, PAGE);
      const sourceIds = await ctx.scope.readingSources(args.sourceIds);
      const after = parseCursor(args.after, 'after');
      const { db } = ctx.services.database;
      const found = await readingsAfter(db, after ?? 0n, {
        limit: limit + 1,
        filter: { tenantId: ctx.scope.tenantId, sourceIds, metrics: args.metrics, from: args.from, to: args.to },
      });
      if (found.length === 0) await refuseCursorAhead(db, after);
      return toPage(found, limit, (r) => r.cursor.toString(), args.after);
    },
  }),
);

builder.subscriptionField('readings', (t) =>
  t.field({
    type: [ReadingRef],
    description:
      'Committed readings as they arrive, in cursor order, batched. With `after` (or an SSE Last-Event-ID, which wins over `after`: a reconnecting EventSource sends both) it first replays every stored reading after that cursor, then continues live: no gap, no duplicate. Each SSE event id is the last cursor in it.',
    args: {
      sourceIds: t.arg.idList({ description: 'Only these sources; all when omitted.' }),
      metrics: t.arg.stringList({ description: 'Only these metrics; all when omitted.' }),
      after: t.arg.string({
        description:
          'Resume after this cursor. One ahead of the stored stream (a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the newest committed cursor: read the state again and resume after that. With a read key, one whose replay would begin more than READ_KEY_REPLAY (1h) back is refused (FORBIDDEN) with `extensions.resumeAfter` too. Its replay of stored rows takes one of the MAX_CONCURRENT_REPLAYS_PER_KEY (4) turns of its key, waiting up to REPLAY_WAIT (30s) for one; past that it ends with TOO_MANY_REPLAYS and `extensions.resumeAfter`: resubscribe there.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      if ((args.sourceIds?.length ?? 0) > 1_000) throw new ValidationError('sourceIds may name at most 1000 sources');
      checkMetrics(args.metrics, 'metrics');
      const { readingsTail, readingsFeed, database } = ctx.services;
      const sourceIds = await ctx.scope.readingSources(args.sourceIds);
      const filter = { tenantId: ctx.scope.tenantId, sourceIds, metrics: args.metrics };
      // Where this subscription's replay begins: other tenants' and other sources' readings are not replayed to it.
      const stream = tailedStream(ctx, readingsTail, 'readings', (cursor, own) => readingStoredAfter(database.db, cursor, own ? filter : undefined));
      const after = await resumePoint(ctx, args.after, stream);
      return readingsFeed.subscribe({ ...filter, after, holder: limitHolder(ctx.principal) });
    },
    // The SSE event id (the batch's last cursor) is noted per subscriber by noteStreamCursor: this may run once for many.
    resolve: (batch: Reading[] | Error) => emitBatch(batch),
    // This resolver and Reading's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
