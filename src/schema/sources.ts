import { latestReadings } from '../db/readings.js';
import { listSources, retireSources } from '../db/sources.js';
import { SOURCE_KINDS } from '../db/schema.js';
import { ValidationError } from '../errors.js';
import { metricCatalog, metricNames } from '../ingest/metrics.js';
import { SOURCE_ID_PATTERN, SOURCE_ID_RULE } from '../ingest/reading-item.js';
import type { Reading } from '../db/readings.js';
import { builder } from './builder.js';
import { connectionOf, pageSize, toPage } from './pagination.js';
import { LIST_SIZE, listLength, pageArgs, type ListSize, type PageBounds } from './cost.js';
import { ReadingRef } from './readings.js';
import { checkMetrics } from './metrics.js';

const PAGE: PageBounds = { max: 500, fallback: 100 };
const MAX_SOURCES_PER_CALL = 10_000;

interface SourceView {
  id: string;
  kind: (typeof SOURCE_KINDS)[number];
  name: string;
  createdAt: Date;
  retiredAt: Date | null;
  /** Read once for the whole page, and only if some Source.latest is asked for. */
  latest: () => Promise<Reading[]>;
}

const SourceKindEnum = builder.enumType('SourceKind', { values: SOURCE_KINDS });

const SourceRef = builder.objectRef<SourceView>('Source').implement({
  description: 'A patient, device or instrument that emits readings.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its stable id.' }),
    kind: t.field({ description: 'What it is.', type: SourceKindEnum, resolve: (s) => s.kind }),
    name: t.exposeString('name', { description: 'Its display name.' }),
    createdAt: t.field({ description: 'When it was registered.', type: 'DateTime', resolve: (s) => s.createdAt }),
    retiredAt: t.field({ description: 'When it was retired (retireSources); null while in use.', type: 'DateTime', nullable: true, resolve: (s) => s.retiredAt }),
    latest: t.field({
      type: [ReadingRef],
      description: 'The newest reading of each metric this source has reported.',
      args: { metrics: t.arg.stringList({ description: 'Only these metrics.' }) },
      resolve: async (s, args) => {
        checkMetrics(args.metrics, 'metrics');
        const latest = await s.latest();
        return args.metrics?.length ? latest.filter((r) => args.metrics!.includes(r.metric)) : latest;
      },
      // One per metric: of the catalog, or of those named.
      extensions: { [LIST_SIZE]: ((argument) => listLength(argument('metrics')) ?? metricCatalog().length) satisfies ListSize },
    }),
  }),
});

const SourceInput = builder.inputType('SourceInput', {
  fields: (t) => ({
    id: t.id({ required: true, description: 'Stable id: 1-128 of letters, digits, ".", "_", ":", "-".' }),
    kind: t.field({ description: 'What it is.', type: SourceKindEnum, required: true }),
    name: t.string({ required: true, description: 'Display name, 1-200 characters.' }),
  }),
});

builder.mutationField('registerSources', (t) =>
  t.field({
    type: [SourceRef],
    description:
      'Creates sources, or updates the name of existing ones and their kind between PATIENT and DEVICE (a source never turns into or out of an INSTRUMENT). Readings are accepted only for registered patients and devices, trades only for instruments.',
    args: { sources: t.arg({ type: [SourceInput], required: true, description: 'Sources to create or update, matched by id.' }) },
    extensions: { [LIST_SIZE]: ((argument) => listLength(argument('sources')) ?? MAX_SOURCES_PER_CALL) satisfies ListSize },
    resolve: async (_root, args, ctx) => {
      if (args.sources.length > MAX_SOURCES_PER_CALL) throw new ValidationError(`at most ${MAX_SOURCES_PER_CALL} sources per call`);
      const seen = new Map<string, number>();
      args.sources.forEach((s, index) => {
        const first = seen.get(String(s.id));
        if (first !== undefined) {
          throw new ValidationError(`sources[${index}].id ${JSON.stringify(s.id)} repeats sources[${first}]; name each source once per call`, { index, field: 'id' });
        }
        seen.set(String(s.id), index);
        if (!SOURCE_ID_PATTERN.test(String(s.id))) {
          throw new ValidationError(`sources[${index}].id ${JSON.stringify(s.id)} is not a valid source id: it must be ${SOURCE_ID_RULE}`, { index, field: 'id' });
        }
        if (s.name.trim().length === 0 || s.name.length > 200 || s.name.includes('\u0000')) {
          throw new ValidationError(`sources[${index}].name must be 1-200 characters, not only spaces, without NUL`, { index, field: 'name' });
        }
      });
      const { stored, taken, kindFixed } = await ctx.services.registry.register(
        args.sources.map((s) => ({ id: String(s.id), kind: s.kind, name: s.name.trim() })),
        ctx.scope.tenantId,
      );
      if (taken.length > 0) {
        // Source ids are global; saying an id is taken is the one fact a tenant learns about another's ids.
        throw new ValidationError(`source id ${JSON.stringify(taken[0])} is not available; choose another (a tenant prefix avoids clashes)`, {
          argument: 'sources',
          sourceId: taken[0],
        }, 'SOURCE_ID_TAKEN');
      }
      if (kindFixed) {
        const index = args.sources.findIndex((s) => String(s.id) === kindFixed.id);
        throw new ValidationError(
          `sources[${index}].kind: ${JSON.stringify(kindFixed.id)} is registered as ${kindFixed.kind}; a source of readings cannot become an INSTRUMENT, nor an instrument a source of readings (their data would mix): register it under an id of its own`,
          { index, field: 'kind', sourceId: kindFixed.id },
        );
      }
      const none = () => Promise.resolve([]);
      return stored.map((s) => ({ ...s, latest: none }));
    },
  }),
);

builder.mutationField('retireSources', (t) =>
  t.field({
    type: [SourceRef],
    description:
      'Retires sources: a patient discharged, a device taken out of use. A retired source is left out of `sources` (unless includeRetired) and of signal-loss (NO_DATA) alerts, and its open signal-loss alerts are resolved; its stored data, windows and other alerts stay, and readings sent for it are still stored. registerSources brings it back. A source retired before keeps its retiredAt.',
    args: { ids: t.arg.idList({ required: true, description: 'The sources to retire: 1-1000 of your tenant\'s.' }) },
    extensions: { [LIST_SIZE]: ((argument) => listLength(argument('ids')) ?? 1_000) satisfies ListSize },
    resolve: async (_root, args, ctx) => {
      if (args.ids.length === 0) throw new ValidationError('ids is an empty list: name the sources to retire', { argument: 'ids' });
      const ids = (await ctx.scope.sources(args.ids, 'ids'))!;
      const retired = await retireSources(ctx.services.database.db, ids, ctx.scope.tenantId);
      await ctx.services.alerts.resolveSignalLoss(ctx.scope.tenantId, ids);
      const none = () => Promise.resolve([]);
      const byId = new Map(retired.map((s) => [s.id, s]));
      // In the order asked for, each once.
      return [...new Set(ids)].flatMap((id) => (byId.has(id) ? [{ ...byId.get(id)!, latest: none }] : []));
    },
  }),
);

const SourceConnection = connectionOf('Source', SourceRef);

builder.queryField('sources', (t) =>
  t.field({
    type: SourceConnection,
    description: 'Registered sources ordered by id, each with its latest reading per metric.',
    args: {
      kind: t.arg({ type: SourceKindEnum, description: 'Only sources of this kind.' }),
      ids: t.arg.idList({ description: 'Only these sources.' }),
      includeRetired: t.arg.boolean({ defaultValue: false, description: 'Retired sources too (left out by default, even when named in ids).' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      const limit = pageSize(args.first, PAGE);
      const { db } = ctx.services.database;
      const ids = args.ids?.length ? await ctx.scope.sources(args.ids, 'ids') : null;
      const found = await listSources(db, { tenantId: ctx.scope.tenantId, kind: args.kind, ids, after: args.after, limit: limit + 1, includeRetired: args.includeRetired ?? false });
      const page = found.slice(0, limit);
      let bySource: Promise<Map<string, Reading[]>> | undefined;
      const readAll = async () => {
        const grouped = new Map<string, Reading[]>();
        for (const reading of await latestReadings(db, page.map((s) => s.id), metricNames())) {
          const list = grouped.get(reading.sourceId);
          if (list) list.push(reading);
          else grouped.set(reading.sourceId, [reading]);
        }
        return grouped;
      };
      const latestOf = (id: string) => async () => (await (bySource ??= readAll())).get(id) ?? [];
      return toPage(found.map((s) => ({ ...s, latest: latestOf(s.id) })), limit, (s) => s.id);
    },
  }),
);
