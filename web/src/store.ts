import { ApiError, forbidden, live, onReconnected, request, retryWait } from './api.js';
import { onNextFrame } from './schedule.js';
import {
  DashAlertRulesDocument,
  DashAlertsDocument,
  DashLiveAlertsDocument,
  DashLiveNews2Document,
  DashLiveReadingsDocument,
  DashNews2ScoresDocument,
  DashPatientIdsDocument,
  DashRecentReadingsDocument,
  DashSourceNamesDocument,
  DashSourcesDocument,
  type DashAlertFragment,
  type DashLiveAlertsSubscription,
  type DashNews2Fragment,
  type DashReadingFragment,
  type DashRecentReadingsQuery,
  type SourceKind,
} from './generated/graphql.js';
import { SEVERITY_ORDER, TREND_METRIC } from './vitals.js';

/** Time-ordered samples of one series, the newest `capacity` kept. */
export class Series {
  readonly t: number[] = [];
  readonly v: number[] = [];
  constructor(readonly capacity = 600) {}

  add(t: number, v: number) {
    const n = this.t.length;
    if (n === 0 || t > this.t[n - 1]!) {
      this.t.push(t);
      this.v.push(v);
    } else {
      // Late or replayed: in place, once.
      let i = n - 1;
      while (i >= 0 && this.t[i]! > t) i--;
      if (i >= 0 && this.t[i] === t) return;
      this.t.splice(i + 1, 0, t);
      this.v.splice(i + 1, 0, v);
    }
    if (this.t.length > this.capacity + 64) {
      const drop = this.t.length - this.capacity;
      this.t.splice(0, drop);
      this.v.splice(0, drop);
    }
  }
}

export interface SourceState {
  id: string;
  name: string;
  kind: SourceKind | 'UNKNOWN';
  latest: Map<string, DashReadingFragment & { at: number }>;
  series: Map<string, Series>;
  news2: DashNews2Fragment | null;
  /** Open (pending or firing) alerts by id. */
  alerts: Map<string, DashAlertFragment>;
  /** Event time of the newest reading, ms. */
  lastTime: number;
}

export type AlertEvent = DashLiveAlertsSubscription['alerts'][number];
/** Hears each alert event once applied, with the alert as the page showed it before (undefined: it was not open). */
export type AlertEventListener = (event: AlertEvent, before: DashAlertFragment | undefined) => void;

type ChangeListener = (changed: ReadonlySet<string>, added: boolean) => void;

/** Page size of the dashboard's reads: the largest the API's connections here allow. */
const PAGE = 500;

interface Connection<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Reads a connection to its end, handing each page's nodes to `take` as it arrives. */
async function forEveryPage<T>(page: (after: string | null) => Promise<Connection<T>>, take: (nodes: T[]) => void): Promise<void> {
  for (let after: string | null = null; ; ) {
    const { edges, pageInfo }: Connection<T> = await page(after);
    take(edges.map((edge) => edge.node));
    if (!pageInfo.hasNextPage) return;
    after = pageInfo.endCursor;
  }
}

const OPEN_STATES = ['PENDING', 'FIRING'] as const;

/**
 * How far back the sparklines' metric is read on load, so a tile shows its trend at once instead of drawing it from
 * the live stream over the next minute; at most TREND_PAGES pages of 1,000 (a ward of ~300 beds at one reading a
 * second). The API returns the oldest first: a larger ward's tiles lack their last seconds until live ones arrive.
 */
const TREND_BACKFILL_MS = 60_000;
const TREND_PAGES = 20;

/** How often the patient list is read again, so a patient retired (discharged) leaves a wall left open for days. */
const RELIST_MS = 60_000;
/**
 * What the page knows of the tenant's patients: latest vitals, recent series,
 * NEWS2 and open alerts, kept current by three subscriptions. The readings
 * and alerts subscriptions start after the cursor (seq) their first read
 * names and resume after the last one applied, so neither the page's start
 * nor a reconnection (server restart included) loses or repeats anything: an
 * alert that fired meanwhile arrives as the event it was, and is announced.
 */
class Store {
  readonly sources = new Map<string, SourceState>();
  readonly openAlerts = new Map<string, DashAlertFragment>();
  /** Rule kinds by id, where the key may read rules (analyst). */
  readonly ruleKinds = new Map<string, string>();
  lastCursor: bigint | null = null;
  /** Cursors the readings subscription was started or resumed after, oldest first. */
  readonly resumes: string[] = [];
  /** The seq of the newest alert transition applied from the alerts subscription, or named by the first read. */
  lastAlertSeq: bigint | null = null;
  /** Seqs the alerts subscription was started or resumed after, oldest first. */
  readonly alertResumes: string[] = [];
  readingsApplied = 0;
  loaded = false;
  loadError: string | null = null;

  private started = false;
  private changed = new Set<string>();
  private added = false;
  private listeners = new Set<ChangeListener>();
  private alertListeners = new Set<AlertEventListener>();
  private alertsReadListeners = new Set<(alerts: DashAlertFragment[]) => void>();
  private unknown = new Set<string>();
  private unknownTimer: ReturnType<typeof setTimeout> | undefined;
  private rereadTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per open-alerts read in flight, the alert ids events changed meanwhile. */
  private alertReads = new Set<Set<string>>();
  private readingsSubscribed = false;
  private alertsSubscribed = false;
  private alertsStartedNow: () => void = () => undefined;
  /**
   * Settles once the alerts subscription has started: normally after the seq it starts from was read, so a read of
   * alerts made after it misses nothing (every transition the read does not show arrives as an event); when the
   * page's first reads failed, live from then.
   */
  readonly alertsStarted = new Promise<void>((resolve) => (this.alertsStartedNow = resolve));
  /** Reads of NEWS2 scores, open alerts or rules that failed in a row. */
  private outputFailures = 0;
  /** The pending read of outputs (rereadTimer) is to read open alerts too. */
  private alertsReadOwed = false;
  /** Look-ups of new sources that failed in a row. */
  private learnFailures = 0;

  /** Starts the subscriptions and the first load; later calls do nothing. */
  start() {
    if (this.started) return;
    this.started = true;
    // NEWS2 scores have no cursor: after a reconnection, or when the server says some may not have been sent
    // (EVENTS_MISSED, SLOW_CONSUMER), read the current ones again, once the subscription is back (`live` resends it
    // half a second after an error).
    live(DashLiveNews2Document, () => ({}), {
      next: (data) => data.news2.forEach((score) => this.applyNews2(score)),
      error: (error) => (error.code === 'EVENTS_MISSED' || error.code === 'SLOW_CONSUMER') && this.rereadSoon(),
    });
    // Open alerts are read again on reconnection only while the page has no seq to resume from: its first read
    // failed (a read key may not read them) and no transition has arrived since.
    onReconnected(() => void this.loadOutputs({ alerts: this.lastAlertSeq === null }));
    void this.load();
    setInterval(() => void this.relist().catch((error: unknown) => console.warn('patient list', error)), RELIST_MS);
  }

  /** NEWS2 scores and open alerts read again in a second, once a resubscription is back. */
  private rereadSoon() {
    this.readOutputsIn(1_000, true);
  }

  /**
   * Reads NEWS2 scores, rules and (with `alerts`) open alerts again in `ms`. One read is pending at a time, and it
   * reads open alerts if any request for it asked to: a retry of a failed score read does not drop a re-read of
   * alerts a refused seq asked for.
   */
  private readOutputsIn(ms: number, alerts: boolean) {
    this.alertsReadOwed ||= alerts;
    clearTimeout(this.rereadTimer);
    this.rereadTimer = setTimeout(() => {
      const owed = this.alertsReadOwed;
      this.alertsReadOwed = false;
      void this.loadOutputs({ alerts: owed });
    }, ms);
  }

  /**
   * Starts the readings subscription, once: after the first page of the patients' latest values (or a refusal by
   * key), so it resumes after the cursor that page names and a reading stored between the read and the subscription
   * arrives (a temperature charted once in four hours would otherwise be missing until the next one).
   */
  private subscribeReadings() {
    if (this.readingsSubscribed) return;
    this.readingsSubscribed = true;
    live(DashLiveReadingsDocument, () => ({ after: resumeAfter(this.lastCursor, this.resumes) }), {
      next: (data) => this.applyReadings(data.readings),
      error: (error) => {
        const next = recovery(error, this.lastCursor);
        if (!next) return;
        this.lastCursor = next.cursor;
        if (next.reread) void this.load();
      },
    });
  }

  /**
   * Starts the alerts subscription, once: after the first read of open alerts (or its refusal), so it resumes after
   * the seq that read names and a transition stored between the read and the subscription arrives as an event.
   */
  private subscribeAlerts() {
    if (this.alertsSubscribed) return;
    this.alertsSubscribed = true;
    this.alertsStartedNow();
    live(DashLiveAlertsDocument, () => ({ after: resumeAfter(this.lastAlertSeq, this.alertResumes) }), {
      next: (data) => data.alerts.forEach((event) => this.applyAlertEvent(event)),
      error: (error) => {
        const next = recovery(error, this.lastAlertSeq);
        if (!next) return;
        this.lastAlertSeq = next.cursor;
        if (next.reread) this.rereadSoon();
      },
    });
  }

  /** Drops the patients no longer listed (retired): views showing them are told, as for one added. */
  async relist() {
    if (!this.loaded || this.loadError) return;
    const listed = new Set<string>();
    await forEveryPage(async (after) => (await request(DashPatientIdsDocument, { first: PAGE, after })).sources, (nodes) => nodes.forEach((node) => listed.add(node.id)));
    let dropped = false;
    for (const [id, source] of this.sources) {
      if (source.kind !== 'PATIENT' || listed.has(id)) continue;
      this.sources.delete(id);
      dropped = true;
    }
    // Listed but not shown: registered again after it was retired (its entry, made by a late reading, learned
    // nothing while it was retired), or missed. Learned again: name, kind, and a tile.
    for (const id of listed) {
      const source = this.sources.get(id);
      if (!source) this.state(id);
      else if (source.kind !== 'PATIENT') this.learn(id);
    }
    if (!dropped) return;
    this.added = true;
    onNextFrame(this.flush);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onAlertEvent(listener: AlertEventListener): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  /**
   * Alerts a read of open alerts applied (the ones it found open, and the ones it found closed since), after each
   * read: a view with its own read learns from it what no event brought, as when the page's first reads failed and
   * its alerts subscription went live only after the view had read.
   */
  onAlertsRead(listener: (alerts: DashAlertFragment[]) => void): () => void {
    this.alertsReadListeners.add(listener);
    return () => this.alertsReadListeners.delete(listener);
  }

  patients(): SourceState[] {
    return [...this.sources.values()].filter((s) => s.kind === 'PATIENT').sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  }

  /** The patient's most pressing open alert: firing before pending, then by severity. */
  worstAlert(source: SourceState): DashAlertFragment | null {
    let worst: DashAlertFragment | null = null;
    const rank = (a: DashAlertFragment) => (a.state === 'FIRING' ? 10 : 0) + SEVERITY_ORDER.indexOf(a.severity as never);
    for (const alert of source.alerts.values()) if (!worst || rank(alert) > rank(worst)) worst = alert;
    return worst;
  }

  signalLost(source: SourceState): DashAlertFragment | null {
    for (const alert of source.alerts.values()) {
      if (this.ruleKinds.get(alert.ruleId) === 'NO_DATA' || alert.message.startsWith('signal lost')) return alert;
    }
    return null;
  }

  private state(id: string, kind: SourceState['kind'] = 'UNKNOWN', name = id): SourceState {
    let source = this.sources.get(id);
    if (!source) {
      source = { id, name, kind, latest: new Map(), series: new Map(), news2: null, alerts: new Map(), lastTime: 0 };
      this.sources.set(id, source);
      if (kind === 'UNKNOWN') this.learn(id);
      else this.added = true;
    }
    return source;
  }

  /** Asks every view showing `id` to draw it again in the next frame. */
  touch(id: string) {
    this.markChanged(id);
  }

  /** Stored readings read by a view (history of the last minutes): series and latest values, not the live cursor. */
  backfill(readings: DashReadingFragment[]) {
    for (const reading of readings) {
      this.applyReading(this.state(reading.sourceId), reading);
      this.markChanged(reading.sourceId);
    }
  }

  private markChanged(id: string) {
    this.changed.add(id);
    onNextFrame(this.flush);
  }

  private flush = () => {
    const changed = this.changed;
    const added = this.added;
    this.changed = new Set();
    this.added = false;
    for (const listener of this.listeners) listener(changed, added);
  };

  /** Applies one reading to the source's latest values and series; false when it was older than what is shown. */
  private applyReading(source: SourceState, reading: DashReadingFragment): boolean {
    const at = Date.parse(reading.time);
    let series = source.series.get(reading.metric);
    if (!series) source.series.set(reading.metric, (series = new Series()));
    series.add(at, reading.value);
    const current = source.latest.get(reading.metric);
    if (current && current.at > at) return false;
    source.latest.set(reading.metric, { ...reading, at });
    if (at > source.lastTime) source.lastTime = at;
    return true;
  }

  private applyReadings(readings: DashReadingFragment[]) {
    for (const reading of readings) {
      const cursor = BigInt(reading.cursor);
      // A resumed subscription starts after our cursor; this guards against a repeat all the same.
      if (this.lastCursor !== null && cursor <= this.lastCursor) continue;
      this.lastCursor = cursor;
      this.readingsApplied++;
      this.applyReading(this.state(reading.sourceId), reading);
      this.markChanged(reading.sourceId);
    }
  }

  private applyNews2(score: DashNews2Fragment) {
    const source = this.state(score.sourceId);
    if (source.news2 && Date.parse(source.news2.time) > Date.parse(score.time)) return;
    source.news2 = score;
    this.markChanged(score.sourceId);
  }

  private applyAlert(alert: DashAlertFragment) {
    const source = this.state(alert.sourceId);
    if ((OPEN_STATES as readonly string[]).includes(alert.state)) {
      this.openAlerts.set(alert.id, alert);
      source.alerts.set(alert.id, alert);
    } else {
      this.openAlerts.delete(alert.id);
      source.alerts.delete(alert.id);
    }
    this.markChanged(alert.sourceId);
  }

  private applyAlertEvent(event: AlertEvent) {
    const seq = BigInt(event.seq);
    if (this.lastAlertSeq === null || seq > this.lastAlertSeq) this.lastAlertSeq = seq;
    const before = this.openAlerts.get(event.alert.id);
    this.touchedAlert(event.alert.id);
    this.applyAlert(event.alert);
    for (const listener of this.alertListeners) listener(event, before);
  }

  /** An alert changed through this page (acknowledged): shown at once, before the subscription echoes it. */
  alertUpdated(alert: DashAlertFragment) {
    this.touchedAlert(alert.id);
    this.applyAlert(alert);
  }

  private async load() {
    try {
      await forEveryPage(
        async (after) => {
          const { sources } = await request(DashSourcesDocument, { kind: 'PATIENT', first: PAGE, after });
          // Every reading after the first page's cursor is in the pages' latest values or will be replayed.
          if (after === null && !this.readingsSubscribed) this.lastCursor = BigInt(sources.lastReadingCursor);
          this.subscribeReadings();
          return sources;
        },
        (nodes) => {
          for (const node of nodes) {
            const source = this.state(node.id, node.kind, node.name);
            source.kind = node.kind;
            source.name = node.name;
            for (const reading of node.latest) this.applyReading(source, reading);
            this.markChanged(node.id);
          }
        },
      );
      this.added = true;
      this.loaded = true;
      this.loadError = null;
    } catch (error) {
      // Live from now while the list cannot be read (a key that may not list patients, a server starting, an older
      // node): the page still shows what arrives, and the alerts list does not wait for a list that may never come.
      this.subscribeReadings();
      this.subscribeAlerts();
      this.loadError = (error as Error).message;
      this.loaded = true;
      this.added = true;
      onNextFrame(this.flush);
      // Retry: the server may be starting, or the key may be fixed meanwhile.
      setTimeout(() => void this.load(), 3_000);
      return;
    }
    onNextFrame(this.flush);
    await Promise.all([this.loadOutputs(), this.loadTrends().catch((error: unknown) => forbidden(error) || console.warn('recent trends', error))]);
  }

  /** Every open alert, a page at a time: a ward may have more than one page of them, and the oldest matter most. */
  private async loadOpenAlerts() {
    const open: DashAlertFragment[] = [];
    // An alert an event changes while the pages are read is newer in the event than in the read: the read leaves it be.
    const touched = new Set<string>();
    this.alertReads.add(touched);
    try {
      await forEveryPage(
        async (after) => {
          const { alerts } = await request(DashAlertsDocument, { states: [...OPEN_STATES], first: PAGE, after });
          // Every transition after the first page's seq is in the pages or will be replayed by the subscription.
          // Before the subscription starts, a reconnection may run a second read: resume after the older of the two.
          if (after === null && !this.alertsSubscribed) this.lastAlertSeq = minCursor(this.lastAlertSeq, BigInt(alerts.lastEventSeq));
          return alerts;
        },
        (nodes) => open.push(...nodes),
      );
    } finally {
      this.alertReads.delete(touched);
    }
    const ids = new Set(open.map((alert) => alert.id));
    const applied: DashAlertFragment[] = [];
    // Alerts that closed while we were away.
    for (const [id, alert] of this.openAlerts) if (!ids.has(id) && !touched.has(id)) applied.push({ ...alert, state: 'RESOLVED' });
    for (const alert of open) if (!touched.has(alert.id)) applied.push(alert);
    applied.forEach((alert) => this.applyAlert(alert));
    for (const listener of this.alertsReadListeners) listener(applied);
  }

  private touchedAlert(id: string) {
    for (const touched of this.alertReads) touched.add(id);
  }

  /** Every patient's NEWS2 score, a page at a time. */
  private async loadNews2() {
    await forEveryPage(async (after) => (await request(DashNews2ScoresDocument, { first: PAGE, after })).news2Scores, (nodes) => nodes.forEach((score) => this.applyNews2(score)));
  }

  /** The last minute of every patient's trend metric (needs an analyst key, as history does; a read key draws it live). */
  private async loadTrends() {
    const from = new Date(Date.now() - TREND_BACKFILL_MS).toISOString();
    let after: string | null = null;
    for (let page = 0; page < TREND_PAGES; page++) {
      const { readings }: DashRecentReadingsQuery = await request(DashRecentReadingsDocument, { metrics: [TREND_METRIC], from, first: 1_000, after });
      // Sources the page has not listed (not patients, or registered since) are left to the live stream.
      this.backfill(readings.edges.map((edge) => edge.node).filter((reading) => this.sources.get(reading.sourceId)?.kind === 'PATIENT'));
      if (!readings.pageInfo.hasNextPage) return;
      after = readings.pageInfo.endCursor;
    }
  }

  /**
   * NEWS2 scores, open alerts and rule kinds: what the views need beside readings. A read key may read the open
   * alerts; NEWS2 scores and rules need an analyst key, and a read key gets their live updates only. A failure the key does not explain (the server busy or restarting) is read again
   * in a few seconds: a wall must not go on showing a patient with a firing alert as well.
   */
  private async loadOutputs({ alerts = true } = {}) {
    let failed = false;
    let alertsFailed = false;
    const warn = (what: string, onFailure?: () => void) => (error: unknown) => {
      if (forbidden(error)) return;
      failed = true;
      onFailure?.();
      console.warn(what, error);
    };
    await Promise.all([
      this.loadNews2().catch(warn('NEWS2 scores')),
      request(DashAlertRulesDocument, {})
        .then((data) => data.alertRules.forEach((rule) => this.ruleKinds.set(rule.id, rule.kind)))
        .catch(warn('alert rules')),
      alerts ? this.loadOpenAlerts().catch(warn('open alerts', () => (alertsFailed = true))).finally(() => this.subscribeAlerts()) : undefined,
    ]);
    this.outputFailures = failed ? this.outputFailures + 1 : 0;
    if (failed) this.readOutputsIn(retryWait(this.outputFailures), alertsFailed);
  }

  /** Sources first seen in a live stream (registered after the page loaded): learn kind and name, in one query per burst. */
  private learn(id: string) {
    this.unknown.add(id);
    if (this.unknownTimer) return;
    // A burst's ids in one query; after a failure, not again at once.
    const wait = this.learnFailures ? retryWait(this.learnFailures) : 150;
    this.unknownTimer = setTimeout(async () => {
      const ids = [...this.unknown].slice(0, 500);
      ids.forEach((i) => this.unknown.delete(i));
      try {
        const data = await request(DashSourceNamesDocument, { ids, first: 500 });
        this.learnFailures = 0;
        for (const { node } of data.sources.edges) {
          const source = this.sources.get(node.id);
          if (!source) continue;
          source.kind = node.kind;
          source.name = node.name;
          this.added = true;
          this.markChanged(node.id);
        }
      } catch (error) {
        // A key that may not list sources never will: they stay unknown (named by id).
        if (!forbidden(error)) {
          this.learnFailures++;
          console.warn('could not look up new sources', error);
          ids.forEach((i) => this.unknown.add(i));
        }
      }
      this.unknownTimer = undefined;
      if (this.unknown.size) this.learn([...this.unknown][0]!);
    }, wait);
  }
}

/**
 * Where a subscription goes on after `error`, given its own cursor (null: none yet), and whether the state must be
 * read again; null when the error needs neither (`live` resubscribes after the cursor it has).
 * - A cursor the server refuses (BAD_USER_INPUT: ahead of what it has stored, as on a database restored from an older
 *   backup; FORBIDDEN: further back than a read key may replay, after a long absence) would be refused on every
 *   retry: resume after the newest the refusal names, and read the state again.
 * - SLOW_CONSUMER before the first item arrived: resume where the server says the subscription stood, or read the
 *   state again when it cannot say. With a cursor of its own, the page resumes after that.
 */
function recovery(error: ApiError, own: bigint | null): { cursor: bigint | null; reread: boolean } | null {
  const named = error.resumeAfter !== undefined && error.resumeAfter !== null ? BigInt(error.resumeAfter) : null;
  if ((error.code === 'BAD_USER_INPUT' || error.code === 'FORBIDDEN') && named !== null) return { cursor: named, reread: true };
  if (error.code === 'SLOW_CONSUMER' && own === null) return { cursor: named, reread: named === null };
  return null;
}

const minCursor = (a: bigint | null, b: bigint): bigint => (a === null || b < a ? b : a);

/** A subscription's `after`: the last cursor applied, noted in `resumes` the first time it is resumed from. */
function resumeAfter(cursor: bigint | null, resumes: string[]): string | null {
  const after = cursor === null ? null : cursor.toString();
  if (after !== null && resumes[resumes.length - 1] !== after) resumes.push(after);
  return after;
}

export const store = new Store();

// window.__vigil's shape is web/src/probe.ts.
window.__vigil = {
  get lastCursor() {
    return store.lastCursor === null ? null : store.lastCursor.toString();
  },
  get resumes() {
    return store.resumes;
  },
  get lastAlertSeq() {
    return store.lastAlertSeq === null ? null : store.lastAlertSeq.toString();
  },
  get alertResumes() {
    return store.alertResumes;
  },
  get readingsApplied() {
    return store.readingsApplied;
  },
  get patients() {
    return store.patients().length;
  },
  relist: () => store.relist(),
};
