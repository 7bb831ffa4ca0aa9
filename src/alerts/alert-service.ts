import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { DATABASE_NOW, escalateOverdue, getAlert, getTransition, lastTransitionSeq, listAlerts, lockAlertTransitions, NOT_PUBLISHED, openAlert, openAlertOf, recordTransition, setTransitionOutcome, transitionsAfter, updateAlert, type AlertRow, type NewTransition, type TransitionRow } from '../db/alerts.js';
import { isRetired } from '../db/sources.js';
import { formatDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import type { StoredOutputs } from '../live/output-feed.js';
import type { StreamPublisher } from '../live/publisher.js';
import type { Logger } from '../log.js';
import { SEVERITIES, type AlertTransition } from '../processors/alert-rules.js';

export const ALERTS_CHANNEL = 'alerts';

/** What alert subscribers receive: one transition and the alert as it stands after it. */
export interface AlertEvent {
  transitionId: string;
  seq: string;
  kind: string;
  at: number;
  actor: string | null;
  /** What happened, in words: the transition's message in the alert's history. */
  message: string;
  alert: AlertView;
}

/** An alert as it crosses pub/sub: JSON-safe (times in epoch ms, seq as a string). */
export interface AlertView {
  id: string;
  ruleId: string;
  sourceId: string;
  metric: string | null;
  state: 'PENDING' | 'FIRING' | 'RESOLVED';
  severity: string;
  value: number | null;
  message: string;
  startedAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  acknowledgeNote: string | null;
  escalatedAt: number | null;
}

const ms = (d: Date | null) => (d ? d.getTime() : null);

export function toAlertView(row: AlertRow): AlertView {
  return {
    id: row.id,
    ruleId: row.ruleId,
    sourceId: row.sourceId,
    metric: row.metric,
    state: row.state,
    severity: row.severity,
    value: row.value,
    message: row.message,
    startedAt: row.startedAt.getTime(),
    firedAt: ms(row.firedAt),
    resolvedAt: ms(row.resolvedAt),
    acknowledgedBy: row.acknowledgedBy,
    acknowledgedAt: ms(row.acknowledgedAt),
    acknowledgeNote: row.acknowledgeNote,
    escalatedAt: ms(row.escalatedAt),
  };
}

const toEvent = (t: TransitionRow, alert: AlertView): AlertEvent => ({
  transitionId: t.id,
  seq: t.seq.toString(),
  kind: t.kind,
  at: t.at.getTime(),
  actor: t.actor,
  message: t.message,
  alert,
});

/** Records `t` with `alert`, the alert after it; the event to publish once committed, or undefined if `t` was stored already. */
async function recordPublished(tx: Db, t: NewTransition, alert: AlertRow): Promise<AlertEvent | undefined> {
  const view = toAlertView(alert);
  const recorded = await recordTransition(tx, { ...t, alert: view });
  return recorded && toEvent(recorded, view);
}

/** The alert events stored in `db`, by seq, for the alerts feed (live/output-feed.ts): what alert subscribers are sent. */
export function storedAlertEvents(db: Db): StoredOutputs<AlertEvent> {
  return {
    cursorOf: (event) => BigInt(event.seq),
    read: async (after, upTo, limit, tenantId) => {
      const found = await transitionsAfter(db, after, upTo, limit, tenantId);
      // A transition a node of an earlier version stored (no snapshot) goes out with the alert as it stands now.
      return found.flatMap((t) => (t.alert !== null ? [toEvent(t, t.alert as AlertView)] : t.current ? [toEvent(t, toAlertView(t.current))] : []));
    },
    last: () => lastTransitionSeq(db),
  };
}

/**
 * The alert lifecycle in the database: every transition is stored once (its
 * id is deterministic, so a replayed one is recognised and not published
 * again), the alert row follows it, and only stored transitions are published.
 */
const RETIRED_SOURCE = 'resolved: the source was retired';

/** An alert's source is retired (for an update of `alerts`). */
const STILL_RETIRED = sql`exists (select 1 from sources where sources.id = alerts.source_id and sources.retired_at is not null)`;

/** An alert after a transition, and why the transition cleared its acknowledgement (absent: it did not). */
interface Applied {
  alert: AlertRow;
  cleared?: string;
}

/** A cleared acknowledgement; escalation counts from the clearing, not from the firing long before it. */
const NO_ACKNOWLEDGEMENT = { acknowledgedBy: null, acknowledgedAt: null, acknowledgeNote: null, acknowledgedSeverity: null, unacknowledgedSince: DATABASE_NOW };

const rank = (severity: string) => SEVERITIES.indexOf(severity as never);

/**
 * The severity a new evaluation of an open alert sets: `computed`, but never below the level escalation raised it to
 * (nobody acknowledged it in time), so a patient who got worse does not see it drop back to what the score alone
 * says. Only that level: one the score reached since (CRITICAL at NEWS2 7) goes when the score falls.
 */
function reassessedSeverity(alert: AlertRow, computed: string): string {
  // Null on an alert escalated by a node of an earlier version, which kept no level: its severity, as that version did.
  const escalated = alert.escalatedSeverity ?? (alert.escalatedAt !== null ? alert.severity : null);
  return escalated !== null && rank(escalated) > rank(computed) ? escalated : computed;
}

/**
 * Why `alert`'s acknowledgement no longer covers it once a new evaluation (`kind`) sets `severity`, or null if it
 * still does (or there is none). An acknowledgement covers the alert as it was when acknowledged: not a pending alert
 * once it fires, nor a severity above the one it was made at (as clinical alarm systems do), so the alert shows as
 * unacknowledged and escalates again. Escalation never clears one: it raises only alerts nobody acknowledged.
 */
function lapsedAcknowledgement(alert: AlertRow, kind: AlertTransition['kind'], severity: string): string | null {
  if (alert.acknowledgedAt === null) return null;
  const cleared = `acknowledgement by ${alert.acknowledgedBy} cleared`;
  if (kind === 'FIRING' && alert.state === 'PENDING') return `${cleared}: it was made while the alert was pending`;
  // Null: made by a node of an earlier version, at the severity the alert has unless an evaluation raised it since.
  const covered = alert.acknowledgedSeverity ?? alert.severity;
  return rank(severity) > rank(covered) ? `${cleared}: severity rose to ${severity}, above the ${covered} it was made at` : null;
}

export class AlertService {
  constructor(
    private readonly db: Db,
    private readonly publisher: StreamPublisher,
    private readonly log: Logger,
  ) {}

  /** The processor sink: inside the runtime's transaction; returns what to publish after commit. */
  async persistTransitions(tx: Db, transitions: readonly AlertTransition[], options?: { retry?: boolean }): Promise<AlertEvent[]> {
    const events: AlertEvent[] = [];
    if (transitions.length > 0) await lockAlertTransitions(tx);
    for (const t of transitions) {
      const recorded = await recordTransition(tx, {
        id: t.id,
        alertId: t.alertId,
        kind: t.kind,
        severity: t.severity,
        eventTime: new Date(t.time),
        value: t.value,
        message: t.message,
        // Until it is known to be published (below).
        alert: NOT_PUBLISHED,
      });
      if (!recorded) {
        // A retry after a try whose commit went unanswered: what that try stored was never published.
        if (options?.retry) {
          const stored = await getTransition(tx, t.id);
          if (stored?.alert) events.push(toEvent(stored, stored.alert as AlertView));
        }
        continue;
      }
      // Judged before this node learnt of the patient's discharge (stays reach the processors over pub/sub): no alert
      // opens for a retired source, as none opens in fire(), and none is left open by resolveRetired.
      if ((t.kind === 'PENDING' || t.kind === 'FIRING') && (await isRetired(tx, t.sourceId))) {
        this.log.debug({ alertId: t.alertId, kind: t.kind }, 'alert transition for a retired source (a discharged patient); recorded only');
        continue;
      }
      const applied = await this.applyTransition(tx, t, events);
      if (applied) {
        const { alert, cleared } = applied;
        // An escalated alert kept a higher severity than the evaluation's (reassess): the transition says so too.
        if (alert.severity !== recorded.severity && (t.kind === 'UPDATED' || t.kind === 'FIRING')) recorded.severity = alert.severity;
        // And it names an acknowledgement the evaluation cleared, and why: the alert no longer shows whose it was.
        if (cleared) recorded.message = `${recorded.message}; ${cleared}`;
        const view = toAlertView(alert);
        await setTransitionOutcome(tx, recorded.id, { severity: recorded.severity, message: recorded.message, alert: view });
        events.push(toEvent(recorded, view));
        continue;
      }
      if ((await getAlert(tx, t.alertId))?.state === 'RESOLVED') {
        // Resolved outside the processor (its patient discharged), which closes its episode at the next reading.
        this.log.debug({ alertId: t.alertId, kind: t.kind }, 'alert transition for an alert already resolved; recorded only');
      } else this.log.warn({ alertId: t.alertId, kind: t.kind }, 'alert transition without an open alert (another episode of the rule is open); recorded only');
    }
    return events;
  }

  /**
   * Applies `t` to its alert; returns the alert after it (undefined: none changed) and the acknowledgement it cleared,
   * if any. Adds a superseded orphan's event to `events`.
   */
  private async applyTransition(tx: Db, t: AlertTransition, events: AlertEvent[]): Promise<Applied | undefined> {
    const base = { id: t.alertId, ruleId: t.ruleId, sourceId: t.sourceId, metric: t.metric, severity: t.severity, value: t.value, message: t.message, startedAt: new Date(t.startedAt) };
    const applied = (alert: AlertRow | undefined) => alert && { alert };
    switch (t.kind) {
      case 'PENDING':
        return applied((await openAlert(tx, { ...base, state: 'PENDING' })) ?? (await this.supersede(tx, t, events)) ?? (await openAlert(tx, { ...base, state: 'PENDING' })));
      case 'FIRING':
        return (
          applied(await openAlert(tx, { ...base, state: 'FIRING', firedAt: DATABASE_NOW })) ??
          (await this.reassess(tx, t, { state: 'FIRING', firedAt: DATABASE_NOW })) ??
          applied((await this.supersede(tx, t, events)) ?? (await openAlert(tx, { ...base, state: 'FIRING', firedAt: DATABASE_NOW })))
        );
      case 'UPDATED':
        return this.reassess(tx, t, {});
      case 'RESOLVED':
        return applied(await updateAlert(tx, t.alertId, { state: 'RESOLVED', resolvedAt: DATABASE_NOW, value: t.value, message: t.message }, sql`state <> 'RESOLVED'`));
    }
  }

  /**
   * A new evaluation of an open alert (its firing, or a change while firing; `set`: what else changes with it). Read
   * first, under lockAlertTransitions, to tell whether its acknowledgement still covers it.
   */
  private async reassess(tx: Db, t: AlertTransition, set: Partial<AlertRow>): Promise<Applied | undefined> {
    const current = await getAlert(tx, t.alertId);
    if (!current || current.state === 'RESOLVED') return undefined;
    const severity = reassessedSeverity(current, t.severity);
    const cleared = lapsedAcknowledgement(current, t.kind, severity);
    const alert = await updateAlert(tx, t.alertId, { ...set, severity, value: t.value, message: t.message, ...(cleared ? NO_ACKNOWLEDGEMENT : {}) }, sql`state <> 'RESOLVED'`);
    return alert && { alert, cleared: cleared ?? undefined };
  }

  /**
   * Another episode of this rule and series is still open although the processor has none: the processor
   * replayed with different rules after a restart. Resolve that orphan so the new episode can open; never
   * swallow a live alert. Returns undefined so the caller opens the new one.
   */
  private async supersede(tx: Db, t: AlertTransition, events: AlertEvent[]): Promise<undefined> {
    const orphan = await openAlertOf(tx, t.ruleId, t.sourceId, t.metric);
    if (!orphan || orphan.id === t.alertId) return undefined;
    const message = `superseded by a new episode of the same rule (${t.alertId})`;
    const resolved = await updateAlert(tx, orphan.id, { state: 'RESOLVED', resolvedAt: DATABASE_NOW, message }, sql`state <> 'RESOLVED'`);
    const transition = { id: `${orphan.id}/RESOLVED/superseded`, alertId: orphan.id, kind: 'RESOLVED', severity: orphan.severity, eventTime: new Date(t.time), value: orphan.value, message };
    if (resolved) {
      // Its subscribers saw it fire: they see it resolve.
      const event = await recordPublished(tx, transition, resolved);
      if (event) events.push(event);
    } else await recordTransition(tx, { ...transition, alert: NOT_PUBLISHED });
    this.log.warn({ orphan: orphan.id, alertId: t.alertId }, 'an open alert without processor state was resolved to make way for a new episode');
    return undefined;
  }

  /**
   * Tells every node's alerts feed there is something new. Repaired if lost: the feeds read transitions from the
   * database (poll), so a failed publish needs no MISSED_NOTICE. The message carries the events whole, as nodes
   * before migration 0016 read them.
   */
  publish(events: readonly AlertEvent[]): void {
    if (events.length > 0) this.publisher.publish(ALERTS_CHANNEL, JSON.stringify(events), undefined, { repaired: true });
  }

  /** Who, when and why; an open alert only. Stored and published as an ACKNOWLEDGED transition. */
  async acknowledge(id: string, by: string, note: string | null): Promise<AlertRow> {
    const events: AlertEvent[] = [];
    const row = await this.db.transaction(async (tx) => {
      await lockAlertTransitions(tx as unknown as Db);
      const current = await getAlert(tx as unknown as Db, id);
      if (!current) throw new ValidationError(`no alert with id ${JSON.stringify(id)}`, { argument: 'id' }, 'NOT_FOUND');
      if (current.state === 'RESOLVED') throw new ValidationError(`alert ${id} is already resolved`, { argument: 'id' }, 'ALERT_RESOLVED');
      // It covers the alert at the severity it has now (lapsedAcknowledgement).
      const updated = await updateAlert(tx as unknown as Db, id, { acknowledgedBy: by, acknowledgedAt: DATABASE_NOW, acknowledgeNote: note, acknowledgedSeverity: current.severity }, sql`state <> 'RESOLVED'`);
      if (!updated) throw new ValidationError(`alert ${id} is already resolved`, { argument: 'id' }, 'ALERT_RESOLVED');
      const event = await recordPublished(tx as unknown as Db, {
        // Unique per acknowledgement: a second one sent at once waits for the first's commit and may read the same
        // millisecond; a clashing id stored nothing, and the missing transition failed it with an internal error.
        id: `${id}/ACKNOWLEDGED/${Date.now()}/${randomUUID().slice(0, 8)}`,
        alertId: id,
        kind: 'ACKNOWLEDGED',
        severity: updated.severity,
        eventTime: null,
        value: updated.value,
        message: note ? `acknowledged by ${by}: ${note}` : `acknowledged by ${by}`,
        actor: by,
      }, updated);
      events.push(event!);
      return updated;
    });
    this.publish(events);
    return row;
  }

  /** Raises firing alerts nobody acknowledged within `afterMs` by one severity level, once per period. */
  async escalate(afterMs: number): Promise<number> {
    const events: AlertEvent[] = [];
    // The severity change and its transition commit together, or neither does.
    const escalated = await this.db.transaction(async (trx) => {
      const tx = trx as unknown as Db;
      await lockAlertTransitions(tx);
      const rows = await escalateOverdue(tx, afterMs);
      for (const alert of rows) {
        const event = await recordPublished(tx, {
          id: `${alert.id}/ESCALATED/${alert.escalatedAt!.getTime()}`,
          alertId: alert.id,
          kind: 'ESCALATED',
          severity: alert.severity,
          eventTime: null,
          value: alert.value,
          message: `not acknowledged within ${formatDuration(afterMs)}: severity raised to ${alert.severity}`,
        }, alert);
        if (event) events.push(event);
      }
      return rows;
    });
    if (events.length) this.log.warn({ alerts: escalated.map((a) => a.id) }, 'unacknowledged alerts escalated');
    this.publish(events);
    return events.length;
  }

  /**
   * Opens a FIRING alert unless the rule already has one open for the series (any node may try). Answers 'opened',
   * 'open' (already, on this node or another), 'retired' (the source is: nothing opened) or 'stale': an alert with
   * this id exists and is resolved (an earlier episode that started at the same moment), so the caller must count
   * the silence from a later time.
   */
  async fire(alert: { ruleId: string; sourceId: string; metric: string | null; severity: string; value: number | null; message: string; startedAt: Date }): Promise<'opened' | 'open' | 'retired' | 'stale'> {
    const id = `${alert.ruleId}/${alert.sourceId}/${alert.metric ?? '*'}/${alert.startedAt.getTime()}`;
    const events: AlertEvent[] = [];
    let outcome: 'opened' | 'open' | 'retired' | 'stale' = 'open';
    await this.db.transaction(async (tx) => {
      await lockAlertTransitions(tx as unknown as Db);
      if (await isRetired(tx as unknown as Db, alert.sourceId)) {
        outcome = 'retired';
        return;
      }
      const opened = await openAlert(tx as unknown as Db, { ...alert, id, state: 'FIRING', firedAt: DATABASE_NOW });
      if (!opened) {
        if (!(await openAlertOf(tx as unknown as Db, alert.ruleId, alert.sourceId, alert.metric))) outcome = 'stale';
        return;
      }
      outcome = 'opened';
      const event = await recordPublished(tx as unknown as Db, { id: `${id}/FIRING/${alert.startedAt.getTime()}`, alertId: id, kind: 'FIRING', severity: alert.severity, eventTime: alert.startedAt, value: alert.value, message: alert.message }, opened);
      events.push(event!);
    });
    this.publish(events);
    return outcome;
  }

  /**
   * Resolves every open alert of `tenantId`'s `sourceIds`, whose sources were retired (a patient discharged):
   * signal loss would never clear, since a retired source is expected to send nothing, and the others are about
   * a patient no longer on the ward. The alerts processor closes its episodes of them at the patient's next
   * reading, or at a readmission (alert-rules.ts). Returns how many.
   */
  async resolveRetired(tenantId: string, sourceIds: readonly string[], message = RETIRED_SOURCE): Promise<number> {
    if (sourceIds.length === 0) return 0;
    let resolved = 0;
    for (let before: bigint | null = null; ; ) {
      const open = await listAlerts(this.db, { tenantId, states: ['PENDING', 'FIRING'], sourceIds, before, limit: 500 });
      // Only while the source is still retired: registered again meanwhile, what is open now is of the new stay.
      for (const alert of open) if (await this.resolve(alert, message, null, STILL_RETIRED)) resolved++;
      if (open.length < 500) return resolved;
      before = open.at(-1)!.seq;
    }
  }

  /** Resolves `alert` if it is open and its source retired: one whose retirement's resolving was cut short (a node died). */
  resolveIfRetired(alert: AlertRow): Promise<boolean> {
    return this.resolve(alert, RETIRED_SOURCE, null, STILL_RETIRED);
  }

  /**
   * Resolves the open alert of a rule and series, if there is one (and `onlyIf` holds for it). `value`, when given,
   * is the one its message names (a signal loss's whole silence); otherwise it keeps its latest.
   */
  async resolve(alert: AlertRow, message: string, eventTime: Date | null, onlyIf?: SQL, value?: number): Promise<boolean> {
    const events: AlertEvent[] = [];
    await this.db.transaction(async (tx) => {
      await lockAlertTransitions(tx as unknown as Db);
      const set = { state: 'RESOLVED' as const, resolvedAt: DATABASE_NOW, message, ...(value === undefined ? {} : { value }) };
      const resolved = await updateAlert(tx as unknown as Db, alert.id, set, onlyIf ? sql`state <> 'RESOLVED' and ${onlyIf}` : sql`state <> 'RESOLVED'`);
      if (!resolved) return;
      const event = await recordPublished(tx as unknown as Db, { id: `${alert.id}/RESOLVED`, alertId: alert.id, kind: 'RESOLVED', severity: resolved.severity, eventTime, value: resolved.value, message }, resolved);
      if (event) events.push(event);
    });
    this.publish(events);
    return events.length > 0;
  }
}
