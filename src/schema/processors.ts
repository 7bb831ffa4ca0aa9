import { listLateEvents } from '../db/processor-state.js';
import { ValidationError } from '../errors.js';
import type { ProcessorRuntime } from '../processors/runtime.js';
import { builder } from './builder.js';
import { connectionOf, pageSize, parseCursor, toPage } from './pagination.js';
import { refuseCursorAhead } from './readings.js';
import { pageArgs, type PageBounds } from './cost.js';

const PAGE: PageBounds = { max: 1_000, fallback: 100 };

type Runtime = ProcessorRuntime<{ cursor: bigint }>;

const Percentiles = builder.objectRef<Runtime['delay']>('DelayFigures').implement({
  description: 'Reading/trade committed → its outputs stored and published, in ms, over the last 4096 live batches.',
  fields: (t) => ({
    samples: t.int({ description: 'Batches measured.', resolve: (d) => d.count }),
    p50: t.float({ description: 'Median, ms; null before any sample.', nullable: true, resolve: (d) => d.percentile(50) }),
    p95: t.float({ description: '95th percentile, ms.', nullable: true, resolve: (d) => d.percentile(95) }),
    p99: t.float({ description: '99th percentile, ms.', nullable: true, resolve: (d) => d.percentile(99) }),
    max: t.float({ description: 'Largest, ms.', resolve: (d) => d.max }),
  }),
});

const ProcessorOutputs = builder.objectRef<{ processor: string; outputs: number }>('ProcessorOutputCount').implement({
  description: 'How many outputs one processor of a pipeline has emitted on this node since it started.',
  fields: (t) => ({ processor: t.exposeString('processor', { description: 'The processor, e.g. windows.' }), outputs: t.exposeInt('outputs', { description: 'Outputs it emitted on this node since start.' }) }),
});

const PipelineRef = builder.objectRef<Runtime>('ProcessorPipeline').implement({
  description: "A stream's processor runtime on this node: progress, watermark, throughput and delay.",
  fields: (t) => ({
    name: t.string({ description: 'The pipeline: readings, patients, trades, transactions or transactions-ip.', resolve: (r) => r.name }),
    role: t.string({
      description:
        'owner (processing here), lapsed (this node owned it, but its lease renewals have not reached the database for a whole PROCESSOR_LEASE: another node may hold it; it goes on or stands by once the database answers), standby (another node holds the lease), starting or stopped.',
      resolve: (r) => r.reportedRole,
    }),
    position: t.string({ description: 'Last stream cursor processed.', resolve: (r) => r.position.toString() }),
    watermark: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Lowest series watermark (latest event time of the series minus ALLOWED_LATENESS): windows ending at or before it are final.',
      resolve: (r) => (r.watermark === null ? null : new Date(r.watermark)),
    }),
    eventsIn: t.float({ description: 'Events consumed on this node since start.', resolve: (r) => r.stats.eventsIn }),
    lateDropped: t.float({ description: 'Events behind the watermark, left out of the outputs closed by then (windows, candles, fraud checks; see lateEvents).', resolve: (r) => r.stats.lateDropped }),
    batches: t.float({ description: 'Batches processed on this node since start.', resolve: (r) => r.stats.batches }),
    eventsPerSecond: t.float({
      nullable: true,
      description: 'Events per second of processing time (processors alone, without storage).',
      resolve: (r) => (r.stats.processingMs > 0 ? (r.stats.eventsIn / r.stats.processingMs) * 1_000 : null),
    }),
    outputs: t.field({ description: 'Outputs per processor since start.', type: [ProcessorOutputs], resolve: (r) => Object.entries(r.stats.outputs).map(([processor, outputs]) => ({ processor, outputs })) }),
    delay: t.field({ description: 'Commit → outputs stored and published.', type: Percentiles, resolve: (r) => r.delay }),
    checkpointCursor: t.string({ description: 'Stream cursor of this node\'s last checkpoint.', nullable: true, resolve: (r) => r.checkpointedAt?.cursor.toString() ?? null }),
    checkpointedAt: t.field({ description: 'When this node last checkpointed.', type: 'DateTime', nullable: true, resolve: (r) => r.checkpointedAt?.at ?? null }),
  }),
});

builder.queryField('processors', (t) =>
  t.field({
    type: [PipelineRef],
    description: 'Processor runtimes on the node that answers.',
    resolve: (_root, _args, ctx) => Object.values(ctx.services.pipelines) as Runtime[],
  }),
);

interface LateEventView {
  pipeline: string;
  cursor: bigint;
  series: string;
  eventTime: Date;
  watermark: Date;
  recordedAt: Date;
}

const LateEventRef = builder.objectRef<LateEventView>('LateEvent').implement({
  description:
    "An event that arrived more than ALLOWED_LATENESS behind its series' newest event time (its watermark): stored, but in no anomaly flag or fraud signal of that series, and in none of its windows or candles ending at or before that watermark (closed by then); those still open took it.",
  fields: (t) => ({
    pipeline: t.exposeString('pipeline', { description: 'The pipeline it was late for.' }),
    cursor: t.string({ description: 'Its cursor in the stream.', resolve: (e) => e.cursor.toString() }),
    series: t.string({ description: 'sourceId/metric, or the symbol.', resolve: (e) => e.series }),
    eventTime: t.field({ description: 'Its event time.', type: 'DateTime', resolve: (e) => e.eventTime }),
    watermark: t.field({ description: 'The watermark it was behind.', type: 'DateTime', resolve: (e) => e.watermark }),
    recordedAt: t.field({ description: 'When it was found late.', type: 'DateTime', resolve: (e) => e.recordedAt }),
  }),
});

const LateEventConnection = connectionOf('LateEvent', LateEventRef);

builder.queryField('lateEvents', (t) =>
  t.field({
    type: LateEventConnection,
    description: 'Events that came later than ALLOWED_LATENESS, in stream order: left out of the windows and candles closed by then (see LateEvent). An `after` ahead of the pipeline\'s stream (a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, as by `readings`.',
    args: {
      pipeline: t.arg.string({ required: true, description: 'A pipeline name: readings (windows, anomaly flags), trades (candles), transactions or transactions-ip (fraud signals); patients (NEWS2, alert rules) takes every event, late or not, and lists none.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      if (!Object.hasOwn(ctx.services.pipelines, args.pipeline)) {
        throw new ValidationError(`pipeline must be one of ${Object.keys(ctx.services.pipelines).join(', ')}, got ${JSON.stringify(args.pipeline)}`, {
          argument: 'pipeline',
        });
      }
      const limit = pageSize(args.first, PAGE);
      const after = parseCursor(args.after, 'after');
      const found = await listLateEvents(ctx.services.database.db, { tenantId: ctx.scope.tenantId, pipeline: args.pipeline, after, limit: limit + 1 });
      if (found.length === 0) await refuseCursorAhead(ctx.services.database.db, after, ctx.services.pipelines[args.pipeline as keyof typeof ctx.services.pipelines].stream);
      return toPage(found, limit, (e) => e.cursor.toString(), args.after);
    },
  }),
);
