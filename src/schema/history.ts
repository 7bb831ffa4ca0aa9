import { AGGREGATES, bucketStart, FILLS, history, type HistoryPoint } from '../db/history.js';
import { DURATION_HINT, looksLikeDuration, parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { builder } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkMetrics } from './metrics.js';
import { checkTimeRange } from './pagination.js';
import { LIST_SIZE, type ListSize } from './cost.js';

const MAX_BUCKETS = 10_000;
const MAX_BUCKET_MS = 3_650 * 86_400_000;

const AggregateEnum = builder.enumType('Aggregate', { values: AGGREGATES });
const FillEnum = builder.enumType('Fill', {
  description:
    'NONE: only buckets with data. LOCF: every bucket, empty ones carry the last value. INTERPOLATE: every bucket, empty ones linear between neighbours. With COUNT, either fill gives every bucket and an empty one counts 0.',
  values: FILLS,
});

/** The buckets a history query answers at most, for its cost; MAX_BUCKETS when its arguments do not tell. */
const historyBuckets: ListSize = (argument) => {
  const [from, to, bucket] = ['from', 'to', 'bucket'].map(argument);
  const bucketMs = typeof bucket === 'string' ? parseDuration(bucket) : undefined;
  const span = typeof from === 'string' && typeof to === 'string' ? Date.parse(to) - Date.parse(from) : Number.NaN;
  if (!bucketMs || !(span > 0)) return MAX_BUCKETS;
  // One more than the range holds: `from` is aligned down to its bucket.
  return Math.min(MAX_BUCKETS, Math.ceil(span / bucketMs) + 1);
};

const HistoryPointRef = builder.objectRef<HistoryPoint>('HistoryPoint').implement({
  fields: (t) => ({
    bucket: t.field({ type: 'DateTime', description: 'Start of the bucket.', resolve: (p) => p.bucketMs }),
    value: t.exposeFloat('value', { nullable: true, description: 'Null where a fill had no neighbour to use.' }),
  }),
});

builder.queryField('history', (t) =>
  t.field({
    type: [HistoryPointRef],
    description: `One series bucketed over [from, to). Buckets align to multiples of the bucket size (TimescaleDB time_bucket origin). At most ${MAX_BUCKETS} buckets.`,
    args: {
      sourceId: t.arg.id({ required: true, description: 'The source (patient, device) whose readings are bucketed.' }),
      metric: t.arg.string({ required: true, description: 'The metric, e.g. heart_rate.' }),
      from: t.arg({ type: 'DateTime', required: true, description: 'Start of the range (inclusive), aligned down to the start of its bucket: the first bucket is whole.' }),
      to: t.arg({ type: 'DateTime', required: true, description: 'End of the range (exclusive): a bucket it cuts holds only the readings before it.' }),
      bucket: t.arg.string({ required: true, description: `Bucket size: ${DURATION_HINT}.` }),
      aggregate: t.arg({ type: AggregateEnum, defaultValue: 'AVG', description: 'How each bucket\'s readings are combined.' }),
      fill: t.arg({ type: FillEnum, defaultValue: 'NONE', description: 'What an empty bucket gets: NONE leaves it out.' }),
    },
    resolve: async (_root, args, ctx) => {
      const bucketMs = parseDuration(args.bucket);
      if (bucketMs === 0) throw new ValidationError(`bucket must be greater than 0, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      if (bucketMs === undefined && !looksLikeDuration(args.bucket)) throw new ValidationError(`bucket must be ${DURATION_HINT}, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      if (bucketMs === undefined || bucketMs > MAX_BUCKET_MS) throw new ValidationError(`bucket may be at most 3650d, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      checkTimeRange(args.from, args.to);
      const buckets = Math.ceil((args.to.getTime() - bucketStart(args.from.getTime(), bucketMs)) / bucketMs);
      if (buckets > MAX_BUCKETS) {
        throw new ValidationError(`the range holds ${buckets} buckets of ${args.bucket}; at most ${MAX_BUCKETS} are allowed, use a larger bucket`, {
          argument: 'bucket',
        }, 'TOO_MANY_BUCKETS');
      }
      checkMetrics([args.metric], 'metric');
      await ctx.scope.source(String(args.sourceId), 'sourceId');
      const { database } = ctx.services;
      return history(database.db, database.timescale, {
        sourceId: String(args.sourceId),
        metric: args.metric,
        from: args.from,
        to: args.to,
        bucketMs,
        aggregate: args.aggregate ?? 'AVG',
        fill: args.fill ?? 'NONE',
      });
    },
    // Reads only, and neither it nor HistoryPoint's fields read `info`: thousands of buckets complete in a plain loop.
    extensions: { [PLAIN_LIST]: true, [LIST_SIZE]: historyBuckets },
  }),
);
