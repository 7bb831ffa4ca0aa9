import { AGGREGATES, bucketStart, FILLS, history, type Aggregate, type Fill, type HistoryPoint } from '../db/history.js';
import { DURATION_HINT, looksLikeDuration, parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { inDateTimeRange } from '../iso-time.js';
import { builder, describedValues } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkMetrics } from './metrics.js';
import { checkTimeRange } from './pagination.js';
import { QualityEnum } from './readings.js';
import { LIST_SIZE, type ListSize } from './cost.js';

const MAX_BUCKETS = 10_000;
const MAX_BUCKET_MS = 3_650 * 86_400_000;

const AGGREGATE_DESCRIPTIONS: Record<Aggregate, string> = {
  AVG: "The mean of the bucket's readings.",
  MIN: "The lowest of the bucket's readings.",
  MAX: "The highest of the bucket's readings.",
  COUNT: 'How many readings the bucket holds (0 for an empty bucket when filled).',
  FIRST: "The value of the bucket's earliest reading by measurement time.",
  LAST: "The value of the bucket's latest reading by measurement time.",
};
const AggregateEnum = builder.enumType('Aggregate', {
  description: "How history combines each bucket's readings into one value: every stored reading of the series counts, whatever its quality, unless history's qualities names some.",
  values: describedValues(AGGREGATES, AGGREGATE_DESCRIPTIONS),
});

const FILL_DESCRIPTIONS: Record<Fill, string> = {
  NONE: 'Only buckets that hold readings; empty ones are left out of the answer.',
  LOCF: 'Every bucket of the range; an empty one carries the value of the nearest earlier bucket with readings (last observation carried forward), null before the first one in the range.',
  INTERPOLATE:
    'Every bucket of the range; an empty one gets the value on the straight line between the nearest buckets with readings before and after it, null where the range has none on one side.',
};
const FillEnum = builder.enumType('Fill', {
  description:
    "What history answers for buckets without readings. Fills use only the buckets of the queried range: nothing is carried in from before it. With COUNT, LOCF and INTERPOLATE both give every bucket and an empty one counts 0. Fills end with the bucket holding now (the database's clock): an empty bucket after it is left out, as with NONE, so that nothing is carried, interpolated or counted 0 into a time not yet come.",
  values: describedValues(FILLS, FILL_DESCRIPTIONS),
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
  description: 'One bucket of a history series: where it starts and its aggregated (or filled) value.',
  fields: (t) => ({
    bucket: t.field({ type: 'DateTime', description: 'Start of the bucket.', resolve: (p) => p.bucketMs }),
    value: t.exposeFloat('value', { nullable: true, description: 'Null where a fill had no neighbour to use.' }),
  }),
});

builder.queryField('history', (t) =>
  t.field({
    type: [HistoryPointRef],
    description: `One series bucketed over [from, to). Buckets align to multiples of the bucket size from 2000-01-03T00:00:00Z, a Monday (TimescaleDB time_bucket origin), in UTC: a 1d bucket is a UTC day and a 7d one a week from Monday 00:00 UTC, whatever offset from and to are written with (no time zone is applied). At most ${MAX_BUCKETS} buckets.`,
    args: {
      sourceId: t.arg.id({ required: true, description: 'The source (patient, device) whose readings are bucketed.' }),
      metric: t.arg.string({ required: true, description: 'The metric, e.g. heart_rate.' }),
      from: t.arg({ type: 'DateTime', required: true, description: 'Start of the range (inclusive), aligned down to the start of its bucket: the first bucket is whole.' }),
      to: t.arg({ type: 'DateTime', required: true, description: 'End of the range (exclusive): a bucket it cuts holds only the readings before it.' }),
      bucket: t.arg.string({ required: true, description: `Bucket size: ${DURATION_HINT}.` }),
      aggregate: t.arg({ type: AggregateEnum, defaultValue: 'AVG', description: 'How each bucket\'s readings are combined.' }),
      fill: t.arg({ type: FillEnum, defaultValue: 'NONE', description: 'What an empty bucket gets: NONE leaves it out.' }),
      qualities: t.arg({
        type: [QualityEnum],
        description:
          'Only readings of these qualities; every stored reading when omitted. Windows, anomaly flags, NEWS2 and alert rules use GOOD readings only: pass [GOOD] for history that agrees with them (an artefact flagged SUSPECT, a heart rate of 350, moves an AVG or MAX bucket otherwise).',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const bucketMs = parseDuration(args.bucket);
      if (bucketMs === 0) throw new ValidationError(`bucket must be greater than 0, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      if (bucketMs === undefined && !looksLikeDuration(args.bucket)) throw new ValidationError(`bucket must be ${DURATION_HINT}, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      if (bucketMs === undefined || bucketMs > MAX_BUCKET_MS) throw new ValidationError(`bucket may be at most 3650d, got ${JSON.stringify(args.bucket)}`, { argument: 'bucket' });
      checkTimeRange(args.from, args.to);
      const start = bucketStart(args.from.getTime(), bucketMs);
      if (!inDateTimeRange(start)) {
        throw new ValidationError(`from ${args.from.toISOString()} aligned down to its ${args.bucket} bucket falls before the year 0001: use a later from or a smaller bucket`, { argument: 'from' });
      }
      const buckets = Math.ceil((args.to.getTime() - start) / bucketMs);
      if (buckets > MAX_BUCKETS) {
        throw new ValidationError(`the range holds ${buckets} buckets of ${args.bucket}; at most ${MAX_BUCKETS} are allowed, use a larger bucket`, {
          argument: 'bucket',
        }, 'TOO_MANY_BUCKETS');
      }
      checkMetrics([args.metric], 'metric');
      await ctx.scope.readingSources([String(args.sourceId)], 'sourceId');
      const { database } = ctx.services;
      return history(database.db, database.timescale, {
        sourceId: String(args.sourceId),
        metric: args.metric,
        from: args.from,
        to: args.to,
        bucketMs,
        aggregate: args.aggregate ?? 'AVG',
        fill: args.fill ?? 'NONE',
        qualities: args.qualities ?? undefined,
        now: ctx.services.ingest.clock.now(),
      });
    },
    // Reads only, and neither it nor HistoryPoint's fields read `info`: thousands of buckets complete in a plain loop.
    extensions: { [PLAIN_LIST]: true, [LIST_SIZE]: historyBuckets },
  }),
);
