import { listWindows } from '../db/windows.js';
import { formatDuration, formatWindowSpec } from '../duration.js';
import type { WindowAggregate } from '../processors/windows.js';
import { builder } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkFilterSize, configuredWindow, emitBatch, filterSet, parseStartCursor } from './live.js';
import { checkTimeRange, connectionOf, pageSize, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';
import { checkMetrics } from './metrics.js';

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

/** A window as the API shows it, stored or live (times in epoch ms). */
type WindowView = Omit<WindowAggregate, 'id' | 'firstTime' | 'lastTime'>;

const WindowRef = builder.objectRef<WindowView>('WindowAggregate').implement({
  description:
    'Aggregates of one series (source + metric) over [start, end), in event time. closed: false while the window may still change (it is re-emitted on every update, late events included while it is open); closed: true once the watermark reached its end (ALLOWED_LATENESS after it): final.',
  fields: (t) => ({
    sourceId: t.exposeID('sourceId', { description: 'The source.' }),
    metric: t.exposeString('metric', { description: 'The metric.' }),
    window: t.string({ description: 'The window spec, e.g. "5m" or "5m/1m" (size/hop).', resolve: (w) => formatWindowSpec(w) }),
    size: t.string({ description: 'Window length, e.g. "5m".', resolve: (w) => formatDuration(w.sizeMs) }),
    hop: t.string({ description: 'How far each window starts after the one before (equal to size for tumbling windows).', resolve: (w) => formatDuration(w.hopMs) }),
    start: t.field({ description: 'Start (inclusive).', type: 'DateTime', resolve: (w) => w.start }),
    end: t.field({ description: 'End (exclusive).', type: 'DateTime', resolve: (w) => w.end }),
    count: t.exposeInt('count', { description: 'Readings in it.' }),
    min: t.exposeFloat('min', { description: 'Smallest value.' }),
    max: t.exposeFloat('max', { description: 'Largest value.' }),
    avg: t.exposeFloat('avg', { description: 'Mean value.' }),
    stddev: t.exposeFloat('stddev', { nullable: true, description: 'Sample standard deviation (as SQL stddev); null below two values.' }),
    first: t.exposeFloat('first', { description: 'Value with the earliest time in the window.' }),
    last: t.exposeFloat('last', { description: 'Value with the latest time in the window.' }),
    closed: t.exposeBoolean('closed', { description: 'True once final.' }),
  }),
});

const WindowConnection = connectionOf('WindowAggregate', WindowRef);

builder.queryField('windows', (t) =>
  t.field({
    type: WindowConnection,
    description:
      'Stored window aggregates of one series and window spec with from <= start < to, oldest first. A forming window is stored at most every FORMING_FLUSH_INTERVAL (1 s by default); the `windows` subscription has every version at once.',
    args: {
      sourceId: t.arg.id({ required: true, description: 'The source whose windows are listed.' }),
      metric: t.arg.string({ required: true, description: 'The metric, e.g. heart_rate.' }),
      window: t.arg.string({ required: true, description: 'A configured window, e.g. "5m" or "5m/1m" (WINDOWS).' }),
      from: t.arg({ type: 'DateTime', required: true, description: 'Windows starting at or after this time.' }),
      to: t.arg({ type: 'DateTime', required: true, description: 'Windows starting before this time.' }),
      closedOnly: t.arg.boolean({ defaultValue: true, description: 'Only final windows (default); false adds the ones still open.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      const spec = configuredWindow(args.window, ctx.services.config.processors.windows, 'window');
      checkMetrics([args.metric], 'metric');
      await ctx.scope.readingSources([String(args.sourceId)], 'sourceId');
      checkTimeRange(args.from, args.to);
      const limit = pageSize(args.first, PAGE);
      const rows = await listWindows(ctx.services.database.db, {
        sourceId: String(args.sourceId),
        metric: args.metric,
        ...spec,
        from: args.from,
        to: args.to,
        closedOnly: args.closedOnly ?? true,
        after: parseStartCursor(args.after),
        limit: limit + 1,
      });
      const views: WindowView[] = rows.map((r) => ({ ...r, start: r.start.getTime(), end: r.end.getTime() }));
      return toPage(views, limit, (w) => String(w.start), args.after);
    },
  }),
);

builder.subscriptionField('windows', (t) =>
  t.field({
    type: [WindowRef],
    description:
      'Window aggregates as the processors compute them: each update of an open window (closed: false) and each window as it closes (closed: true). Filters combine with AND; omitted means all.',
    args: {
      sourceIds: t.arg.idList({ description: 'Only these sources (default: all of the tenant\'s).' }),
      metrics: t.arg.stringList({ description: 'Only these metrics (default: all).' }),
      windows: t.arg.stringList({ description: 'Window specs such as "5m" or "5m/1m".' }),
      closedOnly: t.arg.boolean({ defaultValue: false, description: 'Only final windows.' }),
    },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.sourceIds, 'sourceIds');
      const configured = ctx.services.config.processors.windows;
      const specs = args.windows?.map((w) => configuredWindow(w, configured, 'windows'));
      checkMetrics(args.metrics, 'metrics');
      const sources = filterSet(await ctx.scope.readingSources(args.sourceIds));
      const metrics = filterSet(args.metrics);
      const closedOnly = args.closedOnly ?? false;
      return ctx.services.outputs.windows.subscribe(
        (w) =>
          (sources ? sources.has(w.sourceId) : ctx.scope.owns(w.sourceId)) &&
          (!metrics || metrics.has(w.metric)) &&
          (!closedOnly || w.closed) &&
          (!specs || specs.some((s) => s.sizeMs === w.sizeMs && s.hopMs === w.hopMs)),
      );
    },
    resolve: (batch: WindowAggregate[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
