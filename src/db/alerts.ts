import { and, asc, count, desc, eq, getTableColumns, lt, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { textArrayLiteral } from './array-literals.js';
import type { StoredRule } from '../alerts/rule-params.js';
import { ownedBy } from './sources.js';
import { rows, type Db } from './client.js';
import { alertRules, alerts, alertTransitions, sources, type AlertState } from './schema.js';
import { lockUntilCommit } from './advisory-lock.js';
import { lastSeq, ownStoredAfter, seqRange, storedAfter, type SeqOrdered } from './seq-order.js';

export type AlertRow = typeof alerts.$inferSelect;
/** A transition as its history lists it (without the alert's snapshot, which only a resuming subscription reads). */
export type TransitionRow = Omit<typeof alertTransitions.$inferSelect, 'alert'>;
/**
 * A published transition with the alert as it stood after it (`alert`: an AlertView, alerts/alert-service.ts), or,
 * stored by a node of an earlier version (no snapshot), with the alert as it stands (`current`).
 */
export type PublishedTransitionRow = TransitionRow & { alert: unknown; current: AlertRow | null };
/** A transition's `alert` when it is not to be sent to subscribers: recorded only, or stored before migration 0016. */
export const NOT_PUBLISHED = sql`'null'::jsonb`;
const { alert: _snapshot, ...TRANSITION_COLUMNS } = getTableColumns(alertTransitions);

// ---- rules

/** Rules of one tenant, or of every tenant (`tenantId` omitted: the registry that runs them all), disabled ones too. */
export async function listRules(db: Db, options: { tenantId?: string } = {}): Promise<(StoredRule & { createdAt: Date; updatedAt: Date })[]> {
  const found = await db
    .select()
    .from(alertRules)
    .where(options.tenantId ? eq(alertRules.tenantId, options.tenantId) : undefined)
    .orderBy(asc(alertRules.createdAt), asc(alertRules.id));
  return found as never;
}

/** Inserts a rule unless its tenant has `max` already (then undefined). A tenant's inserts take turns, so none overshoots. */
export async function insertRule(db: Db, rule: StoredRule, max: number) {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`alert_rules:${rule.tenantId}`}))`);
    const [held] = await tx.select({ rules: count() }).from(alertRules).where(eq(alertRules.tenantId, rule.tenantId));
    if (held!.rules >= max) return undefined;
    const [row] = await tx.insert(alertRules).values(rule).returning();
    return row!;
  });
}

export async function updateRule(db: Db, id: string, tenantId: string, changes: Partial<Omit<StoredRule, 'id' | 'tenantId'>>) {
  const [row] = await db
    .update(alertRules)
    .set({ ...changes, updatedAt: sql`now()` as never })
    .where(and(eq(alertRules.id, id), eq(alertRules.tenantId, tenantId)))
    .returning();
  return row;
}

export async function deleteRule(db: Db, id: string, tenantId: string) {
  const [row] = await db.delete(alertRules).where(and(eq(alertRules.id, id), eq(alertRules.tenantId, tenantId))).returning();
  return row;
}

/**
 * Which of `ids` name a rule of the tenant, or a rule (since deleted) whose alerts about the tenant's sources are
 * stored: an alert filter naming anything else matches nothing, ever.
 */
export async function knownRuleIds(db: Db, tenantId: string, ids: readonly string[]): Promise<Set<string>> {
  const rules = await db
    .select({ id: alertRules.id })
    .from(alertRules)
    .where(and(eq(alertRules.tenantId, tenantId), sql`${alertRules.id} = any(${sql.param([...ids])}::text[])`));
  const known = new Set(rules.map((r) => r.id));
  const others = ids.filter((id) => !known.has(id));
  if (others.length === 0) return known;
  // Deleted rules: one probe of alerts_rule each, not a scan of every alert.
  const left = await rows<{ id: string }>(db, sql`
    select r.id from unnest(${sql.param(others)}::text[]) as r(id)
    where exists (select 1 from ${alerts} where ${alerts.ruleId} = r.id and ${ownedBy(alerts.sourceId, tenantId)})`);
  for (const { id } of left) known.add(id);
  return known;
}

// ---- alerts and their transitions

export interface NewTransition {
  id: string;
  alertId: string;
  kind: string;
  severity: string;
  eventTime: Date | null;
  value: number | null;
  message: string;
  actor?: string | null;
}

/**
 * Takes the right to store alert transitions until the transaction ends; every transaction that records one takes
 * it first, before it touches an alert (so two never wait on each other's alert rows). A transition's seq is drawn
 * while it is held, so transitions commit in seq order, and a subscription that resumes after a seq misses none
 * that commit later (transitionsAfter).
 */
export async function lockAlertTransitions(tx: Db): Promise<void> {
  await lockUntilCommit(tx, 'alert-transitions');
}

/**
 * Records a transition once (undefined when its id is already stored: a replay). `alert`: the alert after it, as
 * published, or NOT_PUBLISHED (also while not known yet: setTransitionOutcome sets it). Under lockAlertTransitions.
 */
export async function recordTransition(tx: Db, t: NewTransition & { alert: unknown }): Promise<TransitionRow | undefined> {
  const [row] = await tx.insert(alertTransitions).values(t).onConflictDoNothing().returning(TRANSITION_COLUMNS);
  return row;
}

export async function getTransition(tx: Db, id: string): Promise<typeof alertTransitions.$inferSelect | undefined> {
  const [row] = await tx.select().from(alertTransitions).where(eq(alertTransitions.id, id));
  return row;
}

/** The severity a transition ended with, its message, and the alert after it (as published, or NOT_PUBLISHED). */
export async function setTransitionOutcome(tx: Db, id: string, outcome: { severity: string; message: string; alert: unknown }): Promise<void> {
  await tx.update(alertTransitions).set(outcome).where(eq(alertTransitions.id, id));
}

/** A published transition after `after` (up to `upTo`, unless null): what a replay sends, and where it begins. */
const PUBLISHED = sql`${alertTransitions.alert} is distinct from ${NOT_PUBLISHED}`;
const publishedBetween = (after: bigint, upTo: bigint | null) => and(seqRange(alertTransitions.seq, after, upTo), PUBLISHED);

/** The alert as it stands, joined only for a transition without a snapshot (a node of an earlier version stored it). */
const ALERT_WITHOUT_SNAPSHOT = and(sql`${alertTransitions.alert} is null`, eq(alerts.id, alertTransitions.alertId));

/** A field of the alert after the transition: its snapshot's, or the alert's as it stands for one without. */
const afterTransition = (key: string, column: AnyColumn) => sql`coalesce(${alertTransitions.alert} ->> ${key}, ${column})`;

/**
 * Published transitions with after < seq (<= upTo, unless null), in seq order (commit order: lockAlertTransitions),
 * at most `limit`; with `tenantId`, only those about its sources (a replay reads no other tenant's).
 */
export async function transitionsAfter(db: Db, after: bigint, upTo: bigint | null, limit: number, tenantId?: string): Promise<PublishedTransitionRow[]> {
  const found = await db
    .select({ transition: alertTransitions, current: alerts })
    .from(alertTransitions)
    .leftJoin(alerts, ALERT_WITHOUT_SNAPSHOT)
    .where(and(publishedBetween(after, upTo), tenantId === undefined ? undefined : ownedBy(afterTransition('sourceId', alerts.sourceId), tenantId)))
    .orderBy(asc(alertTransitions.seq))
    .limit(limit);
  return found.map(({ transition, current }) => ({ ...transition, current }));
}

const TRANSITIONS: SeqOrdered = { table: alertTransitions, seq: alertTransitions.seq, storedAt: alertTransitions.at };

/** When the first transition after `seq` was stored, whoever's; null if none. */
export const anyTransitionStoredAfter = (db: Db, seq: bigint): Promise<Date | null> => storedAfter(db, TRANSITIONS, seq);

/** What an alerts subscription takes: its tenant's alerts, and of those, the filters given (on the alert after a transition). */
export interface TransitionMatch {
  tenantId: string;
  sourceIds?: ReadonlySet<string>;
  ruleIds?: ReadonlySet<string>;
  severities?: ReadonlySet<string>;
  states?: ReadonlySet<string>;
}

/**
 * When the first transition after `seq` that a subscription with `match` replays was stored (transitionsAfter and
 * the subscription's filters, on the alert as published); null if none.
 */
export async function transitionStoredAfter(db: Db, seq: bigint, match: TransitionMatch, scanRows?: number): Promise<Date | null> {
  const among = (key: string, column: AnyColumn, values: ReadonlySet<string> | undefined) =>
    values ? sql`${afterTransition(key, column)} = any(${sql.param([...values])}::text[])` : undefined;
  return ownStoredAfter(
    db,
    {
      from: sql`${alertTransitions} left join ${alerts} on ${ALERT_WITHOUT_SNAPSHOT}`,
      seq: sql`${alertTransitions.seq}`,
      storedAt: sql`${alertTransitions.at}`,
      where: PUBLISHED,
      own: and(
        ownedBy(afterTransition('sourceId', alerts.sourceId), match.tenantId),
        among('sourceId', alerts.sourceId, match.sourceIds),
        among('ruleId', alerts.ruleId, match.ruleIds),
        among('severity', alerts.severity, match.severities),
        among('state', alerts.state, match.states),
      )!,
    },
    seq,
    scanRows,
  );
}

/** The seq of the last transition stored (0 if none). */
export const lastTransitionSeq = (db: Db): Promise<bigint> => lastSeq(db, TRANSITIONS);

/**
 * Opens an alert unless this one exists, or another episode of the same rule
 * and series is still open (the partial unique index). Returns it when opened.
 */
/**
 * The database's clock, for the times an alert is fired, acknowledged and resolved: escalation compares them with
 * the database's now(), so a node whose clock is minutes behind escalated every alert it fired at once.
 */
export const DATABASE_NOW = sql`now()` as unknown as Date;

export async function openAlert(tx: Db, alert: typeof alerts.$inferInsert): Promise<AlertRow | undefined> {
  const [row] = await tx.insert(alerts).values(alert).onConflictDoNothing().returning();
  return row;
}

export async function updateAlert(tx: Db, id: string, set: Partial<typeof alerts.$inferInsert>, onlyIf?: SQL): Promise<AlertRow | undefined> {
  const [row] = await tx
    .update(alerts)
    .set({ ...set, updatedAt: sql`now()` as never })
    .where(and(eq(alerts.id, id), onlyIf))
    .returning();
  return row;
}

export async function getAlert(db: Db, id: string): Promise<AlertRow | undefined> {
  const [row] = await db.select().from(alerts).where(eq(alerts.id, id));
  return row;
}

/** Open alerts of one rule and series (at most one, by the partial unique index). */
export async function openAlertOf(db: Db, ruleId: string, sourceId: string, metric: string | null): Promise<AlertRow | undefined> {
  const [row] = await db
    .select()
    .from(alerts)
    .where(
      and(
        eq(alerts.ruleId, ruleId),
        eq(alerts.sourceId, sourceId),
        metric === null ? sql`${alerts.metric} is null` : eq(alerts.metric, metric),
        sql`${alerts.state} <> 'RESOLVED'`,
      ),
    );
  return row;
}

/**
 * Open signal-loss alerts (of one rule, or of all), whatever their rule is now: those the signal monitor fired
 * (AlertService.fire), known by their FIRING transition's id, the alert's id, /FIRING/ and its start in epoch ms (the
 * processors' carry a cursor after the time). Their rule may have been changed to another kind since.
 */
export async function openSignalLossAlerts(db: Db, ruleId?: string): Promise<AlertRow[]> {
  return db
    .select()
    .from(alerts)
    .where(
      and(
        sql`${alerts.state} <> 'RESOLVED'`,
        ruleId === undefined ? undefined : eq(alerts.ruleId, ruleId),
        sql`exists (select 1 from ${alertTransitions} where ${alertTransitions.alertId} = ${alerts.id}
          and ${alertTransitions.id} = ${alerts.id} || '/FIRING/' || (extract(epoch from ${alerts.startedAt}) * 1000)::bigint)`,
      ),
    );
}

const NEXT_SEVERITY = sql`case severity when 'LOW' then 'MEDIUM' when 'MEDIUM' then 'HIGH' else 'CRITICAL' end`;

/**
 * Raises one level every firing, unacknowledged alert whose last firing, escalation or cleared acknowledgement is older than `afterMs`, but
 * not a retired source's (a patient discharged: nobody is at that bedside to page), nor one whose rule is disabled or
 * deleted (someone turned the rule off: its alert waits, open, for its series' next reading). Atomic per row.
 */
export async function escalateOverdue(db: Db, afterMs: number): Promise<AlertRow[]> {
  return db
    .update(alerts)
    .set({ severity: NEXT_SEVERITY as never, escalatedAt: sql`now()` as never, escalatedSeverity: NEXT_SEVERITY as never, updatedAt: sql`now()` as never })
    .where(
      and(
        eq(alerts.state, 'FIRING'),
        sql`${alerts.acknowledgedAt} is null`,
        sql`${alerts.severity} <> 'CRITICAL'`,
        // Counted from its firing, its last escalation, or a rise that cleared its acknowledgement: each level gets its own period.
        sql`greatest(coalesce(${alerts.escalatedAt}, ${alerts.firedAt}), ${alerts.unacknowledgedSince}) < now() - ${afterMs} * interval '1 millisecond'`,
        sql`not exists (select 1 from ${sources} where ${sources.id} = ${alerts.sourceId} and ${sources.retiredAt} is not null)`,
        sql`exists (select 1 from ${alertRules} where ${alertRules.id} = ${alerts.ruleId} and ${alertRules.enabled})`,
      ),
    )
    .returning();
}

export interface AlertFilter {
  /** Only alerts on this tenant's sources; null for the platform's own bookkeeping (every tenant). */
  tenantId: string | null;
  states?: readonly AlertState[] | null;
  severities?: readonly string[] | null;
  sourceIds?: readonly string[] | null;
  ruleIds?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
  /** seq of the last alert of the previous page (newest first). */
  before?: bigint | null;
  limit: number;
}

const anyOf = (column: SQL | typeof alerts.state, values: readonly string[] | null | undefined) =>
  values?.length ? sql`${column} = any(${sql.param([...values])}::text[])` : undefined;

/** Alerts newest first (by when they were opened), filtered; keyset-paged on seq. */
export async function listAlerts(db: Db, f: AlertFilter): Promise<AlertRow[]> {
  return db
    .select()
    .from(alerts)
    .where(
      and(
        f.tenantId === null ? undefined : ownedBy(alerts.sourceId, f.tenantId),
        anyOf(sql`${alerts.state}`, f.states),
        anyOf(sql`${alerts.severity}`, f.severities),
        anyOf(sql`${alerts.sourceId}`, f.sourceIds),
        anyOf(sql`${alerts.ruleId}`, f.ruleIds),
        f.from ? sql`${alerts.startedAt} >= ${f.from.toISOString()}::timestamptz` : undefined,
        f.to ? sql`${alerts.startedAt} < ${f.to.toISOString()}::timestamptz` : undefined,
        f.before != null ? lt(alerts.seq, f.before) : undefined,
      ),
    )
    .orderBy(desc(alerts.seq))
    .limit(f.limit);
}

/** The transitions of each of `alertIds`, oldest first, in one query: a page of alerts asking for their histories. */
export async function listTransitionsOf(db: Db, alertIds: readonly string[]): Promise<Map<string, TransitionRow[]>> {
  const byAlert = new Map<string, TransitionRow[]>(alertIds.map((id) => [id, []]));
  if (alertIds.length === 0) return byAlert;
  const rows = await db
    .select(TRANSITION_COLUMNS)
    .from(alertTransitions)
    .where(sql`${alertTransitions.alertId} = any(${textArrayLiteral([...new Set(alertIds)])}::text[])`)
    .orderBy(asc(alertTransitions.alertId), asc(alertTransitions.seq));
  for (const row of rows) byAlert.get(row.alertId)!.push(row);
  return byAlert;
}
