import type { Db } from '../db/client.js';
import { openAlertOf, openSignalLossAlerts, type AlertRow } from '../db/alerts.js';
import type { Reading } from '../db/readings.js';
import { lastArrivals, sourcesWithReadings } from '../db/sources.js';
import { metricNames } from '../ingest/metrics.js';
import { formatDuration } from '../duration.js';
import type { StreamTail } from '../live/stream-tail.js';
import { reasonOf, type Logger } from '../log.js';
import type { AlertService } from './alert-service.js';
import type { StoredRule } from './rule-params.js';
import type { RuleRegistry } from './rule-registry.js';

/** What this node knows of one series' arrivals, in wall-clock ms. */
interface Arrivals {
  /** Its last GOOD reading's (or where its silence was last made to count from: silentFrom); 0 when none is known. */
  good: number;
  /** When this node first heard of it, from a reading of any quality; 0 when known from the database at start. */
  heard: number;
}

interface SeenSource {
  tenantId: string;
  /** Of its readings of any metric. */
  any: Arrivals;
  /** Each metric it has sent (since this node started, or stored before): the series tenant-wide rules watch. */
  metrics: Map<string, Arrivals>;
}

interface SilentSeries {
  ruleId: string;
  sourceId: string;
  metric: string | null;
  /** The reading that ended the silence, while its resolve is in flight or waiting for a retry. */
  restoring?: Reading;
  /** Wall-clock ms when its alert was last found open. */
  confirmedAt: number;
}

/**
 * Every how many checks a series known to be silent has its alert looked up again (30 s by default): one resolved by
 * other means (its source retired, on any node) must not stop the series from firing again once the source is back
 * in use.
 */
const RECONFIRM_SILENT_CHECKS = 30;
/** Every how many checks a retired source is looked at again by a rule naming it (10 s by default): it may be back. */
const RETIRED_RECHECK_CHECKS = 10;
/** How far apart this node's reading of the database's clock and the database's own may be (db/clock.ts). */
const STAY_CLOCK_MARGIN_MS = 1_000;

/**
 * Why `rule` as it stands (undefined: deleted) no longer watches the series of an open signal-loss alert, as the
 * message that resolves it; null while it does. Nothing but data coming back would resolve such an alert, so it
 * resolves at once. A disabled rule still watches: its alert resolves when data comes back, as a disabled rule's
 * alerts of other kinds do at their series' next reading.
 */
export function signalLossUnwatched(rule: StoredRule | undefined, alert: Pick<AlertRow, 'ruleId' | 'sourceId' | 'metric'>): string | null {
  if (rule === undefined) return `resolved: its rule ${alert.ruleId} was deleted`;
  if (rule.kind !== 'NO_DATA' || rule.params.metric !== alert.metric) return `resolved: its rule "${rule.name}" changed to another kind or metric`;
  if (rule.sourceIds !== null && !rule.sourceIds.includes(alert.sourceId)) return `resolved: its rule "${rule.name}" no longer applies to ${alert.sourceId}`;
  return null;
}

/**
 * Signal loss: NO_DATA rules fire when a source (or one of its metrics) has
 * sent no GOOD reading for longer than the rule's expected interval, and
 * resolve when one comes back. This is wall-clock time by nature (silence has
 * no event time), so it runs beside the processors, not inside them. Every
 * node may run it: opening and resolving are atomic in the database, so an
 * alert is raised once.
 */
export class SignalMonitor {
  /** Per source this node has seen: its tenant and the wall-clock ms of its last reading, of any metric and per metric. */
  private readonly seen = new Map<string, SeenSource>();
  /** Rule + series keys this node knows to be open, so arriving data resolves them. */
  private readonly silent = new Map<string, SilentSeries>();
  private readonly startedAt: number;
  /** Retired sources (a fire found them so) → wall-clock ms when to ask again. */
  private readonly retired = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private detach: (() => void) | undefined;
  private checking = false;

  /**
   * Wall-clock ms by the database's clock (db/clock.ts): the arrivals seeded at start were stamped by it, and alerts
   * store the times given here. On a node whose own clock was off, silences after a restart were off by as much.
   */
  private readonly now: () => number;

  constructor(
    private readonly options: { db: Db; tail: StreamTail<Reading>; registry: RuleRegistry; alerts: AlertService; log: Logger; checkIntervalMs: number; clock?: { now(): number } },
  ) {
    const { clock } = options;
    this.now = clock ? () => clock.now() : Date.now;
    this.startedAt = this.now();
  }

  async start(): Promise<void> {
    // Alerts left open by an earlier run resolve when their data comes back, disabled rules' too; those of a rule
    // since changed to another kind (or metric, or sources) or deleted, at the first check (dropUnwatched).
    for (const open of await openSignalLossAlerts(this.options.db)) {
      // Looked up again at spread times, not all at the same check.
      const confirmedAt = this.now() - Math.random() * RECONFIRM_SILENT_CHECKS * this.options.checkIntervalMs;
      this.silent.set(`${open.ruleId}|${open.sourceId}/${open.metric ?? '*'}`, { ruleId: open.ruleId, sourceId: open.sourceId, metric: open.metric, confirmedAt });
    }
    // A tenant-wide rule watches every source of its tenant that has ever sent data (its metric), not only those this
    // node has heard from since it started: a monitor that fell silent just before a restart must still raise signal
    // loss. Their silence counts from when their last GOOD reading arrived, as stored: from this start, a rolling
    // restart of every node put each silent monitor's alarm off by up to its expected interval (and dated its start
    // wrong).
    for (const { id, tenantId } of await sourcesWithReadings(this.options.db)) {
      if (!this.seen.has(id)) this.seen.set(id, { tenantId, any: { good: 0, heard: 0 }, metrics: new Map() });
    }
    for (const { sourceId, metric, arrivedAt } of await lastArrivals(this.options.db, metricNames())) {
      const source = this.seen.get(sourceId);
      if (!source || source.metrics.has(metric)) continue;
      source.metrics.set(metric, { good: arrivedAt ?? 0, heard: 0 });
      source.any.good = Math.max(source.any.good, arrivedAt ?? 0);
    }
    this.detach = this.options.tail.addListener((readings) => this.onReadings(readings));
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.detach?.();
  }

  // Runs for every committed batch: no per-reading strings, one source lookup per run of a source's readings.
  private onReadings(readings: Reading[]) {
    const now = this.now();
    let sourceId: string | undefined;
    let source: SeenSource | undefined;
    for (const r of readings) {
      if (r.sourceId !== sourceId) {
        sourceId = r.sourceId;
        source = this.seen.get(sourceId);
        if (!source) {
          this.seen.set(sourceId, (source = { tenantId: r.tenantId, any: { good: 0, heard: now }, metrics: new Map() }));
          this.retired.delete(sourceId);
        }
        source.tenantId = r.tenantId;
      }
      let metric = source!.metrics.get(r.metric);
      if (!metric) source!.metrics.set(r.metric, (metric = { good: 0, heard: now }));
      // Only a GOOD reading is signal, as everywhere else in alerting: a monitor sending nothing but BAD ones (a probe
      // off the finger, a lead loose) has lost it.
      if (r.quality === 'GOOD') metric.good = source!.any.good = now;
    }
    for (const [key, entry] of this.silent) {
      const back = readings.find((r) => r.quality === 'GOOD' && r.sourceId === entry.sourceId && (entry.metric === null || r.metric === entry.metric));
      if (!back || entry.restoring) continue;
      entry.restoring = back;
      // Forgotten only once resolved: a failure leaves it for the next check to retry.
      void this.restore(entry, back).then(
        () => this.silent.delete(key),
        (error: unknown) => this.options.log.warn({ err: reasonOf(error), key }, 'could not resolve a signal-loss alert; retrying at the next check'),
      );
    }
  }

  private arrivalsOf(sourceId: string, metric: string | null): Arrivals | undefined {
    const source = this.seen.get(sourceId);
    return metric === null ? source?.any : source?.metrics.get(metric);
  }

  private async restore(entry: SilentSeries, back: Reading) {
    const open = await openAlertOf(this.options.db, entry.ruleId, entry.sourceId, entry.metric);
    if (!open) return;
    // The alert's value is the silence in seconds: the whole of it now, as the message says, not the part before it fired.
    const silentMs = Math.max(1_000, Math.round((this.now() - open.startedAt.getTime()) / 1_000) * 1_000);
    const message = `signal restored: ${entry.metric ?? 'data'} from ${entry.sourceId} again after ${formatDuration(silentMs)}`;
    await this.options.alerts.resolve(open, message, back.time, undefined, silentMs / 1_000);
  }

  /** Counts the series' silence from `at`: its next episode starts there, with an alert id of its own. */
  private silentFrom(rule: StoredRule, sourceId: string, metric: string | null, at: number) {
    const source = this.seen.get(sourceId) ?? { tenantId: rule.tenantId, any: { good: 0, heard: at }, metrics: new Map<string, Arrivals>() };
    if (metric === null) source.any.good = at;
    else source.metrics.set(metric, { good: at, heard: source.metrics.get(metric)?.heard ?? at });
    this.seen.set(sourceId, source);
  }

  /**
   * Series a rule watches: its named sources, or every source of its tenant this node has seen that has sent the
   * rule's metric (any, for a rule on none): a ward-wide rule on spo2 must not call a heart-rate-only monitor silent.
   */
  private watched(rule: StoredRule & { updatedAt: Date }): { sourceId: string; metric: string | null }[] {
    const metric = rule.params.metric;
    const sources =
      rule.sourceIds ?? [...this.seen].filter(([, seen]) => seen.tenantId === rule.tenantId && (metric === null || seen.metrics.has(metric))).map(([id]) => id);
    return sources.map((sourceId) => ({ sourceId, metric }));
  }

  /**
   * Resolves the open alert of each silent series whose rule no longer watches it (edited to another kind, metric or
   * sources, or deleted), and forgets the series. updateAlertRule resolves them as it edits; this catches one fired
   * meanwhile with the rule as it was (on this node, or on one that had not reloaded the rules yet), and those left
   * open by an earlier run.
   */
  private async dropUnwatched() {
    for (const [key, entry] of this.silent) {
      if (entry.restoring) continue;
      const why = signalLossUnwatched(this.options.registry.ruleOf(entry.ruleId), entry);
      if (why === null) continue;
      const open = await openAlertOf(this.options.db, entry.ruleId, entry.sourceId, entry.metric);
      if (open) await this.options.alerts.resolve(open, why, null);
      this.silent.delete(key);
    }
  }

  /**
   * The source was discharged or readmitted since `at` (the registry's stays, announced by every node at once): what
   * this node knows of its series may be stale, so it looks now rather than at the next periodic look (30 s by
   * default), which had put a readmitted patient's signal-loss alarm off by as long. A second's margin for the clocks.
   */
  private stayChangedSince(sourceId: string, at: number): boolean {
    const stay = this.options.registry.stayOf(sourceId);
    return stay !== undefined && Math.max(stay.retiredAt ?? 0, stay.admittedAt ?? 0) > at - STAY_CLOCK_MARGIN_MS;
  }

  /** A source found retired is in use again (readmitted), as the registry's stays say. */
  private backInUse(sourceId: string): boolean {
    const stay = this.options.registry.stayOf(sourceId);
    return stay !== undefined && stay.retiredAt === null;
  }

  private async check() {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.dropUnwatched();
      const now = this.now();
      for (const rule of this.options.registry.noDataRules) {
        for (const { sourceId, metric } of this.watched(rule)) {
          const key = `${rule.id}|${sourceId}/${metric ?? '*'}`;
          const known = this.silent.get(key);
          if (known?.restoring) {
            // Data came back but the resolve failed: retry it.
            const back = known.restoring;
            await this.restore(known, back).then(() => this.silent.delete(key));
            continue;
          }
          if (known) {
            if (now - known.confirmedAt < RECONFIRM_SILENT_CHECKS * this.options.checkIntervalMs && !this.stayChangedSince(sourceId, known.confirmedAt)) continue;
            const open = await openAlertOf(this.options.db, rule.id, sourceId, metric);
            // Still open, unless its source was retired and the retirement did not get to resolve it (a node died).
            if (open && !(await this.options.alerts.resolveIfRetired(open))) {
              known.confirmedAt = now;
              continue;
            }
            // Resolved elsewhere (its source retired): watched as any other series from here on.
            this.silent.delete(key);
            this.silentFrom(rule, sourceId, metric, now);
            continue;
          }
          if ((this.retired.get(sourceId) ?? 0) > now && !this.backInUse(sourceId)) continue;
          // Silence counts from the last GOOD reading's arrival (heard by this node, or stored before it started). Without
          // one, a tenant-wide rule counts from when this node first heard of the series (a monitor plugged in sending
          // BAD readings), one naming the source from this node's start; never before the rule's last change.
          const arrivals = this.arrivalsOf(sourceId, metric);
          const last = Math.max(arrivals?.good || (rule.sourceIds === null ? arrivals?.heard : 0) || this.startedAt, rule.updatedAt.getTime());
          const expected = rule.params.expectedIntervalMs;
          if (now - last <= expected) continue;
          const fired = await this.options.alerts.fire({
            ruleId: rule.id,
            sourceId,
            metric,
            severity: rule.params.severity,
            value: Math.floor((now - last) / 1_000),
            message: `signal lost: no ${metric ?? 'data'} from ${sourceId} for ${formatDuration(Math.floor((now - last) / 1_000) * 1_000)} (expected every ${formatDuration(expected)})`,
            startedAt: new Date(last),
          });
          if (fired === 'retired') {
            // A discharged patient sends nothing, as expected: no longer watched by tenant-wide rules until it sends
            // again; a rule naming it asks again after a while.
            this.seen.delete(sourceId);
            this.retired.set(sourceId, now + RETIRED_RECHECK_CHECKS * this.options.checkIntervalMs);
            continue;
          }
          if (fired === 'stale') {
            // An earlier episode began at the same moment (the node's start, before the source was retired and
            // registered again) and is resolved: a new one counts from now.
            this.silentFrom(rule, sourceId, metric, now);
            continue;
          }
          // Remembered only once stored (or found already open on another node): a failed fire is retried next check.
          this.silent.set(key, { ruleId: rule.id, sourceId, metric, confirmedAt: now });
        }
      }
    } catch (error) {
      this.options.log.warn({ err: reasonOf(error) }, 'signal-loss check failed; retrying');
    } finally {
      this.checking = false;
    }
  }
}
