import { isNews2Metric, news2, NEWS2_MAX_AGE_MS, news2Values, withNews2Reading, type News2Latest, type News2Metric, type News2Result } from './news2.js';
import type { Output, Processor } from './processor.js';
import type { Point } from './series.js';
import { stayPhase, type PatientStay } from './stays.js';

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * An alert rule as the runtime passes it in. Validating rules (finite
 * numbers, windowMs and forMs >= 0, at least one of above/below or
 * rise/drop) belongs where they are created or edited: the processor never
 * throws on one, since a throw would stall the whole pipeline.
 */
export type AlertRule =
  | {
      id: string;
      kind: 'THRESHOLD';
      /** null: every source. */
      sourceIds: string[] | null;
      metric: string;
      aggregate: 'LAST' | 'AVG' | 'MIN' | 'MAX';
      windowMs: number;
      above: number | null;
      below: number | null;
      forMs: number;
      /**
       * Hysteresis level a firing alert must cross back over to resolve; null:
       * the bound itself. Taken no further than the bound, and ignored on a
       * rule with both bounds (one level cannot serve two).
       */
      clear: number | null;
      severity: Severity;
      clearAfterMs?: number;
    }
  | { id: string; kind: 'RATE_OF_CHANGE'; sourceIds: string[] | null; metric: string; windowMs: number; rise: number | null; drop: number | null; forMs: number; severity: Severity; clearAfterMs?: number }
  | { id: string; kind: 'NEWS2'; sourceIds: string[] | null; clearAfterMs?: number };
// clearAfterMs: how long a firing alert's condition must stay cleared, reading after reading, before it resolves, so a
// value wavering at the edge does not resolve and raise a new alert (losing its acknowledgement) every few seconds.
// Absent or 0: it resolves at the first cleared reading.

/** One reading with the rules in force when it was processed: the runtime passes them with every event. */
export interface AlertInput {
  point: Point;
  rules: readonly AlertRule[];
  /** The patient's stay; absent for one never retired. */
  stay?: PatientStay;
  /** When the reading arrived (stored with it): places it in a stay. Null for readings stored before arrivals were. */
  receivedAt?: number | null;
}

export type TransitionKind = 'PENDING' | 'FIRING' | 'UPDATED' | 'RESOLVED';

/** id = `${alertId}/${kind}/${time}/${cursor}`: a replay regenerates the same ids, and two transitions of one episode never share one (late readings can change it twice at one clock time). */
export interface AlertTransition extends Output {
  /** `${ruleId}/${sourceId}/${metric or 'news2'}/${startedAt}`: one alert per rule and series per episode. */
  alertId: string;
  ruleId: string;
  sourceId: string;
  /** null for NEWS2 rules. */
  metric: string | null;
  kind: TransitionKind;
  /** UPDATED transitions carry the new severity. */
  severity: Severity;
  /** Event time of the reading that caused it, never earlier than the previous transition of the series (the lifecycle clock). */
  time: number;
  /** Event time the episode began (its first breaching reading, on the lifecycle clock). */
  startedAt: number;
  /** The evaluated value: the aggregate, the signed change (negative for a drop) or the NEWS2 total. */
  value: number;
  /** Cursor of the reading that caused it. */
  cursor: string;
  message: string;
}

/** The bound an episode breached: decides how a threshold alert clears and what messages say. */
export type Side = 'above' | 'below' | 'rise' | 'drop';

/** An open episode of one rule and series: never more than one at a time. */
export interface AlertEpisode {
  alertId: string;
  startedAt: number;
  status: 'PENDING' | 'FIRING';
  severity: Severity;
  /** null for NEWS2. */
  side: Side | null;
  /** Last evaluated value: what a rule removal reports, as there is no evaluation then. */
  value: number;
  /**
   * When the breach began, where a reading that arrived late showed it began before `startedAt` (a pending episode
   * of a LAST threshold rule): `for` counts from here. Absent: from `startedAt`.
   */
  since?: number;
  /** A firing episode whose condition has cleared at every evaluation since this lifecycle time (the rule's clearAfterMs). */
  clearingSince?: number;
}

/** What one rule holds for one patient. */
export interface RuleState {
  ruleId: string;
  /** Kind and metric the state was built for: a rule edited to another kind or metric starts over. */
  kind: AlertRule['kind'];
  /** null for NEWS2 rules. */
  metric: string | null;
  /**
   * Readings of the trailing window, ascending by time, one per time: those
   * with time > newest - windowMs, plus the newest itself (windowMs 0). Empty
   * for NEWS2 rules.
   */
  window: { time: number; value: number }[];
  /** Lifecycle clock: the latest time evaluated. Never goes backwards, even for late readings. */
  clock: number;
  /**
   * Start of the latest episode, open or closed: a new episode must start
   * strictly later, or two episodes would share an alertId (possible when
   * late readings resolve and re-breach without the clock advancing: that
   * breach waits for the next reading that moves the clock).
   */
  lastStart: number | null;
  episode: AlertEpisode | null;
  /**
   * LAST threshold rules: the event time of the latest reading that did not breach on its own. A breaching reading
   * arriving late, later than it and earlier than a pending episode's start, moves that start back (`since`).
   */
  clearAt?: number;
}

/** One patient's alert state: the runtime keys this processor by sourceId. */
export interface AlertRulesState {
  /** Latest value of each NEWS2 parameter by event time, kept even with no NEWS2 rule so a new one can score at once. */
  news2: News2Latest;
  /**
   * States of the rules that have evaluated a reading of this patient, in
   * rules-list order. An array, not an object keyed by rule id: ids are
   * user-chosen and one named "__proto__" would not survive as a key.
   */
  rules: RuleState[];
  /**
   * The latest clock and episode start among rule states dropped (rule
   * removed, no longer covering the patient, changed kind or metric). A rule
   * state created later starts from them, so a rule disabled and enabled
   * again neither moves its clock back nor repeats an alertId. Two numbers
   * for the patient, rather than a tombstone per rule that would grow with
   * every rule ever deleted.
   */
  retired: { clock: number; lastStart: number | null } | null;
  /** The readmission (PatientStay.admittedAt) this state began at; absent before the first. */
  stay?: number;
}

/** What one evaluation of a rule found. */
interface Evaluation {
  /** The rule's condition holds now: opens an episode, keeps a pending one. */
  breaching: boolean;
  /** The bound breached now (when not breaching, the rule's first bound); null for NEWS2. */
  side: Side | null;
  severity: Severity;
  /** The evaluated value as an episode on `side` reports it. */
  value(side: Side | null): number;
  /** A firing episode that breached `side` may resolve: past the hysteresis level, or not breaching for rules without one. */
  cleared(side: Side | null): boolean;
  /** The rule no longer has the bound `side` (edited away): its episode resolves at once, whatever clearAfterMs. */
  lost?(side: Side | null): boolean;
  /** The message of a transition of an episode on `side`, `elapsedMs` after it started. */
  describe(kind: TransitionKind | 'CANCELLED', side: Side | null, elapsedMs: number): string;
}

/**
 * Alert rules with a lifecycle, per patient. Every reading is evaluated
 * against the rules that apply to it, in the order given (commit order),
 * all in event time:
 * - THRESHOLD: an aggregate of the trailing window (t - windowMs, t], t the
 *   newest time of the series, above or below a bound, with hysteresis.
 * - RATE_OF_CHANGE: a drop from the window's maximum or a rise from its
 *   minimum to the latest value, larger than the limit; no hysteresis.
 * - NEWS2: the patient's NEWS2 risk, from the latest value of each parameter.
 * Lifecycle per rule and series: idle → PENDING (FIRING at once when forMs is
 * 0 and for NEWS2) → FIRING once the breach has held forMs → RESOLVED → idle;
 * a pending breach that lapses is RESOLVED (cancelled). A firing alert whose
 * severity changes emits UPDATED. A rule that is removed, no longer applies
 * to the patient, or changes kind or metric resolves its open alert on the
 * patient's next reading.
 *
 * onWatermark emits nothing: escalation and signal loss are wall-clock
 * features handled elsewhere. Never mutates the state it is given.
 */
export function createAlertRulesProcessor({ news2MaxAgeMs = NEWS2_MAX_AGE_MS }: { news2MaxAgeMs?: number } = {}): Processor<AlertRulesState, AlertInput, AlertTransition> {
  return {
    name: 'alerts',
    init: () => ({ news2: {}, rules: [], retired: null }),
    onEvent(given, { point, rules, stay, receivedAt }) {
      let state = given;
      const out: AlertTransition[] = [];
      // A reading is placed in a stay by when it arrived. While the patient is discharged its readings raise
      // nothing (a monitor left on an empty bed); a readmitted patient starts afresh: nothing of the earlier stay's
      // windows, episodes or vitals carries over, and a breach raises a new alert.
      const phase = stayPhase(stay, receivedAt, state.stay);
      if (phase === 'discharged') return { state: endStay(state, point, 'the patient was discharged (source retired)', out, state.stay), out };
      if (phase === 'readmitted') state = endStay(state, point, 'the patient was readmitted: the earlier stay is closed', out, stay!.admittedAt!);
      const news2Latest = withNews2Reading(state.news2, point);
      const held = new Map(state.rules.map((rs) => [rs.ruleId, rs]));
      const inForce = new Map<string, AlertRule>();
      // Rule ids are unique; should one repeat, the first wins rather than two rules sharing one state.
      for (const rule of rules) if (!inForce.has(rule.id)) inForce.set(rule.id, rule);
      let { retired } = state;

      // Rules gone, no longer covering this patient, or of another kind or metric: close what they left open, drop their state.
      for (const rs of state.rules) {
        const rule = inForce.get(rs.ruleId);
        let why: string | null = null;
        if (rule === undefined) why = `rule ${rs.ruleId} was removed or disabled`;
        else if (!coversSource(rule, point.sourceId)) why = `rule ${rs.ruleId} no longer applies to ${point.sourceId}`;
        else if (rule.kind !== rs.kind || metricOf(rule) !== rs.metric) why = `rule ${rs.ruleId} changed to another kind or metric`;
        if (why === null) continue;
        const time = Math.max(point.time, rs.clock);
        if (rs.episode !== null) out.push(transition(rs, rs.episode, 'RESOLVED', time, point, `${why}: alert resolved`));
        held.delete(rs.ruleId);
        retired = { clock: Math.max(time, retired?.clock ?? time), lastStart: latest(rs.lastStart, retired?.lastStart ?? null) };
      }

      const next: RuleState[] = [];
      for (const rule of inForce.values()) {
        let rs = held.get(rule.id);
        if (coversSource(rule, point.sourceId) && appliesTo(rule, point.metric)) {
          rs ??= { ruleId: rule.id, kind: rule.kind, metric: metricOf(rule), window: [], clock: Math.max(point.time, retired?.clock ?? point.time), lastStart: retired?.lastStart ?? null, episode: null };
          rs = evaluateRule(rs, rule, point, news2Latest, news2MaxAgeMs, out);
        } else if (rs !== undefined) {
          rs = waitedOut(rs, rule, point, out);
        }
        if (rs !== undefined) next.push(rs);
      }
      return { state: { news2: news2Latest, rules: next, retired, ...(state.stay === undefined ? {} : { stay: state.stay }) }, out };
    },
    onWatermark: (state) => ({ state, out: [] }),
  };
}

/**
 * The state of a patient whose stay ended: every open episode resolved (`why`), every rule's state dropped into
 * `retired` (so a later episode neither moves a clock back nor repeats an alertId), the NEWS2 vitals forgotten.
 */
function endStay(state: AlertRulesState, point: Point, why: string, out: AlertTransition[], stay: number | undefined): AlertRulesState {
  if (state.rules.length === 0 && Object.keys(state.news2).length === 0 && state.stay === stay) return state;
  let { retired } = state;
  for (const rs of state.rules) {
    const time = Math.max(point.time, rs.clock);
    if (rs.episode !== null) out.push(transition(rs, rs.episode, 'RESOLVED', time, point, `${why}: alert resolved`));
    retired = { clock: Math.max(time, retired?.clock ?? time), lastStart: latest(rs.lastStart, retired?.lastStart ?? null) };
  }
  return { news2: {}, rules: [], retired, ...(stay === undefined ? {} : { stay }) };
}

function coversSource(rule: AlertRule, sourceId: string): boolean {
  return rule.sourceIds === null || rule.sourceIds.includes(sourceId);
}

function appliesTo(rule: AlertRule, metric: string): boolean {
  return rule.kind === 'NEWS2' ? isNews2Metric(metric) : rule.metric === metric;
}

function metricOf(rule: AlertRule): string | null {
  return rule.kind === 'NEWS2' ? null : rule.metric;
}

function latest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** Takes one applicable reading into the rule's state and advances its lifecycle; pushes transitions to `out`. */
function evaluateRule(rs: RuleState, rule: AlertRule, point: Point, news2Latest: News2Latest, news2MaxAgeMs: number, out: AlertTransition[]): RuleState {
  // Late readings still count, but the lifecycle clock never goes backwards.
  const time = Math.max(point.time, rs.clock);
  if (rule.kind === 'NEWS2') {
    // Not scored while a parameter is out of date (news2Values): an open alert stays as it is, neither resolved nor raised.
    const values = news2Values(news2Latest, news2MaxAgeMs);
    if (values !== null) return advance({ ...rs, clock: time }, rule, evaluateNews2(news2(values)!), time, point, out);
    const waited = waitedOut(rs, rule, point, out);
    return waited === rs ? { ...rs, clock: time } : waited;
  }
  const window = withReading(rs.window, point, rule.windowMs);
  const evaluation = rule.kind === 'THRESHOLD' ? evaluateThreshold(rule, window) : evaluateRateOfChange(rule, window);
  const placed = rule.kind === 'THRESHOLD' && rule.aggregate === 'LAST' ? withBreachPlaced(rs, rule, point, window, evaluation) : rs;
  return advance({ ...placed, window, clock: time }, rule, evaluation, time, point, out);
}

/**
 * A reading that does not evaluate the rule (another of the patient's metrics, or NEWS2 unscorable) still moves the
 * patient's time: an alert waiting out its clearAfter resolves once that much has passed since it cleared, with no
 * reading against it. Otherwise a recovered patient's alert whose probe was taken off within the wait stayed open,
 * and escalated, for as long as the patient stayed admitted.
 */
function waitedOut(rs: RuleState, rule: AlertRule, point: Point, out: AlertTransition[]): RuleState {
  const time = Math.max(point.time, rs.clock);
  const { episode } = rs;
  if (episode?.clearingSince === undefined) return rs;
  const clearFor = time - episode.clearingSince;
  if (clearFor < (rule.clearAfterMs ?? 0)) return rs;
  const { clearingSince: _, ...resolved } = episode;
  const what = rs.metric ?? 'NEWS2';
  out.push(transition(rs, resolved, 'RESOLVED', time, point, `${what} clear for ${span(clearFor)} with no reading against it (the patient's other readings went on): resolved`));
  return { ...rs, clock: time, episode: null };
}

/**
 * A LAST threshold rule judges the newest reading, so one arriving late changes nothing of what holds now; but it
 * may show when a pending breach began. Sent out of order (t+40, then t0 and t+10, all breaching), a breach was
 * counted from t+40 and fired 40 s late, or was cancelled by the next clear reading before it could. A breaching
 * reading before the episode's start, with no reading known to have cleared in between, moves it back; a clear
 * one is remembered, so a breach is never carried back across it.
 */
function withBreachPlaced(rs: RuleState, rule: Extract<AlertRule, { kind: 'THRESHOLD' }>, point: Point, window: RuleState['window'], evaluation: Evaluation): RuleState {
  // The reading judged alone: what the window's evaluation is already, unless a newer reading is the window's.
  const alone = window.at(-1)!.time === point.time ? evaluation : evaluateThreshold(rule, [{ time: point.time, value: point.value }]);
  if (!alone.breaching) return point.time > (rs.clearAt ?? -Infinity) ? { ...rs, clearAt: point.time } : rs;
  const { episode } = rs;
  if (episode?.status !== 'PENDING' || alone.side !== episode.side) return rs;
  if (point.time >= (episode.since ?? episode.startedAt) || point.time <= (rs.clearAt ?? -Infinity)) return rs;
  return { ...rs, episode: { ...episode, since: point.time } };
}

/**
 * The lifecycle step for one evaluation at lifecycle time `time`. A two-sided
 * threshold reading can clear one side and breach the other: the old episode
 * resolves and a new one opens in the same step.
 */
function advance(rs: RuleState, rule: AlertRule, evaluation: Evaluation, time: number, point: Point, out: AlertTransition[]): RuleState {
  const { breaching, severity, describe } = evaluation;
  const forMs = rule.kind === 'NEWS2' ? 0 : rule.forMs;
  let { episode, lastStart } = rs;
  const emit = (episode: AlertEpisode, kind: TransitionKind, message: string) => out.push(transition(rs, episode, kind, time, point, message));
  if (episode !== null) {
    const elapsed = time - (episode.since ?? episode.startedAt);
    if (episode.status === 'PENDING') {
      // While pending the breach must hold at every reading; it may move to the other bound of a two-sided rule.
      const side = breaching ? evaluation.side : episode.side;
      episode = { ...episode, severity, side, value: evaluation.value(side) };
      if (!breaching) {
        emit(episode, 'RESOLVED', describe('CANCELLED', side, elapsed));
        episode = null;
      } else if (elapsed >= forMs) {
        episode = { ...episode, status: 'FIRING' };
        emit(episode, 'FIRING', describe('FIRING', side, elapsed));
      }
    } else {
      // A firing episode keeps the bound it fired on: that decides how it clears.
      const { clearingSince, ...firing } = episode;
      const { side } = firing;
      episode = { ...firing, value: evaluation.value(side) };
      if (evaluation.cleared(side)) {
        // The wait is for a value back within limits. One past the other bound of a two-sided rule, or a bound edited
        // away, ends the episode at once, so the alarm of the new breach opens in this same step, not clearAfterMs later.
        const waits = !(breaching && evaluation.side !== side) && !evaluation.lost?.(side);
        const clearAfterMs = waits ? (rule.clearAfterMs ?? 0) : 0;
        const clearFor = time - (clearingSince ?? time);
        if (clearFor >= clearAfterMs) {
          emit(episode, 'RESOLVED', `${describe('RESOLVED', side, elapsed)}${clearAfterMs > 0 ? ` (clear for ${span(clearFor)})` : ''}`);
          episode = null;
        } else {
          // Nothing is sent while it waits: a wavering value would otherwise flood the ward with transitions.
          episode = { ...episode, clearingSince: clearingSince ?? time };
        }
      } else if (severity !== episode.severity) {
        episode = { ...episode, severity };
        emit(episode, 'UPDATED', describe('UPDATED', side, elapsed));
      }
    }
  }
  if (episode === null && breaching && (lastStart === null || time > lastStart)) {
    const { side } = evaluation;
    const status = forMs <= 0 ? 'FIRING' : 'PENDING';
    const alertId = `${rs.ruleId}/${point.sourceId}/${rs.metric ?? 'news2'}/${time}`;
    episode = { alertId, startedAt: time, status, severity, side, value: evaluation.value(side) };
    lastStart = time;
    emit(episode, status, describe(status, side, 0));
  }
  return { ...rs, episode, lastStart };
}

function transition(rs: RuleState, episode: AlertEpisode, kind: TransitionKind, time: number, point: Point, message: string): AlertTransition {
  const { alertId, severity, startedAt, value } = episode;
  return {
    id: `${alertId}/${kind}/${time}/${point.cursor}`,
    alertId,
    ruleId: rs.ruleId,
    sourceId: point.sourceId,
    metric: rs.metric,
    kind,
    severity,
    time,
    startedAt,
    value,
    cursor: point.cursor,
    message,
  };
}

/**
 * `window` with `point` inserted in time order (replacing a reading at the
 * same time: the store keeps one per source, metric and time, so that is a
 * correction), then trimmed to (newest - windowMs, newest]. A late reading
 * that falls before the window changes nothing.
 */
function withReading(window: RuleState['window'], point: Point, windowMs: number): RuleState['window'] {
  const newest = Math.max(point.time, window.at(-1)?.time ?? point.time);
  const inWindow = (time: number) => time === newest || time > newest - windowMs;
  if (!inWindow(point.time)) return window;
  // Mostly an append: search from the end.
  let i = window.length;
  while (i > 0 && window[i - 1]!.time > point.time) i--;
  const replaces = i > 0 && window[i - 1]!.time === point.time;
  // -0 does not survive JSON; normalise so a checkpointed state equals the live one.
  const reading = { time: point.time, value: point.value === 0 ? 0 : point.value };
  const merged = [...window.slice(0, replaces ? i - 1 : i), reading, ...window.slice(i)];
  let first = 0;
  while (!inWindow(merged[first]!.time)) first++;
  return first === 0 ? merged : merged.slice(first);
}

/** An aggregate of a non-empty window. Loops rather than Math.max(...values): a long window would overflow the argument stack. */
function aggregate(kind: 'LAST' | 'AVG' | 'MIN' | 'MAX', window: RuleState['window']): number {
  if (kind === 'LAST') return window.at(-1)!.value;
  let result = kind === 'AVG' ? 0 : window[0]!.value;
  for (const { value } of window) result = kind === 'AVG' ? result + value : kind === 'MIN' ? Math.min(result, value) : Math.max(result, value);
  return kind === 'AVG' ? result / window.length : result;
}

function evaluateThreshold(rule: Extract<AlertRule, { kind: 'THRESHOLD' }>, window: RuleState['window']): Evaluation {
  const value = aggregate(rule.aggregate, window);
  const { above, below, clear } = rule;
  const breachesAbove = above !== null && value > above;
  const breachesBelow = below !== null && value < below;
  const boundOf = (side: Side | null) => (side === 'above' ? above : below);
  /**
   * Level a firing alert must cross back over. `clear` belongs to one-sided
   * rules (a two-sided rule has one clear level for two bounds, so it uses the
   * bounds). It never lies past the bound: an alert must not resolve while its
   * value still breaches, or it would flap. null when the bound was edited away.
   */
  const clearLevel = (side: Side | null): number | null => {
    const bound = boundOf(side);
    if (bound === null || clear === null || (above !== null && below !== null)) return bound;
    return side === 'above' ? Math.min(clear, bound) : Math.max(clear, bound);
  };
  const subject = rule.aggregate === 'LAST' || rule.windowMs === 0 ? rule.metric : `${rule.aggregate.toLowerCase()} ${rule.metric} over ${duration(rule.windowMs)}`;
  const condition = (side: Side | null) => `${num(value)} ${side === 'above' ? '>' : '<'} ${num(boundOf(side) ?? NaN)}`;
  return {
    breaching: breachesAbove || breachesBelow,
    side: breachesAbove ? 'above' : breachesBelow ? 'below' : above !== null ? 'above' : 'below',
    severity: rule.severity,
    value: () => value,
    cleared(side) {
      const level = clearLevel(side);
      return level === null || (side === 'above' ? value < level : value > level);
    },
    lost: (side) => boundOf(side) === null,
    describe(kind, side, elapsedMs) {
      switch (kind) {
        case 'PENDING':
          return `${subject} ${condition(side)}, fires if it lasts ${duration(rule.forMs)}`;
        case 'FIRING':
          return `${subject} ${condition(side)}${elapsedMs > 0 ? ` for ${span(elapsedMs)}` : ''}`;
        case 'UPDATED':
          return `${subject} ${num(value)}, firing for ${span(elapsedMs)}, severity now ${rule.severity}`;
        case 'RESOLVED': {
          const level = clearLevel(side);
          return `${subject} ${num(value)}${level === null ? '' : ` ${side === 'above' ? '<' : '>'} ${num(level)}`}: cleared after ${span(elapsedMs)}`;
        }
        case 'CANCELLED':
          return `${subject} ${num(value)} back within limits after ${span(elapsedMs)} of ${duration(rule.forMs)}: cancelled`;
      }
    },
  };
}

function evaluateRateOfChange(rule: Extract<AlertRule, { kind: 'RATE_OF_CHANGE' }>, window: RuleState['window']): Evaluation {
  const latest = aggregate('LAST', window);
  const dropAmount = aggregate('MAX', window) - latest;
  const riseAmount = latest - aggregate('MIN', window);
  const drops = rule.drop !== null && dropAmount > rule.drop;
  const rises = rule.rise !== null && riseAmount > rule.rise;
  const breaching = drops || rises;
  const change = (side: Side | null) =>
    `${rule.metric} ${side === 'drop' ? `fell ${num(dropAmount)}` : `rose ${num(riseAmount)}`} within ${duration(rule.windowMs)} (limit ${num((side === 'drop' ? rule.drop : rule.rise) ?? NaN)})`;
  // Both can hold when the window saw a peak and a trough: report the one furthest past its limit.
  const side: Side = drops && rises ? (dropAmount - rule.drop! >= riseAmount - rule.rise! ? 'drop' : 'rise') : drops ? 'drop' : rises ? 'rise' : rule.drop !== null ? 'drop' : 'rise';
  return {
    breaching,
    side,
    severity: rule.severity,
    // Signed: a drop is negative. `0 - x` rather than `-x`, which gives -0 (not JSON-safe) for no change.
    value: (episodeSide) => (episodeSide === 'drop' ? 0 - dropAmount : riseAmount),
    cleared: () => !breaching,
    describe(kind, episodeSide, elapsedMs) {
      switch (kind) {
        case 'PENDING':
          return `${change(episodeSide)}, fires if it lasts ${duration(rule.forMs)}`;
        case 'FIRING':
          return `${change(episodeSide)}${elapsedMs > 0 ? ` for ${span(elapsedMs)}` : ''}`;
        case 'UPDATED':
          return `${change(episodeSide)}, firing for ${span(elapsedMs)}, severity now ${rule.severity}`;
        case 'RESOLVED':
          return `${change(episodeSide)}: cleared after ${span(elapsedMs)}`;
        case 'CANCELLED':
          return `${change(episodeSide)}, within limits after ${span(elapsedMs)} of ${duration(rule.forMs)}: cancelled`;
      }
    },
  };
}

/** NEWS2 clinical risk → alert severity; LOW raises nothing. */
const NEWS2_SEVERITY: Record<Exclude<News2Result['risk'], 'LOW'>, Severity> = { LOW_MEDIUM: 'MEDIUM', MEDIUM: 'HIGH', HIGH: 'CRITICAL' };
const RISK_LABEL: Record<News2Result['risk'], string> = { LOW: 'low', LOW_MEDIUM: 'low-medium', MEDIUM: 'medium', HIGH: 'high' };

function evaluateNews2(result: News2Result): Evaluation {
  const { total, risk, scores } = result;
  const breaching = risk !== 'LOW';
  const contributors = (Object.entries(scores) as [News2Metric, number][]).filter(([, score]) => score > 0).map(([metric, score]) => `${metric} ${score}`);
  const summary = `NEWS2 ${total}, ${RISK_LABEL[risk]} clinical risk${contributors.length > 0 ? ` (${contributors.join(', ')})` : ''}`;
  return {
    breaching,
    side: null,
    // A LOW result only ever resolves a firing episode, which reports its own severity.
    severity: risk === 'LOW' ? 'LOW' : NEWS2_SEVERITY[risk],
    value: () => total,
    cleared: () => !breaching,
    describe(kind) {
      return kind === 'RESOLVED' ? `${summary}: resolved` : summary;
    },
  };
}

/** A value for a message: at most two decimals. */
function num(value: number): string {
  return String(Math.round(value * 100) / 100 + 0);
}

/**
 * A measured span for a message, in whole seconds from a second up: readings' timestamps carry milliseconds, and
 * "firing for 1m59s988ms" read as noise on a ward. Floored, so a span never reads as long as a rule's `for` (whole
 * seconds) it fell short of.
 */
function span(ms: number): string {
  return duration(ms < 1_000 ? ms : Math.floor(ms / 1_000) * 1_000);
}

/** A duration for a message: 5m, 1h30m, 45s, 250ms. */
function duration(ms: number): string {
  if (ms <= 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join('');
}
