import { listNews2 } from '../db/news2.js';
import { NEWS2_METRICS, type News2Metric, type News2Risk, type News2Score } from '../processors/news2.js';
import { builder, describedValues } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import { checkFilterSize, emitBatch, filterSet } from './live.js';
import { LIST_SIZE, pageArgs, type PageBounds } from './cost.js';
import { connectionOf, idCursor, pageSize, toPage } from './pagination.js';

type News2View = Omit<News2Score, 'id' | 'cursor' | 'highestSingle' | 'stay'>;

const PAGE: PageBounds = { max: 500, fallback: 100 };

const NEWS2_RISKS = ['LOW', 'LOW_MEDIUM', 'MEDIUM', 'HIGH'] as const satisfies readonly News2Risk[];
const NEWS2_RISK_DESCRIPTIONS: Record<News2Risk, string> = {
  LOW: 'Total 0-4 and no single parameter scoring 3. Raises no alert; resolves a firing NEWS2 alert.',
  LOW_MEDIUM: 'Total 0-4 with a single parameter scoring 3. A NEWS2 rule fires at MEDIUM severity.',
  MEDIUM: 'Total 5-6: urgent response. A NEWS2 rule fires at HIGH severity.',
  HIGH: 'Total 7 or more: emergency response. A NEWS2 rule fires at CRITICAL severity.',
};
const News2RiskEnum = builder.enumType('News2Risk', {
  description: 'The clinical risk a NEWS2 score means (Royal College of Physicians, 2017), from its total and its highest single parameter score.',
  values: describedValues(NEWS2_RISKS, NEWS2_RISK_DESCRIPTIONS),
});

const News2ParameterRef = builder.objectRef<{ metric: News2Metric; value: number; score: number; time: number | null }>('News2Parameter').implement({
  description: "One of the six vital signs a NEWS2 score is made of: the patient's latest value of it and the points it scores.",
  fields: (t) => ({
    metric: t.exposeString('metric', { description: 'The vital sign.' }),
    value: t.exposeFloat('value', { description: 'Its latest value.' }),
    score: t.exposeInt('score', { description: 'Its NEWS2 score, 0-3.' }),
    time: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it was measured (event time): a score is as current as its oldest parameter. Null for a score stored before this field existed.',
      resolve: (p) => p.time,
    }),
  }),
});

const News2Ref = builder.objectRef<News2View>('News2Score').implement({
  description:
    "A patient's National Early Warning Score 2 (Royal College of Physicians, 2017) from the latest respiratory rate, SpO2 (scale 1), systolic pressure, pulse, consciousness and temperature, measured within NEWS2_MAX_AGE (12h) of each other: while one is older no new score is made, and this one keeps its time. The patient is assumed on air (no oxygen metric yet).",
  fields: (t) => ({
    sourceId: t.exposeID('sourceId', { description: 'The patient.' }),
    time: t.field({ type: 'DateTime', description: 'Event time of the newest value in it.', resolve: (s) => s.time }),
    total: t.exposeInt('total', { description: 'The aggregate score: the sum of the parameters\' scores.' }),
    risk: t.field({ description: 'The clinical risk the score means.', type: News2RiskEnum, resolve: (s) => s.risk }),
    parameters: t.field({
      description: 'Each vital sign\'s value and score.',
      type: [News2ParameterRef],
      resolve: (s) => NEWS2_METRICS.map((metric) => ({ metric, value: s.values[metric], score: s.scores[metric], time: s.times?.[metric] ?? null })),
      extensions: { [LIST_SIZE]: NEWS2_METRICS.length },
    }),
  }),
});

const News2Connection = connectionOf('News2Score', News2Ref);

builder.queryField('news2Scores', (t) =>
  t.field({
    type: News2Connection,
    description:
      "Each patient's current NEWS2 score (patients with all six parameters measured in their current stay: none for a discharged patient, and none for a readmitted one until the six are measured again), ordered by patient id.",
    args: { sourceIds: t.arg.idList({ description: 'Only these patients; all when omitted.' }), ...pageArgs(t.arg, PAGE) },
    resolve: async (_root, args, ctx) => {
      const limit = pageSize(args.first, PAGE);
      checkFilterSize(args.sourceIds, 'sourceIds');
      const sourceIds = await ctx.scope.readingSources(args.sourceIds);
      const rows = await listNews2(ctx.services.database.db, { tenantId: ctx.scope.tenantId, sourceIds, after: idCursor(args.after, 'after'), limit: limit + 1 });
      const scores = rows.map(
        (r): News2View => ({
          ...r,
          time: r.time.getTime(),
          risk: r.risk as News2View['risk'],
          scores: r.scores as News2View['scores'],
          values: r.values as News2View['values'],
          times: (r.times ?? undefined) as News2View['times'],
        }),
      );
      return toPage(scores, limit, (s) => s.sourceId, args.after);
    },
  }),
);

builder.subscriptionField('news2', (t) =>
  t.field({
    type: [News2Ref],
    description: "Patients' NEWS2 scores as each new vital changes them.",
    args: { sourceIds: t.arg.idList({ description: 'Only these patients (default: all of the tenant\'s).' }) },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.sourceIds, 'sourceIds');
      const sources = filterSet(await ctx.scope.readingSources(args.sourceIds));
      return ctx.services.outputs.news2.subscribe((s) => (sources ? sources.has(s.sourceId) : ctx.scope.owns(s.sourceId)));
    },
    resolve: (batch: News2Score[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
