import { limitHolder } from '../auth/principal.js';
import { randomUUID } from 'node:crypto';
import { anyTransitionStoredAfter, deleteRule, getAlert, insertRule, knownRuleIds, lastTransitionSeq, listAlerts, openSignalLossAlerts, transitionStoredAfter, listRules, listTransitionsOf, updateRule, type AlertRow, type TransitionRow } from '../db/alerts.js';
import { ALERT_RULE_KINDS, ALERT_STATES, type AlertRuleKind, type AlertState } from '../db/schema.js';
import { formatDuration } from '../duration.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { clearAfterOf, ruleParams, type RuleInput, type StoredRule } from '../alerts/rule-params.js';
import { toAlertView, type AlertEvent, type AlertView } from '../alerts/alert-service.js';
import { signalLossUnwatched } from '../alerts/signal-monitor.js';
import { SEVERITIES, type Severity } from '../processors/alert-rules.js';
import { builder, describedValues } from './builder.js';
import { PLAIN_LIST } from './plain-list.js';
import type { GraphQLContext } from './context.js';
import { checkFilterSize, emitBatch, filterSet, resumePoint } from './live.js';
import { checkTimeRange, pageSize, parseCursor, positionedConnectionOf, positionIfAsked, toPage } from './pagination.js';
import { LIST_SIZE, pageArgs, type PageBounds } from './cost.js';
import { requestBatch } from './request-batch.js';
import { displayTextProblem } from '../display-text.js';

const PAGE: PageBounds = { max: 500, fallback: 50 };
/** Rules a tenant may hold: every reading is checked against its enabled ones, and `alertRules` lists them all. */
const MAX_ALERT_RULES = 1_000;

const SEVERITY_DESCRIPTIONS: Record<Severity, string> = {
  LOW: 'The lowest level. Only a rule set to LOW gives it: NEWS2 and escalation never do.',
  MEDIUM: 'Above LOW. A NEWS2 alert at LOW_MEDIUM risk (a single parameter scoring 3); an unacknowledged LOW alert escalates to it.',
  HIGH: 'Above MEDIUM; the default of a rule. A NEWS2 alert at MEDIUM risk (total 5-6, urgent); an unacknowledged MEDIUM alert escalates to it.',
  CRITICAL: 'The highest level. A NEWS2 alert at HIGH risk (total 7 or more, emergency); an unacknowledged HIGH alert escalates to it, and escalation stops here.',
};
const SeverityEnum = builder.enumType('Severity', {
  description:
    "How urgent an alert is, in order LOW < MEDIUM < HIGH < CRITICAL. A rule sets it (default HIGH; NEWS2 by the patient's risk). A FIRING alert nobody acknowledges within ESCALATE_AFTER is raised one level, and one more after each further ESCALATE_AFTER, up to CRITICAL (not while its source is retired or its rule disabled); a new evaluation never lowers it below the level escalation reached, and above that level it follows the evaluation.",
  values: describedValues(SEVERITIES, SEVERITY_DESCRIPTIONS),
});

const ALERT_STATE_DESCRIPTIONS: Record<AlertState, string> = {
  PENDING:
    "Breaching, but not yet for as long as the rule's `for` asks: becomes FIRING once the breach has held that long, or RESOLVED if it lapses first. A rule without `for`, NEWS2 and NO_DATA fire at once, without this state.",
  FIRING: 'Raised: the breach held for the rule\'s `for`, or at once without one. Escalates unless acknowledged (see Severity).',
  RESOLVED:
    "Over, for good (a new breach opens a new alert): the condition cleared (THRESHOLD back past `clear`, RATE_OF_CHANGE no longer breached, NEWS2 risk back to LOW: each for the rule's `clearAfter` when it has one; NO_DATA a GOOD reading back), its rule was deleted, its rule was disabled or changed so that it no longer covers the alert (at the series' next reading; a NO_DATA alert of a changed rule at once, of a disabled one when data comes back), or a NO_DATA alert's source was retired.",
};
const AlertStateEnum = builder.enumType('AlertState', {
  description: "Where an alert is in its lifecycle: PENDING, then FIRING, then RESOLVED (a breach that ends while PENDING goes straight to RESOLVED).",
  values: describedValues(ALERT_STATES, ALERT_STATE_DESCRIPTIONS),
});

const RULE_KIND_DESCRIPTIONS: Record<AlertRuleKind, string> = {
  THRESHOLD:
    'An aggregate of one metric (LAST, or AVG/MIN/MAX over a trailing `window`) above `above` or below `below` for `for`; a firing alert resolves only back past `clear` (hysteresis).',
  RATE_OF_CHANGE: 'A rise larger than `rise`, or a drop larger than `drop`, of one metric within `window`, held for `for`.',
  NEWS2:
    "The patient's National Early Warning Score 2 from the latest six vitals: fires MEDIUM at a single parameter scoring 3, HIGH at a total of 5 and CRITICAL at 7; a change of level while firing is an UPDATED transition. Sets its own severity. Resolves once the risk has stayed LOW for `clearAfter` (default 5m).",
  NO_DATA:
    "Signal lost: a source (or one `metric` of it) that has sent no GOOD reading for longer than `expectedInterval` (BAD and SUSPECT ones are no signal); resolves when a GOOD one comes back. Checked by the clock, every ALERT_CHECK_INTERVAL; a retired source raises none.",
};
const RuleKindEnum = builder.enumType('AlertRuleKind', {
  description: "What an alert rule evaluates; decides which of the rule's other fields apply.",
  values: describedValues(ALERT_RULE_KINDS, RULE_KIND_DESCRIPTIONS),
});

const RULE_AGGREGATES = ['LAST', 'AVG', 'MIN', 'MAX'] as const;
const RULE_AGGREGATE_DESCRIPTIONS: Record<(typeof RULE_AGGREGATES)[number], string> = {
  LAST: 'The newest reading\'s value; takes no `window`.',
  AVG: 'The mean of the readings in the trailing `window`.',
  MIN: 'The lowest reading in the trailing `window`.',
  MAX: 'The highest reading in the trailing `window`.',
};
const AggregateKindEnum = builder.enumType('RuleAggregate', {
  description: "How a THRESHOLD rule combines one series' GOOD readings into the value it compares with `above` and `below`.",
  values: describedValues(RULE_AGGREGATES, RULE_AGGREGATE_DESCRIPTIONS),
});

type RuleRow = StoredRule & { createdAt: Date; updatedAt: Date };
const duration = (ms: number) => (ms > 0 ? formatDuration(ms) : null);

const AlertRuleRef = builder.objectRef<RuleRow>('AlertRule').implement({
  description: 'A rule evaluated on every reading (NO_DATA: every second) while enabled; changes apply to the running processors at once.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    name: t.exposeString('name', { description: 'Its name, for people; an alert names its rule by ruleId.' }),
    kind: t.field({ description: 'What it evaluates.', type: RuleKindEnum, resolve: (r) => r.kind }),
    sourceIds: t.stringList({ nullable: true, description: 'The sources it watches; null: all.', resolve: (r) => r.sourceIds }),
    metric: t.string({ description: 'The metric it watches (null: NO_DATA on any metric, or NEWS2).', nullable: true, resolve: (r) => r.params.metric }),
    aggregate: t.field({ description: 'THRESHOLD: how the window\'s values are combined.', type: AggregateKindEnum, resolve: (r) => r.params.aggregate }),
    window: t.string({ description: 'The trailing window, e.g. "5m".', nullable: true, resolve: (r) => duration(r.params.windowMs) }),
    above: t.float({ description: 'THRESHOLD: breach above this.', nullable: true, resolve: (r) => r.params.above }),
    below: t.float({ description: 'THRESHOLD: breach below this.', nullable: true, resolve: (r) => r.params.below }),
    for: t.string({ description: 'How long a breach must hold before the alert fires.', nullable: true, resolve: (r) => duration(r.params.forMs) }),
    clear: t.float({ description: 'THRESHOLD: a firing alert resolves only past this value.', nullable: true, resolve: (r) => r.params.clear }),
    clearAfter: t.string({
      description:
        'THRESHOLD, RATE_OF_CHANGE, NEWS2: how long a firing alert\'s condition must stay cleared, at every reading, before it resolves; "0s" or null: at the first cleared reading (null only where that is the default, so a rule read and written back keeps it). NEWS2 rules default to "5m".',
      nullable: true,
      resolve: (r) => {
        if (r.kind === 'NO_DATA') return null;
        const ms = clearAfterOf(r.kind, r.params);
        // NEWS2's 0 is not its default: null written back would make it 5m.
        return ms === 0 && clearAfterOf(r.kind, {}) !== 0 ? '0s' : duration(ms);
      },
    }),
    rise: t.float({ description: 'RATE_OF_CHANGE: breach on a rise larger than this within the window.', nullable: true, resolve: (r) => r.params.rise }),
    drop: t.float({ description: 'RATE_OF_CHANGE: breach on a drop larger than this within the window.', nullable: true, resolve: (r) => r.params.drop }),
    expectedInterval: t.string({ description: 'NO_DATA: silence longer than this fires.', nullable: true, resolve: (r) => duration(r.params.expectedIntervalMs) }),
    severity: t.field({ type: SeverityEnum, description: 'Severity of its alerts (NEWS2 sets its own by score).', resolve: (r) => r.params.severity }),
    enabled: t.exposeBoolean('enabled', { description: 'False: not evaluated.' }),
    createdAt: t.field({ description: 'When it was created.', type: 'DateTime', resolve: (r) => r.createdAt }),
    updatedAt: t.field({ description: 'When it last changed.', type: 'DateTime', resolve: (r) => r.updatedAt }),
  }),
});

const AlertRuleInput = builder.inputType('AlertRuleInput', {
  description: 'A rule; which fields apply depends on kind. Durations: a whole number and ms, s, m, h or d.',
  fields: (t) => ({
    name: t.string({ description: 'A name for the rule, for people (listed by alertRules); its alerts carry its id as ruleId.', required: true }),
    kind: t.field({ description: 'What the rule evaluates; decides which other fields apply.', type: RuleKindEnum, required: true }),
    sourceIds: t.idList({ description: 'Only these sources (at least one; a repeated id counts once); all when omitted (NO_DATA: every source that has sent data, or the rule\'s metric).' }),
    metric: t.string({ description: 'THRESHOLD, RATE_OF_CHANGE: required. NO_DATA: optional (omitted: any metric).' }),
    aggregate: t.field({ type: AggregateKindEnum, description: 'THRESHOLD: LAST (default) or AVG/MIN/MAX over `window`.' }),
    window: t.string({ description: 'Trailing window, e.g. "5m": THRESHOLD with AVG/MIN/MAX (LAST takes none), RATE_OF_CHANGE.' }),
    above: t.float({ description: 'THRESHOLD: breach when the value is above this.' }),
    below: t.float({ description: 'THRESHOLD: breach when the value is below this.' }),
    for: t.string({ description: 'How long the breach must hold before the alert fires, e.g. "2m"; omitted: at once (AlertRule.for is then null).' }),
    clear: t.float({ description: 'THRESHOLD hysteresis: a firing alert resolves only past this value (default: the threshold).' }),
    clearAfter: t.string({
      description:
        'THRESHOLD, RATE_OF_CHANGE, NEWS2: a firing alert resolves only once its condition has stayed cleared this long (0s to 24h), judged at each reading of the patient, so a value wavering at the edge keeps one alert (and its acknowledgement) instead of raising a new one each time. A breach of a threshold\'s other bound ends the wait at once. Default: NEWS2 "5m", others at once.',
    }),
    rise: t.float({ description: 'RATE_OF_CHANGE: breach on a rise larger than this within the window.' }),
    drop: t.float({ description: 'RATE_OF_CHANGE: breach on a drop larger than this within the window.' }),
    expectedInterval: t.string({ description: 'NO_DATA: fire when nothing arrived for longer than this, e.g. "30s" (1s to 30d).' }),
    severity: t.field({ type: SeverityEnum, description: 'Default HIGH.' }),
  }),
});

const toStored = async (ctx: GraphQLContext, id: string, input: RuleInput & { sourceIds?: readonly (string | number)[] | null }, enabled: boolean): Promise<StoredRule> => {
  checkFilterSize(input.sourceIds, 'sourceIds');
  // An empty list would read as "every source": a rule meant to watch nothing would watch everyone.
  if (input.sourceIds?.length === 0) throw new ValidationError('sourceIds must name at least one source; leave it out to watch every source', { argument: 'input.sourceIds' });
  await ctx.scope.sources(input.sourceIds, 'input.sourceIds');
  // An instrument sends trades, never a reading: a rule naming one would watch nothing (its prices are candles).
  const [instrument] = input.sourceIds?.length ? await ctx.services.registry.instrumentsAmong(input.sourceIds.map(String)) : [];
  if (instrument !== undefined) {
    throw new ValidationError(`input.sourceIds: ${JSON.stringify(instrument)} is an instrument: rules watch the readings of patients and devices`, { argument: 'input.sourceIds', sourceId: instrument });
  }
  return {
    id,
    tenantId: ctx.scope.tenantId,
    name: input.name.trim(),
    kind: input.kind,
    // Each once: a rule over [a, a] is a rule over [a].
    sourceIds: input.sourceIds?.length ? [...new Set(input.sourceIds.map(String))] : null,
    params: withinInput(() => ruleParams({ ...input, sourceIds: input.sourceIds?.map(String) })),
    enabled,
  };
};

/** An alert's transitions, read with those of every other alert the operation asks for in the same pass. */
const transitionsOfAlert = requestBatch((ctx, alertIds: string[]) => listTransitionsOf(ctx.services.database.db, alertIds));
const transitionsOf = async (ctx: GraphQLContext, alertId: string): Promise<TransitionRow[]> => (await transitionsOfAlert(ctx, alertId)) ?? [];

/** Runs `check` of the rule's settings, naming a wrong one by its place in the `input` argument (input.above), as input.sourceIds is. */
function withinInput<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ValidationError) || typeof error.details.argument !== 'string') throw error;
    throw new ValidationError(error.message, { ...error.details, argument: `input.${error.details.argument}` }, error.code);
  }
}

/** An alert of the caller's tenant; another tenant's is as absent as a missing one (NOT_FOUND, nothing inferred). */
async function ownAlert(ctx: GraphQLContext, id: string): Promise<AlertRow | undefined> {
  const row = await getAlert(ctx.services.database.db, id);
  if (!row) return undefined;
  const owned = await ctx.services.registry.owned([row.sourceId], ctx.scope.tenantId);
  if (!owned.has(row.sourceId)) return undefined;
  ctx.scope.touched.add(row.sourceId);
  return row;
}

/** After a rule changed: every node reloads its rules; a missing (or another tenant's) rule is NOT_FOUND. */
async function changedRule(ctx: GraphQLContext, id: string, row: unknown): Promise<RuleRow> {
  if (!row) throw new ValidationError(`no alert rule with id ${JSON.stringify(id)}`, { argument: 'id' }, 'NOT_FOUND');
  await ctx.services.rules.changed();
  return row as RuleRow;
}

/**
 * Resolves the open signal-loss alerts of `rule`, just edited, whose series it no longer watches (another kind or
 * metric, the source left out): only data coming back would resolve them, and they would go on escalating beside the
 * new series' alerts. The processors' kinds resolve theirs at the series' next reading.
 */
async function resolveUnwatchedSignalLoss(ctx: GraphQLContext, rule: RuleRow): Promise<void> {
  for (const alert of await openSignalLossAlerts(ctx.services.database.db, rule.id)) {
    const why = signalLossUnwatched(rule, alert);
    if (why !== null) await ctx.services.alerts.resolve(alert, why, null);
  }
}

builder.queryField('alertRules', (t) =>
  t.field({
    type: [AlertRuleRef],
    description: `Every rule, enabled or not, oldest first (a tenant has at most ${MAX_ALERT_RULES}).`,
    resolve: (_root, _args, ctx) => listRules(ctx.services.database.db, { tenantId: ctx.scope.tenantId }),
    extensions: { [LIST_SIZE]: MAX_ALERT_RULES },
  }),
);

builder.mutationField('createAlertRule', (t) =>
  t.field({
    type: AlertRuleRef,
    description: 'Creates a rule; it applies to readings from now on.',
    args: { input: t.arg({ type: AlertRuleInput, required: true, description: 'The rule: its kind, what it watches and when it fires (see AlertRuleInput).' }) },
    resolve: async (_root, args, ctx) => {
      const id = `rule-${randomUUID().slice(0, 8)}`;
      const row = await insertRule(ctx.services.database.db, await toStored(ctx, id, args.input as RuleInput, true), MAX_ALERT_RULES);
      if (!row) throw new ValidationError(`a tenant may have at most ${MAX_ALERT_RULES} alert rules: delete or update one instead`, { max: MAX_ALERT_RULES }, 'TOO_MANY_RULES');
      return changedRule(ctx, id, row);
    },
  }),
);

builder.mutationField('updateAlertRule', (t) =>
  t.field({
    type: AlertRuleRef,
    description:
      "Replaces a rule's definition. Open alerts keep their state when kind and metric are unchanged and the rule still covers their source; otherwise they resolve (at the series' next reading; a NO_DATA rule's at once).",
    args: { id: t.arg.id({ required: true, description: 'The rule to change.' }), input: t.arg({ type: AlertRuleInput, required: true, description: 'The rule as it should be from now on; replaces every setting.' }) },
    resolve: async (_root, args, ctx) => {
      const { id: _id, tenantId, ...changes } = await toStored(ctx, String(args.id), args.input as RuleInput, true);
      const { enabled: _enabled, ...definition } = changes;
      const row = await changedRule(ctx, String(args.id), await updateRule(ctx.services.database.db, String(args.id), tenantId, definition));
      await resolveUnwatchedSignalLoss(ctx, row);
      return row;
    },
  }),
);

builder.mutationField('setAlertRuleEnabled', (t) =>
  t.field({
    type: AlertRuleRef,
    description: 'Disables (open alerts resolve at the next reading, unescalated meanwhile) or re-enables a rule.',
    args: { id: t.arg.id({ required: true, description: 'The rule to switch.' }), enabled: t.arg.boolean({ required: true, description: 'False stops its evaluation; its open alerts resolve at the next reading of their series (NO_DATA: when data comes back) and are not escalated meanwhile. True starts it again from then.' }) },
    resolve: async (_root, args, ctx) => {
      return changedRule(ctx, String(args.id), await updateRule(ctx.services.database.db, String(args.id), ctx.scope.tenantId, { enabled: args.enabled }));
    },
  }),
);

builder.mutationField('deleteAlertRule', (t) =>
  t.field({
    type: AlertRuleRef,
    description: 'Deletes a rule and returns it. Its open alerts are resolved (nothing would ever clear or stop escalating them); all its alerts stay in history.',
    args: { id: t.arg.id({ required: true, description: 'The rule to delete.' }) },
    resolve: async (_root, args, ctx) => {
      const { database, alerts } = ctx.services;
      const deleted = await deleteRule(database.db, String(args.id), ctx.scope.tenantId);
      const row = await changedRule(ctx, String(args.id), deleted);
      const message = `resolved: its rule "${row.name}" was deleted`;
      for (let before: bigint | null = null; ; ) {
        const open = await listAlerts(database.db, { tenantId: ctx.scope.tenantId, states: ['PENDING', 'FIRING'], ruleIds: [row.id], before, limit: 500 });
        for (const alert of open) await alerts.resolve(alert, message, null);
        if (open.length < 500) break;
        before = open.at(-1)!.seq;
      }
      return row;
    },
  }),
);

const AcknowledgementRef = builder.objectRef<{ by: string; at: number; note: string | null }>('Acknowledgement').implement({
  description: 'Who acknowledged an alert (acknowledgeAlert), when, and their note. An acknowledged alert is no longer escalated, until a new evaluation raises its severity above the one acknowledged, or a PENDING one fires: that clears the acknowledgement.',
  fields: (t) => ({
    by: t.exposeString('by', { description: 'Who acknowledged it (name or staff id).' }),
    at: t.field({ description: 'When.', type: 'DateTime', resolve: (a) => new Date(a.at) }),
    note: t.exposeString('note', { description: 'What they wrote with it.', nullable: true }),
  }),
});

const AlertTransitionRef = builder.objectRef<{ kind: string; severity: string; at: Date; eventTime: Date | null; value: number | null; message: string; actor: string | null }>(
  'AlertTransition',
).implement({
  description: "One step of an alert's history, as stored: it went pending, fired, changed severity, was acknowledged or escalated, or resolved.",
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'PENDING, FIRING, UPDATED, RESOLVED, ACKNOWLEDGED or ESCALATED.' }),
    severity: t.field({ description: 'Severity at this transition.', type: SeverityEnum, resolve: (x) => x.severity as never }),
    at: t.field({ type: 'DateTime', description: 'When the platform recorded it.', resolve: (x) => x.at }),
    eventTime: t.field({ type: 'DateTime', nullable: true, description: 'Event time of the reading that caused it.', resolve: (x) => x.eventTime }),
    value: t.exposeFloat('value', { description: 'The evaluated value at this transition.', nullable: true }),
    message: t.exposeString('message', { description: 'What happened, in words.' }),
    actor: t.exposeString('actor', { description: 'Who caused it (ACKNOWLEDGED: the acknowledging person); null for the platform\'s own.', nullable: true }),
  }),
});

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

const AlertRef = builder.objectRef<AlertView>('Alert').implement({
  description: 'One episode of one rule on one series (source + metric; the patient for NEWS2). At most one is open per rule and series.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    ruleId: t.exposeID('ruleId', { description: 'The rule that raised it.' }),
    sourceId: t.exposeID('sourceId', { description: 'The source (patient, device) it is about.' }),
    metric: t.exposeString('metric', { description: 'The metric it is about; null when its rule covers no single metric (NEWS2, NO_DATA on any metric).', nullable: true }),
    state: t.field({ description: 'Where it is in its lifecycle.', type: AlertStateEnum, resolve: (a) => a.state }),
    severity: t.field({ description: 'Its current severity.', type: SeverityEnum, resolve: (a) => a.severity as never }),
    value: t.exposeFloat('value', { nullable: true, description: 'The evaluated value at its latest transition: the aggregate, the change, the NEWS2 total (news2Scores has the current score), or seconds of silence (NO_DATA: until it fired, then, once resolved, all of it).' }),
    message: t.exposeString('message', { description: 'What is wrong, in words.' }),
    startedAt: t.field({ type: 'DateTime', description: 'Event time the breach began (NO_DATA: when its silence began to count: the arrival of the last GOOD reading before it, or else the server\'s start or the rule\'s last change). The alerts query\'s from and to filter on it.', resolve: (a) => new Date(a.startedAt) }),
    firedAt: t.field({ description: 'When it fired, by the platform\'s clock (as a transition\'s `at`), not in event time as startedAt: for readings uploaded late it can be long after startedAt (the FIRING transition\'s eventTime is when it fired in event time). Null while PENDING.', type: 'DateTime', nullable: true, resolve: (a) => date(a.firedAt) }),
    resolvedAt: t.field({ description: 'When it resolved, by the platform\'s clock (as a transition\'s `at`), not in event time (the RESOLVED transition\'s eventTime is that of the reading that resolved it, where one did). Null while open.', type: 'DateTime', nullable: true, resolve: (a) => date(a.resolvedAt) }),
    escalatedAt: t.field({ description: 'When it was last escalated for lack of acknowledgement, by the platform\'s clock; null if not.', type: 'DateTime', nullable: true, resolve: (a) => date(a.escalatedAt) }),
    acknowledgement: t.field({
      description: 'Who acknowledged it, when, and their note; null if nobody has, or if the acknowledgement no longer covers it (see Acknowledgement).',
      type: AcknowledgementRef,
      nullable: true,
      resolve: (a) => (a.acknowledgedBy && a.acknowledgedAt !== null ? { by: a.acknowledgedBy, at: a.acknowledgedAt, note: a.acknowledgeNote } : null),
    }),
    transitions: t.field({ type: [AlertTransitionRef], description: 'Its history, oldest first.', resolve: (a, _args, ctx) => transitionsOf(ctx, a.id) }),
  }),
});

const AlertEventRef = builder.objectRef<AlertEvent>('AlertEvent').implement({
  description: 'A transition of an alert and the alert as it stands after it.',
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'PENDING, FIRING, UPDATED, RESOLVED, ACKNOWLEDGED or ESCALATED.' }),
    seq: t.exposeString('seq', { description: 'Order in which transitions were stored (and committed): pass the last one received as `after` to resume the alerts subscription.' }),
    at: t.field({ description: 'When the transition was stored.', type: 'DateTime', resolve: (e) => new Date(e.at) }),
    actor: t.exposeString('actor', { description: 'Who caused it (ACKNOWLEDGED: the acknowledging person); null for the platform\'s own.', nullable: true }),
    message: t.exposeString('message', {
      description: "What happened, in words, as the alert's history has it (AlertTransition.message): a FIRING or UPDATED transition that cleared an acknowledgement says whose, and why.",
    }),
    alert: t.field({ description: 'The alert after this transition.', type: AlertRef, resolve: (e) => e.alert }),
  }),
});

const AlertConnection = positionedConnectionOf<AlertView>('Alert', AlertRef, {
  field: 'lastEventSeq',
  description:
    "The seq of the last alert transition stored before this page was read (\"0\": none yet): a position in the platform's one sequence of transitions, not this tenant's own. Subscribe to alerts with it as `after` and every transition this page may not show arrives as an event: read it from the first page of open alerts, then subscribe, and nothing falls between the read and the subscription.",
});

/**
 * The `ruleIds` filter, each id a rule of the tenant or one (since deleted) that raised alerts it can read; the
 * others are refused by name. A mistyped id matched nothing: a ward screen subscribed to it stayed silent for good.
 */
async function ruleIdsFilter(ctx: GraphQLContext, ids: readonly (string | number)[] | null | undefined): Promise<string[] | undefined> {
  if (!ids?.length) return undefined;
  checkFilterSize(ids, 'ruleIds');
  const wanted = ids.map(String);
  const known = await knownRuleIds(ctx.services.database.db, ctx.scope.tenantId, wanted);
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((id) => JSON.stringify(id)).join(', ');
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : '';
    throw new ValidationError(`ruleIds: no alert rule of your tenant with id ${named}${more}; alertRules lists them`, { argument: 'ruleIds', ruleIds: unknown.slice(0, 20) }, 'NOT_FOUND');
  }
  return wanted;
}

builder.queryField('alerts', (t) =>
  t.field({
    type: AlertConnection,
    description:
      "Alerts, newest first: open ones and history. Filters combine with AND. A `read` key lists open alerts only (states PENDING and/or FIRING): the current state an app needs on opening, or after a READ_KEY_REPLAY refusal; alerts' history needs an analyst key.",
    args: {
      states: t.arg({ type: [AlertStateEnum], description: 'Only alerts in these states (default: all).' }),
      severities: t.arg({ type: [SeverityEnum], description: 'Only alerts of these severities (default: all).' }),
      sourceIds: t.arg.idList({ description: 'Only alerts about these sources (default: all of the tenant\'s).' }),
      ruleIds: t.arg.idList({ description: 'Only alerts raised by these rules (default: all): rules of your tenant, or deleted ones whose alerts are stored. Any other id is refused (NOT_FOUND) by name.' }),
      from: t.arg({ type: 'DateTime', description: 'Began at or after (event time).' }),
      to: t.arg({ type: 'DateTime', description: 'Began before.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx, info) => {
      checkTimeRange(args.from, args.to);
      if (ctx.principal.role === 'read' && !(args.states?.length && args.states.every((s) => s !== 'RESOLVED'))) {
        throw new ForbiddenError(`a read key lists open alerts only: pass states: [PENDING, FIRING] (or one of them); alerts' history needs an analyst key`, { argument: 'states' });
      }
      const limit = pageSize(args.first, PAGE);
      // Read before the alerts: a transition committed after it is then either in the page or after lastEventSeq.
      const position = await positionIfAsked(info, 'lastEventSeq', () => lastTransitionSeq(ctx.services.database.db));
      const rows = await listAlerts(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        states: args.states,
        severities: args.severities,
        sourceIds: await ctx.scope.readingSources(args.sourceIds),
        ruleIds: await ruleIdsFilter(ctx, args.ruleIds),
        from: args.from,
        to: args.to,
        before: parseCursor(args.after, 'after'),
        limit: limit + 1,
      });
      const page = toPage(rows, limit, (a: AlertRow) => a.seq.toString(), args.after);
      return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: toAlertView(e.node) })), position };
    },
  }),
);

builder.queryField('alert', (t) =>
  t.field({
    type: AlertRef,
    nullable: true,
    description: "One alert of the caller's tenant by id, with its acknowledgement; null if there is none.",
    args: { id: t.arg.id({ required: true, description: 'The alert\'s id.' }) },
    resolve: async (_root, args, ctx) => {
      const row = await ownAlert(ctx, String(args.id));
      return row ? toAlertView(row) : null;
    },
  }),
);

builder.mutationField('acknowledgeAlert', (t) =>
  t.field({
    type: AlertRef,
    description:
      "Records who acknowledged an open alert, when, and why; stops its escalation. Published to alert subscribers. It covers the alert as it is now: a new evaluation that raises its severity above this one, or a PENDING alert's firing, clears it (the FIRING or UPDATED transition says so), and the alert escalates again ESCALATE_AFTER after the clearing unless acknowledged again. A PENDING alert may be acknowledged (who looked, and their note), but that covers it only while it is pending.",
    args: {
      id: t.arg.id({ required: true, description: 'The alert to acknowledge.' }),
      by: t.arg.string({ required: true, description: 'Who acknowledges (name or staff id): 1-200 characters, without control characters or bidirectional overrides.' }),
      note: t.arg.string({ description: 'Free text kept with the acknowledgement (what was done).' }),
    },
    resolve: async (_root, args, ctx) => {
      const by = args.by.trim();
      const byProblem = displayTextProblem('by', by, 200);
      if (byProblem) throw new ValidationError(byProblem, { argument: 'by' });
      const noteProblem = args.note == null ? null : displayTextProblem('note', args.note, 2_000, { multiline: true, optional: true });
      if (noteProblem) throw new ValidationError(noteProblem, { argument: 'note' });
      if (!(await ownAlert(ctx, String(args.id)))) throw new ValidationError(`no alert with id ${JSON.stringify(String(args.id))}`, { argument: 'id' }, 'NOT_FOUND');
      return toAlertView(await ctx.services.alerts.acknowledge(String(args.id), by, args.note ?? null));
    },
  }),
);

builder.subscriptionField('alerts', (t) =>
  t.field({
    type: [AlertEventRef],
    description:
      "Every alert transition once it is stored, in seq order. Filters (on the alert after the transition) combine with AND; omitted means all. With `after` (or an SSE Last-Event-ID, which wins over `after`: a reconnecting EventSource sends both) it first replays every transition stored after that seq, then continues live: no gap, no duplicate. Each SSE event id is the last seq in it. Transitions stored before migration 0016 are not replayed.",
    args: {
      severities: t.arg({ type: [SeverityEnum], description: 'Only alerts of these severities (default: all).' }),
      states: t.arg({
        type: [AlertStateEnum],
        description:
          'Only alerts in these states after the transition (default: all). The transition that closes an alert leaves it RESOLVED: a list of open alerts kept live needs RESOLVED here too (or no states), or it never hears them close.',
      }),
      sourceIds: t.arg.idList({ description: 'Only alerts about these sources (default: all of the tenant\'s).' }),
      ruleIds: t.arg.idList({ description: 'Only alerts raised by these rules (default: all): rules of your tenant, or deleted ones whose alerts are stored. Any other id is refused (NOT_FOUND) by name.' }),
      after: t.arg.string({
        description:
          'Resume after this seq (AlertEvent.seq): the last one received. One past the last stored transition (from another history: a database restored from an older backup) is refused (BAD_USER_INPUT) with `extensions.resumeAfter`, the last stored seq: read the open alerts again and resume after that. With a read key, one whose replay would begin more than READ_KEY_REPLAY (1h) back is refused (FORBIDDEN) with `extensions.resumeAfter` too. Its replay of stored rows takes one of the MAX_CONCURRENT_REPLAYS_PER_KEY (4) turns of its key, waiting up to REPLAY_WAIT (30s) for one; past that it ends with TOO_MANY_REPLAYS and `extensions.resumeAfter`: resubscribe there.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      checkFilterSize(args.sourceIds, 'sourceIds');
      const { db } = ctx.services.database;
      const severities = filterSet<string>(args.severities);
      const states = filterSet<string>(args.states);
      const sources = filterSet(await ctx.scope.readingSources(args.sourceIds));
      const ruleIds = filterSet(await ruleIdsFilter(ctx, args.ruleIds));
      const after = await resumePoint(ctx, args.after, {
        noun: 'alert transitions',
        // Transitions are kept (no retention), so the last stored is the newest this history holds.
        newest: () => lastTransitionSeq(db),
        ahead: (argument, seq, last) => `${argument} ${seq} is ahead of the alert transitions (the last stored seq is ${last}); resume with a seq this API sent`,
        // Where this subscription's replay begins: other tenants' and other alerts' transitions are not replayed to it.
        anyStoredAfter: (seq) => anyTransitionStoredAfter(db, seq),
        storedAfter: (seq) => transitionStoredAfter(db, seq, { tenantId: ctx.scope.tenantId, sourceIds: sources, ruleIds, severities, states }),
      });
      return ctx.services.outputs.alerts.subscribe(
        ({ alert: a }) =>
          (!severities || severities.has(a.severity)) && (!states || states.has(a.state)) && (sources ? sources.has(a.sourceId) : ctx.scope.owns(a.sourceId)) && (!ruleIds || ruleIds.has(a.ruleId)),
        after,
        ctx.scope.tenantId,
        limitHolder(ctx.principal),
      );
    },
    resolve: (batch: AlertEvent[] | Error) => emitBatch(batch),
    // This resolver and its item type's read no `info`: events may run through the plain executor.
    extensions: { [PLAIN_LIST]: true },
  }),
);
