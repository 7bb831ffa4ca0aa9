import { z } from 'zod';
import { DURATION_HINT, looksLikeDuration, parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { metricDefinition } from '../ingest/metrics.js';
import type { AlertRuleKind } from '../db/schema.js';
import { SEVERITIES, type AlertRule, type Severity } from '../processors/alert-rules.js';
import { displayTextProblem } from '../display-text.js';

/** What an operator sends to create or update a rule; which fields apply depends on `kind`. */
export interface RuleInput {
  name: string;
  kind: AlertRuleKind;
  sourceIds?: readonly string[] | null;
  metric?: string | null;
  aggregate?: 'LAST' | 'AVG' | 'MIN' | 'MAX' | null;
  window?: string | null;
  above?: number | null;
  below?: number | null;
  for?: string | null;
  clear?: number | null;
  rise?: number | null;
  drop?: number | null;
  expectedInterval?: string | null;
  severity?: Severity | null;
  clearAfter?: string | null;
}

/** Stored in alert_rules.params; durations in ms. */
export interface RuleParams {
  metric: string | null;
  aggregate: 'LAST' | 'AVG' | 'MIN' | 'MAX';
  windowMs: number;
  above: number | null;
  below: number | null;
  forMs: number;
  clear: number | null;
  rise: number | null;
  drop: number | null;
  expectedIntervalMs: number;
  severity: Severity;
  /** Absent in rules stored before it existed: clearAfterOf gives the kind's default. */
  clearAfterMs?: number;
}

/**
 * NEWS2 alerts resolve once the risk has stayed LOW for this long by default: vitals read every second make the
 * total waver at a band's edge, and each dip would resolve the alert, drop its acknowledgement and raise a new one.
 */
export const NEWS2_CLEAR_AFTER_MS = 5 * 60_000;

/** How long a firing alert of this rule must stay cleared to resolve: as set, else NEWS2's default, else at once. */
export function clearAfterOf(kind: AlertRuleKind, params: Pick<RuleParams, 'clearAfterMs'>): number {
  return params.clearAfterMs ?? (kind === 'NEWS2' ? NEWS2_CLEAR_AFTER_MS : 0);
}

/** A duration in ms; null when omitted. */
const optionalDuration = (field: string) =>
  z
    .string()
    .nullish()
    .transform((text, ctx) => {
      if (text === null || text === undefined) return null;
      const ms = parseDuration(text);
      if (ms === undefined) {
        const why = looksLikeDuration(text) ? 'is too long' : `must be ${DURATION_HINT}`;
        ctx.addIssue({ code: 'custom', message: `${field} ${why}, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return ms;
    });
const duration = (field: string) => optionalDuration(field).transform((ms) => ms ?? 0);

const finite = z.number().finite().nullish().transform((v) => v ?? null);

const Input = z.object({
  name: z.string().superRefine((name, ctx) => {
    const problem = displayTextProblem('name', name, 200);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  metric: z.string().nullish().transform((v) => v ?? null),
  aggregate: z.enum(['LAST', 'AVG', 'MIN', 'MAX']).nullish().transform((v) => v ?? 'LAST'),
  window: duration('window'),
  above: finite,
  below: finite,
  for: duration('for'),
  clear: finite,
  rise: finite,
  drop: finite,
  expectedInterval: duration('expectedInterval'),
  severity: z.enum(SEVERITIES).nullish().transform((v) => v ?? 'HIGH'),
  clearAfter: optionalDuration('clearAfter'),
});

const MAX_WINDOW_MS = 24 * 3_600_000;
/** A source silent for longer than a month is one to retire, not to watch. */
const MAX_EXPECTED_INTERVAL_MS = 30 * 24 * 3_600_000;

/** The settings each kind reads (beside name and sourceIds); any other given is refused, not stored to no effect. */
const SETTINGS: Record<AlertRuleKind, readonly (keyof RuleInput)[]> = {
  THRESHOLD: ['metric', 'aggregate', 'window', 'above', 'below', 'for', 'clear', 'clearAfter', 'severity'],
  RATE_OF_CHANGE: ['metric', 'window', 'rise', 'drop', 'for', 'clearAfter', 'severity'],
  NO_DATA: ['metric', 'expectedInterval', 'severity'],
  // Its severity follows the score (HIGH at 5, CRITICAL at 7) and it watches the six NEWS2 vitals.
  NEWS2: ['clearAfter'],
};
const ALL_SETTINGS = ['metric', 'aggregate', 'window', 'above', 'below', 'for', 'clear', 'clearAfter', 'rise', 'drop', 'expectedInterval', 'severity'] as const;

/**
 * Checks a rule as a clinician or analyst would write it and turns it into
 * stored params; throws a ValidationError naming the field that is wrong.
 */
export function ruleParams(input: RuleInput): RuleParams {
  const parsed = Input.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(issue.message, { argument: issue.path.join('.') });
  }
  const p = parsed.data;
  const fail = (argument: string, message: string): never => {
    throw new ValidationError(message, { argument });
  };
  const takes = SETTINGS[input.kind];
  const extra = ALL_SETTINGS.find((field) => input[field] !== null && input[field] !== undefined && !takes.includes(field));
  const why = input.kind === 'NEWS2' ? ': it watches the six NEWS2 vitals, and its severity follows the score' : '';
  if (extra) fail(extra, `a ${input.kind} rule does not use ${extra} (it takes ${takes.join(', ')}${why})`);
  const metric = p.metric === null ? undefined : metricDefinition(p.metric);
  if (p.metric !== null && !metric) fail('metric', `metric "${p.metric}" is not in the catalog (query metrics for the list)`);
  // No reading of it comes any more: a NO_DATA rule on it would fire for every source, the others never.
  if (metric?.retired) fail('metric', `metric "${p.metric}" is no longer taken in readings (${metric.retired}), so a rule on it would watch nothing`);
  if (p.window > MAX_WINDOW_MS) fail('window', 'window may be at most 24h');
  if (p.for > MAX_WINDOW_MS) fail('for', 'for may be at most 24h');
  if ((p.clearAfter ?? 0) > MAX_WINDOW_MS) fail('clearAfter', 'clearAfter may be at most 24h');
  switch (input.kind) {
    case 'THRESHOLD':
      if (!p.metric) fail('metric', 'a THRESHOLD rule needs a metric');
      if (p.above === null && p.below === null) fail('above', 'a THRESHOLD rule needs above or below');
      if (p.above !== null && p.below !== null) fail('below', 'a THRESHOLD rule takes above or below, not both (make two rules)');
      if (p.clear !== null && p.above !== null && p.clear > p.above) fail('clear', `clear (${p.clear}) must not be above the threshold (${p.above})`);
      if (p.clear !== null && p.below !== null && p.clear < p.below) fail('clear', `clear (${p.clear}) must not be below the threshold (${p.below})`);
      if (p.aggregate !== 'LAST' && p.window === 0) fail('window', `aggregate ${p.aggregate} needs a window, e.g. "5m"`);
      // Stored and shown, it would read as a rule over a window while judging each reading alone.
      if (p.aggregate === 'LAST' && p.window !== 0) fail('window', 'aggregate LAST judges each reading alone and takes no window; use AVG, MIN or MAX over a window');
      break;
    case 'RATE_OF_CHANGE':
      if (!p.metric) fail('metric', 'a RATE_OF_CHANGE rule needs a metric');
      if (p.window === 0) fail('window', 'a RATE_OF_CHANGE rule needs a window, e.g. "10m"');
      if (p.rise === null && p.drop === null) fail('drop', 'a RATE_OF_CHANGE rule needs rise or drop');
      if ((p.rise ?? 1) <= 0 || (p.drop ?? 1) <= 0) fail(p.rise !== null && p.rise <= 0 ? 'rise' : 'drop', 'rise and drop are amounts greater than 0');
      break;
    case 'NO_DATA':
      if (p.expectedInterval < 1_000) fail('expectedInterval', 'a NO_DATA rule needs expectedInterval of at least 1s, e.g. "30s"');
      if (p.expectedInterval > MAX_EXPECTED_INTERVAL_MS) fail('expectedInterval', 'expectedInterval may be at most 30d');
      break;
    case 'NEWS2':
      break;
  }
  return {
    metric: p.metric,
    aggregate: p.aggregate,
    windowMs: p.window,
    above: p.above,
    below: p.below,
    forMs: p.for,
    clear: p.clear,
    rise: p.rise,
    drop: p.drop,
    expectedIntervalMs: p.expectedInterval,
    severity: p.severity,
    clearAfterMs: p.clearAfter ?? clearAfterOf(input.kind, {}),
  };
}

export interface StoredRule {
  id: string;
  /** The tenant whose sources the rule watches; it never sees another's. */
  tenantId: string;
  name: string;
  kind: AlertRuleKind;
  sourceIds: string[] | null;
  params: RuleParams;
  enabled: boolean;
}

/** The processor's view of a stored rule; NO_DATA rules are evaluated by the signal monitor instead. */
export function toProcessorRule(rule: StoredRule): AlertRule | null {
  const { params: p, id, sourceIds } = rule;
  const clearAfterMs = clearAfterOf(rule.kind, p);
  switch (rule.kind) {
    case 'THRESHOLD':
      return { id, kind: 'THRESHOLD', sourceIds, metric: p.metric!, aggregate: p.aggregate, windowMs: p.windowMs, above: p.above, below: p.below, forMs: p.forMs, clear: p.clear, severity: p.severity, clearAfterMs };
    case 'RATE_OF_CHANGE':
      return { id, kind: 'RATE_OF_CHANGE', sourceIds, metric: p.metric!, windowMs: p.windowMs, rise: p.rise, drop: p.drop, forMs: p.forMs, severity: p.severity, clearAfterMs };
    case 'NEWS2':
      return { id, kind: 'NEWS2', sourceIds, clearAfterMs };
    case 'NO_DATA':
      return null;
  }
}
