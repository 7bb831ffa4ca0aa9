import { latestReadings } from '../db/readings.js';
import { committedOffset } from '../db/offsets.js';
import { READINGS_STREAM } from '../ingest/ingest-readings.js';
import { listSources, retireSources } from '../db/sources.js';
import { SOURCE_KINDS, type SourceKind } from '../db/schema.js';
import { ValidationError } from '../errors.js';
import { metricNames } from '../ingest/metrics.js';
import { SOURCE_ID_PATTERN, SOURCE_ID_RULE } from '../ingest/reading-item.js';
import { SYMBOL_PATTERN, SYMBOL_RULE } from '../ingest/trade-item.js';
import type { Reading } from '../db/readings.js';
import type { Db } from '../db/client.js';
import { builder, describedValues } from './builder.js';
import { idCursor, pageSize, positionedConnectionOf, positionIfAsked, toPage } from './pagination.js';
import { LIST_SIZE, listLength, pageArgs, type ListSize, type PageBounds } from './cost.js';
import { ReadingRef } from './readings.js';
import { checkMetrics } from './metrics.js';
import { displayTextProblem } from '../display-text.js';

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

/** `sources` with their latest readings, read in one query for all of them when the first Source.latest asks. */
function withLatest<S extends { id: string }>(db: Db, sources: readonly S[]): (S & { latest: () => Promise<Reading[]> })[] {
  let bySource: Promise<Map<string, Reading[]>> | undefined;
  const readAll = async () => {
    const grouped = new Map<string, Reading[]>();
    for (const reading of await latestReadings(db, sources.map((s) => s.id), metricNames())) {
      const list = grouped.get(reading.sourceId);
      if (list) list.push(reading);
      else grouped.set(reading.sourceId, [reading]);
    }
    return grouped;
  };
  return sources.map((s) => ({ ...s, latest: async () => (await (bySource ??= readAll())).get(s.id) ?? [] }));
}

const SOURCE_KIND_DESCRIPTIONS: Record<SourceKind, string> = {
  PATIENT: "A person whose vitals are measured; sends readings. The dashboard's ward wall shows a tile for each patient in use.",
  DEVICE: 'Equipment that sends readings (a monitor, a pump). A device may be registered again as a PATIENT, and back.',
  INSTRUMENT:
    'A traded symbol; takes trades (ingestTrades), never readings. A symbol becomes the instrument of the tenant that registers it as one or is the first to trade it, and never changes kind.',
};
const SourceKindEnum = builder.enumType('SourceKind', {
  description: 'What a source is: PATIENT and DEVICE send readings, INSTRUMENT trades.',
  values: describedValues(SOURCE_KINDS, SOURCE_KIND_DESCRIPTIONS),
});

const SourceRef = builder.objectRef<SourceView>('Source').implement({
  description: 'A patient or device that sends readings, or an instrument that is traded.',
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
      // One per metric: of the catalog (retired ones too), or of those named.
      extensions: { [LIST_SIZE]: ((argument) => listLength(argument('metrics')) ?? metricNames().length) satisfies ListSize },
    }),
  }),
});

const SourceInput = builder.inputType('SourceInput', {
  description: 'A source to register (registerSources): created when its id is new; otherwise renamed, and its kind changed between PATIENT and DEVICE.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'Stable id: 1-128 of letters, digits, ".", "_", ":", "-"; an INSTRUMENT\'s is the symbol its trades name (1-32 of those and "/", e.g. EUR/USD).' }),
    kind: t.field({ description: 'What it is.', type: SourceKindEnum, required: true }),
    name: t.string({ required: true, description: 'Display name, 1-200 characters, without control characters or bidirectional overrides.' }),
  }),
});

/**
 * An instrument's id is the symbol its trades name (EUR/USD: a "/" no other source id has), so a desk can claim and
 * name the pairs it trades before their first trade; one no trade can name (longer than 32 characters) would be an
 * instrument nothing ever trades.
 */
function idProblem(id: string, kind: string): string | null {
  if (kind === 'INSTRUMENT') return SYMBOL_PATTERN.test(id) ? null : `is not a valid instrument symbol: it must be ${SYMBOL_RULE}, as trades name it`;
  return SOURCE_ID_PATTERN.test(id) ? null : `is not a valid source id: it must be ${SOURCE_ID_RULE}`;
}

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
        const problem = idProblem(String(s.id), s.kind);
        if (problem) throw new ValidationError(`sources[${index}].id ${JSON.stringify(s.id)} ${problem}`, { index, field: 'id' });
        const nameProblem = displayTextProblem(`sources[${index}].name`, s.name, 200);
        if (nameProblem) throw new ValidationError(nameProblem, { index, field: 'name' });
      });
      const { stored, taken, kindFixed } = await ctx.services.registry.register(
        args.sources.map((s) => ({ id: String(s.id), kind: s.kind, name: s.name.trim() })),
        ctx.scope.tenantId,
      );
      if (taken.length > 0) {
        // Source ids are global; saying an id is taken is the one fact a tenant learns about another's ids.
        throw new ValidationError(`source id ${JSON.stringify(taken[0])} is not available; choose another (a tenant prefix avoids clashes)`, {
          argument: 'sources',
          index: args.sources.findIndex((s) => String(s.id) === taken[0]),
          field: 'id',
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
      // A patient readmitted now or before (admittedAt): the alerts processor reads stays with the rules; every
      // node learns of a readmission at once, so its first readings start the new stay.
      if (stored.some((s) => s.admittedAt !== null)) await ctx.services.rules.changed();
      // In the order asked for (the registry stores them in id order, locking rows in that order).
      const byId = new Map(stored.map((s) => [s.id, s]));
      return withLatest(ctx.services.database.db, args.sources.flatMap((s) => byId.get(String(s.id)) ?? []));
    },
  }),
);

builder.mutationField('retireSources', (t) =>
  t.field({
    type: [SourceRef],
    description:
      'Retires sources: a patient discharged, a device taken out of use. A retired source is left out of `sources` (unless includeRetired) and of signal-loss (NO_DATA) alerts, and its open alerts are resolved; readings sent for it are still stored, but raise no alert; its stored data and windows stay. registerSources brings it back as a new stay: alert rules start afresh from its first reading after. A source retired before keeps its retiredAt.',
    args: { ids: t.arg.idList({ required: true, description: 'The sources to retire: 1-1000 of your tenant\'s.' }) },
    extensions: { [LIST_SIZE]: ((argument) => listLength(argument('ids')) ?? 1_000) satisfies ListSize },
    resolve: async (_root, args, ctx) => {
      if (args.ids.length === 0) throw new ValidationError('ids is an empty list: name the sources to retire', { argument: 'ids' });
      const ids = (await ctx.scope.sources(args.ids, 'ids'))!;
      const retired = await retireSources(ctx.services.database.db, ids, ctx.scope.tenantId);
      await ctx.services.alerts.resolveRetired(ctx.scope.tenantId, ids);
      // Every node's alerts processor learns of the discharge now, not at its next periodic reload.
      await ctx.services.rules.changed();
      const byId = new Map(retired.map((s) => [s.id, s]));
      // In the order asked for, each once.
      return withLatest(ctx.services.database.db, [...new Set(ids)].flatMap((id) => byId.get(id) ?? []));
    },
  }),
);

const SourceConnection = positionedConnectionOf<SourceView>('Source', SourceRef, {
  field: 'lastReadingCursor',
  description:
    "The readings stream's committed cursor when this page was read (\"0\": none yet): a position in the platform's one stream of readings, not this tenant's own. Every reading at or below it was committed before the read, so the page's `latest` values take it in. Subscribe to readings with it as `after` and every reading since arrives as an event (a few the page already shows may come again): read it from the first page, then subscribe, and nothing falls between the read and the subscription.",
});

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
    resolve: async (_root, args, ctx, info) => {
      const limit = pageSize(args.first, PAGE);
      const { db } = ctx.services.database;
      // Without ids: the whole tenant, which the audit log records as "*" (a wall reading every patient's latest vitals).
      const ids = await ctx.scope.sources(args.ids, 'ids');
      // Read before the latest readings: a reading committed after it is then in `latest` or after lastReadingCursor.
      const position = await positionIfAsked(info, 'lastReadingCursor', () => committedOffset(db, READINGS_STREAM));
      const found = await listSources(db, { tenantId: ctx.scope.tenantId, kind: args.kind, ids, after: idCursor(args.after, 'after'), limit: limit + 1, includeRetired: args.includeRetired ?? false });
      // The one past the page (there only to tell hasNextPage) is read with it: one id more in the same query.
      return { ...toPage(withLatest(db, found), limit, (s) => s.id, args.after), position };
    },
  }),
);
