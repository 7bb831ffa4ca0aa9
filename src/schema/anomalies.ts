import { listAnomalies } from '../db/anomalies.js';
import type { AnomalyFlag } from '../processors/anomaly.js';
import { builder } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkFilterSize, emitBatch, filterSet } from './live.js';
import { checkTimeRange, connectionOf, pageSize, parseCursor, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';
import { checkMetrics } from './metrics.js';
import { refuseCursorAhead } from './readings.js';

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

type AnomalyView = Omit<AnomalyFlag, 'id'>;

const AnomalyRef = builder.objectRef<AnomalyView>('Anomaly').implement({
  description:
    "A reading far off its series' trend: |value − mean| ≥ ANOMALY_Z × stddev, where mean and stddev are exponentially weighted (ANOMALY_ALPHA) over the series' earlier readings, after ANOMALY_WARMUP readings. The stddev is taken as at least 1% of |mean|, so a series that sat flat is flagged when it moves far.",
  fields: (t) => ({
    sourceId: t.exposeID('sourceId', { description: 'The source of the flagged reading.' }),
    metric: t.exposeString('metric', { description: 'Its metric.' }),
    time: t.field({ description: 'Its event time.', type: 'DateTime', resolve: (a) => a.time }),
    value: t.exposeFloat('value', { description: 'Its value.' }),
    cursor: t.exposeString('cursor', { description: "The flagged reading's cursor in the readings stream." }),
    mean: t.exposeFloat('mean', { description: 'The trend before this reading.' }),
    stddev: t.exposeFloat('stddev', { description: 'The trend\'s standard deviation before this reading (at least 1% of |mean|): the one zScore divides by.' }),
    zScore: t.exposeFloat('zScore', { description: '(value − mean) / stddev.' }),
  }),
});

const AnomalyConnection = connectionOf('Anomaly', AnomalyRef);

builder.queryField('anomalies', (t) =>
  t.field({
    type: AnomalyConnection,
    description:
      "Stored anomaly flags in readings-stream order. Filters combine with AND. An `after` ahead of the readings stream (a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, as by `readings`.",
    args: {
      sourceIds: t.arg.idList({ description: 'Only these sources (default: all of the tenant\'s).' }),
      metrics: t.arg.stringList({ description: 'Only these metrics (default: all).' }),
      from: t.arg({ type: 'DateTime', description: 'Reading time at or after.' }),
      to: t.arg({ type: 'DateTime', description: 'Reading time before.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      checkMetrics(args.metrics, 'metrics');
      checkTimeRange(args.from, args.to);
      const limit = pageSize(args.first, PAGE);
      const after = parseCursor(args.after, 'after');
      const rows = await listAnomalies(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        sourceIds: await ctx.scope.readingSources(args.sourceIds),
        metrics: args.metrics,
        from: args.from,
        to: args.to,
        after,
        limit: limit + 1,
      });
      // Flags are keyed by their reading's cursor.
      if (rows.length === 0) await refuseCursorAhead(ctx.services.database.db, after);
      const views: AnomalyView[] = rows.map((r) => ({ ...r, time: r.time.getTime(), cursor: r.cursor.toString() }));
      return toPage(views, limit, (a) => a.cursor, args.after);
    },
  }),
);

builder.subscriptionField('anomalies', (t) =>
  t.field({
    type: [AnomalyRef],
    description: 'Anomaly flags as the processor raises them.',
    args: { sourceIds: t.arg.idList({ description: 'Only these sources (default: all of the tenant\'s).' }), metrics: t.arg.stringList({ description: 'Only these metrics (default: all).' }) },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.sourceIds, 'sourceIds');
      const sources = filterSet(await ctx.scope.readingSources(args.sourceIds));
      checkMetrics(args.metrics, 'metrics');
      const metrics = filterSet(args.metrics);
      return ctx.services.outputs.anomalies.subscribe((a) => (sources ? sources.has(a.sourceId) : ctx.scope.owns(a.sourceId)) && (!metrics || metrics.has(a.metric)));
    },
    resolve: (batch: AnomalyFlag[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
