import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AcknowledgeAlertDocument,
  AlertHistoryDocument,
  AlertRulesDocument,
  AlertsDocument,
  AlertsWithHistoryDocument,
  CreateAlertRuleDocument,
  DeleteAlertRuleDocument,
  IngestReadingsDocument,
  IngestTradesDocument,
  LateEventsDocument,
  LiveAlertsDocument,
  News2ScoresDocument,
  RegisterSourcesDocument,
  RetireSourcesDocument,
  SetAlertRuleEnabledDocument,
  SourcesDocument,
  UpdateAlertRuleDocument,
  WindowsDocument,
  type AlertRuleInput,
  type LiveAlertsSubscription,
  type ReadingInput,
} from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { T0, patients } from './support/fixtures.js';
import { waitFor, type LiveResults } from './support/live.js';

const DAY = 86_400_000;
type Event = LiveAlertsSubscription['alerts'][number];
const events = (live: { results: LiveResults<{ data?: LiveAlertsSubscription | null }> }) => live.results.items.flatMap((r) => r.data?.alerts ?? []);
const kinds = (list: Event[]) => list.map((e) => e.kind);

/** A reading `seconds` after `base`. */
const at = (base: number, sourceId: string, metric: string, value: number, seconds: number): ReadingInput => ({
  sourceId,
  metric,
  time: new Date(base + seconds * 1_000).toISOString(),
  value,
});

type Vitals = Partial<Record<string, number>>;

/** The six NEWS2 parameters of `sourceId`, `seconds` after `base`: a patient scoring 0, changed by `changes`. */
const news2Vitals = (base: number, sourceId: string, seconds: number, changes: Vitals = {}): ReadingInput[] =>
  Object.entries({ resp_rate: 16, spo2: 97, bp_systolic: 120, heart_rate: 75, consciousness: 0, temperature: 37, ...changes }).map(([metric, value]) =>
    at(base, sourceId, metric, value!, seconds),
  );

/**
 * A NO_DATA rule (1 s) naming `sourceId`, a registered patient that sends nothing: signal lost, resolved by the
 * discharge, and lost again after the readmission, all within 10 s each. Returns the rule.
 */
async function signalLossAcrossReadmission(app: TestApp, sourceId: string) {
  const silence = (await app.mutate(CreateAlertRuleDocument, { input: { name: `${sourceId} silent`, kind: 'NO_DATA', sourceIds: [sourceId], expectedInterval: '1s' } })).createAlertRule;
  const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
  const kindsSoFar = () => kinds(events(live));
  await live.results.until(() => kindsSoFar().length === 1, `signal lost for ${sourceId}`, 10_000);
  await app.mutate(RetireSourcesDocument, { ids: [sourceId] });
  await live.results.until(() => kindsSoFar().length === 2, 'resolved by the discharge', 10_000);
  await app.mutate(RegisterSourcesDocument, { sources: patients(sourceId) });
  await live.results.until(() => kindsSoFar().length === 3, 'signal lost again after the readmission', 10_000);
  expect(kindsSoFar()).toEqual(['FIRING', 'RESOLVED', 'FIRING']);
  await live.close();
  return silence;
}

describe.each(primaryBackends)('alerting on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ALERT_CHECK_INTERVAL: '100ms' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('hr-1', 'hr-2', 'news-1', 'mon-1', 'rule-1', 'rule-2', 'qual-1', 'late-1', 'shock-1', 'ahead-1', 'rule-3', 'edit-1', 'edit-2', 'bad-1', 'wide-1', 'wide-2') });
  });
  afterAll(() => app?.close());

  const rule = async (input: AlertRuleInput) => (await app.mutate(CreateAlertRuleDocument, { input })).createAlertRule;
  const post = async (readings: ReadingInput[]) => {
    for (let i = 0; i < readings.length; i += 20) await app.mutate(IngestReadingsDocument, { readings: readings.slice(i, i + 20) });
    await app.settle();
  };

  it('average heart rate over 5 min above 100 for 2 min fires exactly once, clears below 95 exactly once, and a replay fires nothing', async () => {
    const tachycardia = await rule({
      name: 'Tachycardia',
      kind: 'THRESHOLD',
      sourceIds: ['hr-1'],
      metric: 'heart_rate',
      aggregate: 'AVG',
      window: '5m',
      above: 100,
      for: '2m',
      clear: 95,
      severity: 'HIGH',
    });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [tachycardia.id] });
    const base = T0;
    // Every 15 s: 80 for 5 min, 120 for 10 min, then 85 for 12 min. The 95-100 band on the way down keeps it firing.
    const value = (s: number) => (s < 300 ? 80 : s < 900 ? 120 : 85);
    const readings = Array.from({ length: 27 * 4 }, (_, i) => at(base, 'hr-1', 'heart_rate', value(i * 15), i * 15));
    await post(readings);
    // A second patient outside the rule's sources, just as fast: nothing for it.
    await post(Array.from({ length: 40 }, (_, i) => at(base, 'hr-2', 'heart_rate', 130, i * 15)));

    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'RESOLVED'), 'the alert to resolve');
    const seen = events(live);
    expect(kinds(seen)).toEqual(['PENDING', 'FIRING', 'RESOLVED']);
    expect(new Set(seen.map((e) => e.alert.id)).size).toBe(1);
    const fired = seen[1]!.alert;
    expect(fired).toMatchObject({ sourceId: 'hr-1', metric: 'heart_rate', state: 'FIRING', severity: 'HIGH' });
    expect(fired.value!).toBeGreaterThan(100);
    const resolved = seen[2]!.alert;
    expect(resolved.state).toBe('RESOLVED');
    expect(resolved.value!).toBeLessThan(95);
    // Fired 2 minutes (of event time) after the average first crossed 100.
    expect(Date.parse(seen[1]!.alert.startedAt)).toBe(Date.parse(seen[0]!.alert.startedAt));

    const { alert } = await app.mutate(AlertHistoryDocument, { id: fired.id });
    expect(alert!.transitions.map((t) => t.kind)).toEqual(['PENDING', 'FIRING', 'RESOLVED']);
    expect(Date.parse(alert!.transitions[1]!.eventTime!) - Date.parse(alert!.transitions[0]!.eventTime!)).toBeGreaterThanOrEqual(120_000);

    await post(readings);
    const { alerts } = await app.mutate(AlertsDocument, { ruleIds: [tachycardia.id] });
    expect(alerts.edges).toHaveLength(1);
    expect((await app.mutate(AlertHistoryDocument, { id: fired.id })).alert!.transitions).toHaveLength(3);
    expect(kinds(events(live))).toEqual(['PENDING', 'FIRING', 'RESOLVED']);
    await live.close();
  });

  it('scores NEWS2 and alerts HIGH at aggregate 5, CRITICAL at 7, then resolves', async () => {
    const news = await rule({ name: 'NEWS2', kind: 'NEWS2', sourceIds: ['news-1'] });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [news.id] });
    const base = T0 + DAY;
    const vitals = (s: number, v: Vitals) => news2Vitals(base, 'news-1', s, v);
    const score = async () => (await app.mutate(News2ScoresDocument, { sourceIds: ['news-1'] })).news2Scores.edges[0]?.node;

    await post(vitals(0, {}));
    expect(await score()).toMatchObject({ total: 0, risk: 'LOW' });
    // resp 21 (2) + heart 91 (1) + temp 38.1 (1) = 4: no alert yet.
    await post(vitals(60, { resp_rate: 21, heart_rate: 91, temperature: 38.1 }));
    expect(await score()).toMatchObject({ total: 4, risk: 'LOW' });
    // + SpO2 95 (1) = 5: urgent.
    await post(vitals(120, { resp_rate: 21, heart_rate: 91, temperature: 38.1, spo2: 95 }));
    expect(await score()).toMatchObject({ total: 5, risk: 'MEDIUM' });
    // + systolic 100 (2) = 7: emergency.
    await post(vitals(180, { resp_rate: 21, heart_rate: 91, temperature: 38.1, spo2: 95, bp_systolic: 100 }));
    expect(await score()).toMatchObject({ total: 7, risk: 'HIGH' });
    expect(news.clearAfter).toBe('5m');
    // Back to normal: the alert stays open until the risk has been LOW for the rule's clearAfter (5m by default).
    await post(vitals(240, {}));
    await post(vitals(420, {}));
    const open = (await app.mutate(AlertsDocument, { ruleIds: [news.id] })).alerts.edges.map((e) => e.node);
    expect(open.map((a) => a.state)).toEqual(['FIRING']);
    await post(vitals(540, {}));
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'RESOLVED'), 'NEWS2 alert to resolve');
    // Scores are recomputed at every reading, so on the way down the alert passes through 5 before it is LOW.
    const seen = events(live).map((e) => [e.kind, e.alert.severity, e.alert.value]);
    expect(seen.slice(0, 2)).toEqual([
      ['FIRING', 'HIGH', 5],
      ['UPDATED', 'CRITICAL', 7],
    ]);
    expect(seen.at(-1)).toEqual(['RESOLVED', expect.any(String), 0]);
    expect(events(live).at(-1)!.message).toMatch(/^NEWS2 0, low clinical risk: resolved \(clear for 5m\)$/);
    expect(seen.filter(([kind]) => kind === 'FIRING')).toHaveLength(1);
    expect(new Set(events(live).map((e) => e.alert.id)).size).toBe(1);
    await live.close();
  });

  it('an acknowledgement covers the severity it was made at: a NEWS2 alert acknowledged at 3 shows unacknowledged at 5, and one acknowledged at 5 stays so at 6 and lapses at 7', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('ack-news-1') });
    const news = await rule({ name: 'NEWS2 ack-news-1', kind: 'NEWS2', sourceIds: ['ack-news-1'] });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [news.id] });
    const base = T0 + 5 * DAY;
    // New confusion alone scores 3: MEDIUM.
    const vitals = (s: number, v: Vitals) => news2Vitals(base, 'ack-news-1', s, { consciousness: 3, ...v });
    const current = async () => (await app.mutate(AlertsDocument, { ruleIds: [news.id] })).alerts.edges.map((e) => e.node);

    await post(vitals(0, {}));
    await live.results.until((items) => items.length > 0, 'firing');
    const { id } = events(live)[0]!.alert;
    await app.mutate(AcknowledgeAlertDocument, { id, by: 'nurse.kim', note: 'seen, doctor called' });
    // A pulse of 120 adds 2: 5, HIGH, above the MEDIUM acknowledged. Nobody acknowledged that: it shows so, and escalates.
    await post(vitals(60, { heart_rate: 120 }));
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'UPDATED'), 'the rise to HIGH');
    const risen = events(live).find((e) => e.kind === 'UPDATED')!;
    expect(risen.alert).toMatchObject({ severity: 'HIGH', value: 5, acknowledgement: null });
    expect(risen.message).toMatch(/; acknowledgement by nurse\.kim cleared: severity rose to HIGH, above the MEDIUM it was made at$/);
    expect(await current()).toMatchObject([{ severity: 'HIGH', acknowledgement: null }]);

    // Acknowledged at HIGH: a temperature of 38.1 makes 6, HIGH still, covered; an SpO2 of 95 makes 7, CRITICAL, not.
    await app.mutate(AcknowledgeAlertDocument, { id, by: 'nurse.lee' });
    await post(vitals(120, { heart_rate: 120, temperature: 38.1 }));
    expect(await current()).toMatchObject([{ severity: 'HIGH', acknowledgement: { by: 'nurse.lee' } }]);
    await post(vitals(180, { heart_rate: 120, temperature: 38.1, spo2: 95 }));
    expect(await current()).toMatchObject([{ severity: 'CRITICAL', value: 7, acknowledgement: null }]);

    // The history keeps each acknowledgement; the transition that cleared one names it.
    const { alert } = await app.mutate(AlertHistoryDocument, { id });
    const cleared = (message: string) => /acknowledgement by (\S+) cleared/.exec(message)?.[1] ?? null;
    expect(alert!.transitions.map((t) => [t.kind, t.severity, t.value, t.actor, cleared(t.message)])).toEqual([
      ['FIRING', 'MEDIUM', 3, null, null],
      ['ACKNOWLEDGED', 'MEDIUM', 3, 'nurse.kim', null],
      ['UPDATED', 'HIGH', 5, null, 'nurse.kim'],
      ['ACKNOWLEDGED', 'HIGH', 5, 'nurse.lee', null],
      ['UPDATED', 'CRITICAL', 7, null, 'nurse.lee'],
    ]);
    await live.close();
  });

  it('a new evaluation lowers an escalated alert to the level escalation reached, not to one the score reached since', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('esc-news-1') });
    const news = await rule({ name: 'NEWS2 esc-news-1', kind: 'NEWS2', sourceIds: ['esc-news-1'] });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [news.id] });
    const base = T0 + 6 * DAY;
    // New confusion alone scores 3: MEDIUM; with a respiratory rate of 25, 6 (HIGH); and an SpO2 of 95, 7 (CRITICAL).
    const vitals = (s: number, v: Vitals) => news2Vitals(base, 'esc-news-1', s, { consciousness: 3, ...v });
    const current = async () => (await app.mutate(AlertsDocument, { ruleIds: [news.id] })).alerts.edges.map((e) => e.node);

    await post(vitals(0, {}));
    await live.results.until((items) => items.length > 0, 'firing');
    // Nobody acknowledged it for ESCALATE_AFTER (5m): escalated once, to HIGH.
    await app.sql(sql`update alerts set fired_at = now() - interval '6 minutes' where rule_id = ${news.id}`);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'ESCALATED'), 'escalated', 5_000);
    expect(await current()).toMatchObject([{ severity: 'HIGH', value: 3 }]);

    await post(vitals(60, { resp_rate: 25 }));
    await post(vitals(120, { resp_rate: 25, spo2: 95 }));
    expect(await current()).toMatchObject([{ severity: 'CRITICAL', value: 7 }]);
    // Back to 6: HIGH, what escalation reached and the score says; CRITICAL was the score's alone.
    await post(vitals(180, { resp_rate: 25 }));
    expect(await current()).toMatchObject([{ severity: 'HIGH', value: 6 }]);
    const { alert } = await app.mutate(AlertHistoryDocument, { id: events(live)[0]!.alert.id });
    expect(alert!.transitions.map((t) => [t.kind, t.severity, t.value])).toEqual([
      ['FIRING', 'MEDIUM', 3],
      ['ESCALATED', 'HIGH', 3],
      ['UPDATED', 'HIGH', 6],
      ['UPDATED', 'CRITICAL', 7],
      ['UPDATED', 'HIGH', 6],
    ]);
    // ESCALATE_AFTER as it is written: 5m, not 300s.
    expect(alert!.transitions[1]!.message).toBe('not acknowledged within 5m: severity raised to HIGH');
    await live.close();
  });

  it("has no current NEWS2 score for a discharged patient, nor for a readmitted one until all six vitals are measured in this stay", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('news-stay') });
    const vitals = (s: number, v: Vitals = {}) => news2Vitals(Date.now(), 'news-stay', s, v);
    const score = async () => {
      await app.settle();
      return (await app.mutate(News2ScoresDocument, { sourceIds: ['news-stay'] })).news2Scores.edges.map((e) => e.node.total);
    };
    await post(vitals(0, { resp_rate: 25 }));
    expect(await score()).toEqual([3]);
    await app.mutate(RetireSourcesDocument, { ids: ['news-stay'] });
    expect(await score()).toEqual([]);
    await app.mutate(RegisterSourcesDocument, { sources: patients('news-stay') });
    expect(await score()).toEqual([]);
    // One vital of this stay is not a score, and the earlier stay's stays hidden.
    await post([at(Date.now(), 'news-stay', 'heart_rate', 95, 1)]);
    expect(await score()).toEqual([]);
    await post(vitals(2));
    expect(await score()).toEqual([0]);
  });

  it("scores NEWS2 with vitals charted minutes after the monitor's pulse: a reading behind the patient's clock still counts", async () => {
    const base = T0 + 5 * DAY;
    await post(['resp_rate', 'spo2', 'bp_systolic', 'heart_rate'].map((metric, i) => at(base, 'late-1', metric, [16, 97, 120, 75][i]!, 600)));
    // Measured two minutes before the monitor's, past ALLOWED_LATENESS (1m).
    await post([at(base, 'late-1', 'temperature', 39.5, 480), at(base, 'late-1', 'consciousness', 0, 480)]);
    const score = (await app.mutate(News2ScoresDocument, { sourceIds: ['late-1'] })).news2Scores.edges[0]?.node;
    expect(score).toMatchObject({ total: 2, risk: 'LOW' });
    // Each parameter says when it was measured: the temperature two minutes before the pulse.
    expect(score!.parameters).toContainEqual({ metric: 'temperature', value: 39.5, score: 2, time: new Date(base + 480_000).toISOString() });
    expect(score!.parameters).toContainEqual({ metric: 'heart_rate', value: 75, score: 0, time: new Date(base + 600_000).toISOString() });
    const { lateEvents } = await app.mutate(LateEventsDocument, { pipeline: 'patients' });
    expect(lateEvents.edges).toEqual([]);
  });

  it('places a reading stamped minutes ahead of its arrival (a fast device clock) at its arrival: the on-time readings after it still raise the alarm and score', async () => {
    const brady = await rule({ name: 'Bradycardia', kind: 'THRESHOLD', sourceIds: ['ahead-1'], metric: 'heart_rate', aggregate: 'LAST', below: 40, severity: 'HIGH' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [brady.id] });
    await post(news2Vitals(Date.now(), 'ahead-1', 0, { heart_rate: 80 }));
    // Four minutes ahead, within MAX_FUTURE_SKEW: taken, but not the patient's newest reading for four minutes.
    await post([at(Date.now(), 'ahead-1', 'heart_rate', 80, 240), at(Date.now(), 'ahead-1', 'spo2', 97, 240)]);
    // Placed at its arrival, as the server reckons it by the database's clock: this process's clock may read a few
    // ms behind that (more on a loaded machine), which would put readings sent at once before it. A second apart,
    // the on-time readings are after it by any reckoning. Stamped half a second back: a clock that read a few ms
    // ahead of the database's (a CI run) made them ahead of their own arrival too, and placed them there.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const onTime = Date.now() - 500;
    await post([at(onTime, 'ahead-1', 'heart_rate', 30, 0), at(onTime, 'ahead-1', 'spo2', 85, 0)]);
    await live.results.until((items) => items.length > 0, 'bradycardia to fire', 5_000);
    expect(events(live)[0]).toMatchObject({ kind: 'FIRING', alert: { sourceId: 'ahead-1', value: 30 } });
    const score = (await app.mutate(News2ScoresDocument, { sourceIds: ['ahead-1'] })).news2Scores.edges[0]?.node;
    // Heart rate 30 (3) + SpO₂ 85 (3).
    expect(score).toMatchObject({ total: 6, risk: 'MEDIUM' });
    expect(score!.parameters).toContainEqual({ metric: 'spo2', value: 85, score: 3, time: new Date(onTime).toISOString() });
    await live.close();
  });

  it('scores the extremes a patient really has: a systolic of 45 and a respiratory rate of 3 are GOOD, not SUSPECT', async () => {
    const base = T0 + 6 * DAY;
    await post(news2Vitals(base, 'shock-1', 0));
    await post([at(base, 'shock-1', 'bp_systolic', 45, 30), at(base, 'shock-1', 'resp_rate', 3, 30)]);
    const score = (await app.mutate(News2ScoresDocument, { sourceIds: ['shock-1'] })).news2Scores.edges[0]?.node;
    // Systolic <= 90 scores 3, respiratory rate <= 8 scores 3.
    expect(score).toMatchObject({ total: 6, risk: 'MEDIUM' });
    const stored = await app.sql<{ quality: string }>(sql`select quality from readings where source_id = 'shock-1' and time = ${new Date(base + 30_000).toISOString()}::timestamptz`);
    expect(stored.map((r) => r.quality)).toEqual(['GOOD', 'GOOD']);
    // A hypertensive crisis and severe hypothermia too: a systolic of 265 and 27 °C score 3 each, where they were
    // SUSPECT and the patient's last normal values were scored in their place.
    await post([at(base, 'shock-1', 'bp_systolic', 265, 60), at(base, 'shock-1', 'temperature', 27, 60), at(base, 'shock-1', 'resp_rate', 16, 60)]);
    const extremes = (await app.mutate(News2ScoresDocument, { sourceIds: ['shock-1'] })).news2Scores.edges[0]?.node;
    expect(extremes).toMatchObject({ total: 6, risk: 'MEDIUM' });
  });

  it('raises signal lost when a monitor goes silent and resolves it when data comes back', async () => {
    const silence = await rule({ name: 'Monitor silent', kind: 'NO_DATA', sourceIds: ['mon-1'], metric: 'heart_rate', expectedInterval: '1s', severity: 'HIGH' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    const base = T0 + 2 * DAY;
    await post([at(base, 'mon-1', 'heart_rate', 72, 0)]);
    await live.results.until((items) => items.length > 0, 'signal lost', 5_000);
    expect(events(live)[0]).toMatchObject({ kind: 'FIRING', alert: { sourceId: 'mon-1', metric: 'heart_rate', state: 'FIRING' } });
    expect(events(live)[0]!.alert.message).toMatch(/signal lost: no heart_rate from mon-1/);
    // Silent two seconds more after it fired: the whole silence is what the resolved alert reports.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await post([at(base, 'mon-1', 'heart_rate', 73, 5)]);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length >= 2, 'signal restored', 5_000);
    expect(events(live)[1]).toMatchObject({ kind: 'RESOLVED', alert: { state: 'RESOLVED' } });
    const [lost, restored] = [events(live)[0]!.alert, events(live)[1]!.alert];
    expect(restored.message).toMatch(/^signal restored: heart_rate from mon-1 again after \d+s$/);
    // Its value is the seconds of silence its message names, not the seconds counted when it fired.
    expect(restored.value).toBe(Number(/after (\d+)s$/.exec(restored.message)![1]));
    expect(restored.value!).toBeGreaterThanOrEqual(lost.value! + 2);
    // Silent again: a new episode, a new alert.
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length >= 3, 'signal lost again', 5_000);
    expect(events(live)[2]!.alert.id).not.toBe(events(live)[0]!.alert.id);
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
    await live.close();
  });

  it('counts only GOOD readings as signal: a monitor sending nothing but BAD ones raises signal lost, and only a GOOD one restores it', async () => {
    const silence = await rule({ name: 'Bed bad-1 silent', kind: 'NO_DATA', sourceIds: ['bad-1'], metric: 'spo2', expectedInterval: '1s' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    // A probe off the finger: a BAD reading every 200 ms.
    const feed = setInterval(() => void app.mutate(IngestReadingsDocument, { readings: [{ ...at(Date.now(), 'bad-1', 'spo2', 40, 0), quality: 'BAD' }] }), 200);
    try {
      await live.results.until(() => events(live).length >= 1, 'signal lost while BAD readings arrive', 5_000);
      expect(events(live)[0]).toMatchObject({ kind: 'FIRING', alert: { sourceId: 'bad-1', metric: 'spo2', state: 'FIRING' } });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(kinds(events(live))).toEqual(['FIRING']);
    } finally {
      clearInterval(feed);
    }
    await post([at(Date.now(), 'bad-1', 'spo2', 97, 1)]);
    await live.results.until(() => events(live).length >= 2, 'signal restored by a GOOD reading');
    expect(events(live)[1]).toMatchObject({ kind: 'RESOLVED', alert: { message: expect.stringMatching(/^signal restored: spo2 from bad-1/) } });
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
    await live.close();
  });

  it('watches with a tenant-wide rule on one metric only the sources that have sent it: no "no spo2 from" a heart-rate-only monitor', async () => {
    await post([at(Date.now(), 'wide-1', 'spo2', 97, 0), at(Date.now(), 'wide-2', 'heart_rate', 70, 0)]);
    const silence = await rule({ name: 'Any SpO2 silent', kind: 'NO_DATA', metric: 'spo2', expectedInterval: '1s' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id], sourceIds: ['wide-1', 'wide-2'] });
    await live.results.until(() => events(live).length >= 1, 'signal lost for wide-1', 5_000);
    // Another expected interval: wide-2 would have fired with wide-1.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(events(live).map((e) => [e.kind, e.alert.sourceId, e.alert.metric])).toEqual([['FIRING', 'wide-1', 'spo2']]);
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
    await live.close();
  });

  it("resolves a NO_DATA rule's open alert as soon as an edit leaves its series unwatched: another metric, the source left out, another kind", async () => {
    const input: AlertRuleInput = { name: 'Beds edit silent', kind: 'NO_DATA', sourceIds: ['edit-1', 'edit-2'], metric: 'spo2', expectedInterval: '1s', severity: 'HIGH' };
    const silence = await rule(input);
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    const seen = (kind: string, metric: string) => events(live).filter((e) => e.kind === kind && e.alert.metric === metric).map((e) => [e.alert.sourceId, e.alert.message]);
    const open = async () => (await app.mutate(AlertsDocument, { ruleIds: [silence.id], states: ['FIRING'] })).alerts.edges.map((e) => `${e.node.sourceId}/${e.node.metric}`).sort();
    await live.results.until(() => seen('FIRING', 'spo2').length === 2, 'signal lost for both beds');

    // Another metric: the spo2 alerts resolve with the edit (they escalated beside the heart_rate ones), saying why.
    await app.mutate(UpdateAlertRuleDocument, { id: silence.id, input: { ...input, metric: 'heart_rate' } });
    // (The heart_rate ones fire a second after the edit, and this machine may stall for that long.)
    expect((await open()).filter((series) => series.endsWith('/spo2'))).toEqual([]);
    const changed = 'resolved: its rule "Beds edit silent" changed to another kind or metric';
    await live.results.until(() => seen('RESOLVED', 'spo2').length === 2, 'the spo2 alerts resolved');
    expect(seen('RESOLVED', 'spo2').sort()).toEqual([['edit-1', changed], ['edit-2', changed]]);
    await live.results.until(() => seen('FIRING', 'heart_rate').length === 2, 'signal lost for heart_rate');
    expect(await open()).toEqual(['edit-1/heart_rate', 'edit-2/heart_rate']);

    // edit-2 left out of the rule.
    await app.mutate(UpdateAlertRuleDocument, { id: silence.id, input: { ...input, metric: 'heart_rate', sourceIds: ['edit-1'] } });
    expect(await open()).toEqual(['edit-1/heart_rate']);
    await live.results.until(() => seen('RESOLVED', 'heart_rate').length === 1, "edit-2's alert resolved");
    expect(seen('RESOLVED', 'heart_rate')).toEqual([['edit-2', 'resolved: its rule "Beds edit silent" no longer applies to edit-2']]);

    // Another kind: nothing would ever resolve its signal-loss alert.
    await app.mutate(UpdateAlertRuleDocument, { id: silence.id, input: { name: 'Beds edit tachycardia', kind: 'THRESHOLD', sourceIds: ['edit-1'], metric: 'heart_rate', above: 150 } });
    expect(await open()).toEqual([]);
    await live.results.until(() => seen('RESOLVED', 'heart_rate').length === 2, "edit-1's alert resolved");
    expect(seen('RESOLVED', 'heart_rate')[1]).toEqual(['edit-1', 'resolved: its rule "Beds edit tachycardia" changed to another kind or metric']);
    await app.mutate(DeleteAlertRuleDocument, { id: silence.id });
    await live.close();
  });

  it("answers each alert of a page with its own transitions, oldest first (read for the whole page at once)", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('hist-1', 'hist-2', 'hist-3') });
    await app.sql(sql`insert into alerts (id, rule_id, source_id, metric, state, severity, value, message, started_at)
      select 'hist-alert-' || i, 'hist-rule', 'hist-' || i, 'heart_rate', 'FIRING', 'HIGH', 1, 'x', now() from generate_series(1, 3) i`);
    // hist-alert-3 has none; the others' are stored interleaved, so only the per-alert order puts them right.
    await app.sql(sql`insert into alert_transitions (id, alert_id, kind, severity, message)
      values ('h1a', 'hist-alert-1', 'PENDING', 'HIGH', '1a'), ('h2a', 'hist-alert-2', 'FIRING', 'HIGH', '2a'),
             ('h1b', 'hist-alert-1', 'FIRING', 'HIGH', '1b'), ('h2b', 'hist-alert-2', 'ACKNOWLEDGED', 'HIGH', '2b'), ('h1c', 'hist-alert-1', 'UPDATED', 'HIGH', '1c')`);
    const { alerts } = await app.mutate(AlertsWithHistoryDocument, { ruleIds: ['hist-rule'], first: 500 });
    const byId = Object.fromEntries(alerts.edges.map((e) => [e.node.id, e.node.transitions.map((t) => `${t.kind} ${t.message}`)]));
    expect(byId).toEqual({
      'hist-alert-1': ['PENDING 1a', 'FIRING 1b', 'UPDATED 1c'],
      'hist-alert-2': ['FIRING 2a', 'ACKNOWLEDGED 2b'],
      'hist-alert-3': [],
    });
  });

  it('validates rules by field, resolves the open alert of a disabled rule at the next reading, and deletes rules', async () => {
    const bad = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'THRESHOLD', above: 100 } });
    expect(bad.errors?.[0]).toMatchObject({ message: expect.stringMatching(/needs a metric/), extensions: { code: 'BAD_USER_INPUT', argument: 'input.metric' } });
    const badWindow = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'RATE_OF_CHANGE', metric: 'bp_systolic', drop: 30, window: 'ten minutes' } });
    expect(badWindow.errors?.[0]).toMatchObject({ extensions: { argument: 'input.window' } });
    // A setting the kind does not read is refused, not stored to no effect.
    const news2Above = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NEWS2', metric: 'heart_rate', above: 3 } });
    expect(news2Above.errors?.[0]).toMatchObject({
      message: 'a NEWS2 rule does not use metric (it takes clearAfter: it watches the six NEWS2 vitals, and its severity follows the score)',
      extensions: { code: 'BAD_USER_INPUT', argument: 'input.metric' },
    });
    const noDataClearAfter = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NO_DATA', expectedInterval: '30s', clearAfter: '1m' } });
    expect(noDataClearAfter.errors?.[0]).toMatchObject({ message: 'a NO_DATA rule does not use clearAfter (it takes metric, expectedInterval, severity)', extensions: { argument: 'input.clearAfter' } });
    const clearAfterWords = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NEWS2', clearAfter: 'a while' } });
    expect(clearAfterWords.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^clearAfter must be /), extensions: { argument: 'input.clearAfter' } });
    const clearAfterLong = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NEWS2', clearAfter: '25h' } });
    expect(clearAfterLong.errors?.[0]).toMatchObject({ message: 'clearAfter may be at most 24h', extensions: { argument: 'input.clearAfter' } });
    const thresholdRise = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'THRESHOLD', metric: 'heart_rate', above: 120, rise: 10, expectedInterval: '30s' } });
    expect(thresholdRise.errors?.[0]).toMatchObject({
      message: 'a THRESHOLD rule does not use rise (it takes metric, aggregate, window, above, below, for, clear, clearAfter, severity)',
      extensions: { argument: 'input.rise' },
    });
    // A retired metric no reading comes in: a NO_DATA rule on it fired "signal lost" for every source.
    const onPrice = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NO_DATA', metric: 'price', expectedInterval: '30s' } });
    expect(onPrice.errors?.[0]).toMatchObject({
      message: 'metric "price" is no longer taken in readings (prices are trades, sent with ingestTrades for an INSTRUMENT source), so a rule on it would watch nothing',
      extensions: { code: 'BAD_USER_INPUT', argument: 'input.metric' },
    });
    await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'RULE-ACME', time: new Date(T0).toISOString(), price: 10, size: 1 }] });
    const onInstrument = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'THRESHOLD', metric: 'heart_rate', above: 120, sourceIds: ['RULE-ACME'] } });
    expect(onInstrument.errors?.[0]).toMatchObject({
      message: 'input.sourceIds: "RULE-ACME" is an instrument: rules watch the readings of patients and devices',
      extensions: { code: 'BAD_USER_INPUT', argument: 'input.sourceIds', sourceId: 'RULE-ACME' },
    });
    const forever = await app.request(CreateAlertRuleDocument, { input: { name: 'x', kind: 'NO_DATA', metric: 'heart_rate', expectedInterval: '10000000d' } });
    expect(forever.errors?.[0]).toMatchObject({ message: 'expectedInterval may be at most 30d', extensions: { argument: 'input.expectedInterval' } });

    const high = await rule({ name: 'HR > 150', kind: 'THRESHOLD', sourceIds: ['rule-1'], metric: 'heart_rate', above: 150, severity: 'MEDIUM' });
    expect(high.clearAfter).toBeNull();
    // As set. NEWS2 "0s" reads as "0s", not null, which written back (updateAlertRule replaces every setting) would be its 5m default.
    expect((await rule({ name: 'HR > 170', kind: 'THRESHOLD', sourceIds: ['rule-1'], metric: 'heart_rate', above: 170, clearAfter: '90s' })).clearAfter).toBe('90s');
    expect((await rule({ name: 'NEWS2 at once', kind: 'NEWS2', sourceIds: ['rule-1'], clearAfter: '0s' })).clearAfter).toBe('0s');
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    const base = T0 + 3 * DAY;
    await post([at(base, 'rule-1', 'heart_rate', 160, 0)]);
    await live.results.until((items) => items.length > 0, 'firing');
    await app.mutate(SetAlertRuleEnabledDocument, { id: high.id, enabled: false });
    await post([at(base, 'rule-1', 'heart_rate', 161, 10)]);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length >= 2, 'resolved by disabling');
    expect(kinds(events(live))).toEqual(['FIRING', 'RESOLVED']);
    expect(events(live)[1]!.alert.message).toMatch(/removed|no longer/);
    await app.mutate(DeleteAlertRuleDocument, { id: high.id });
    const again = await app.request(DeleteAlertRuleDocument, { id: high.id });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    await live.close();
  });

  it('scores, rules and windows use GOOD readings only: a BAD or SUSPECT one is stored but moves none of them', async () => {
    const low = await rule({ name: 'HR < 30', kind: 'THRESHOLD', sourceIds: ['qual-1'], metric: 'heart_rate', below: 30, severity: 'HIGH' });
    const base = T0 + 5 * DAY;
    const vitals = Object.entries({ resp_rate: 16, spo2: 97, bp_systolic: 120, heart_rate: 75, consciousness: 0, temperature: 37 }).map(([metric, value]) =>
      at(base, 'qual-1', metric, value, 0),
    );
    await post(vitals);
    const score = async () => (await app.mutate(News2ScoresDocument, { sourceIds: ['qual-1'] })).news2Scores.edges[0]?.node;
    expect(await score()).toMatchObject({ total: 0 });
    // Flagged unusable by the monitor, and a heart rate outside 0-300 (stored as SUSPECT).
    const { ingestReadings } = await app.mutate(IngestReadingsDocument, {
      readings: [
        { ...at(base, 'qual-1', 'spo2', 55, 30), quality: 'BAD' },
        { ...at(base, 'qual-1', 'resp_rate', 30, 30), quality: 'BAD' },
        at(base, 'qual-1', 'heart_rate', -5, 31),
      ],
    });
    expect(ingestReadings.accepted).toBe(3);
    await post([at(base, 'qual-1', 'heart_rate', 76, 40)]);
    expect(await score()).toMatchObject({ total: 0 });
    const { alerts } = await app.mutate(AlertsDocument, { ruleIds: [low.id] });
    expect(alerts.edges).toEqual([]);
    const { windows } = await app.mutate(WindowsDocument, { sourceId: 'qual-1', metric: 'heart_rate', window: '1m', from: new Date(base).toISOString(), to: new Date(base + 60_000).toISOString(), closedOnly: false });
    expect(windows.edges.map((e) => ({ count: e.node.count, min: e.node.min }))).toEqual([{ count: 2, min: 75 }]);
  });

  it('deleting a rule resolves its open alerts at once: nothing would clear them or stop them escalating', async () => {
    const high = await rule({ name: 'HR > 140', kind: 'THRESHOLD', sourceIds: ['rule-2'], metric: 'heart_rate', above: 140, severity: 'MEDIUM' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await post([at(T0 + 4 * DAY, 'rule-2', 'heart_rate', 160, 0)]);
    await live.results.until((items) => items.length > 0, 'firing');
    await app.mutate(DeleteAlertRuleDocument, { id: high.id });
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length >= 2, 'resolved by deleting');
    expect(kinds(events(live))).toEqual(['FIRING', 'RESOLVED']);
    expect(events(live)[1]!.alert.message).toBe('resolved: its rule "HR > 140" was deleted');
    const { alerts } = await app.mutate(AlertsDocument, { ruleIds: [high.id] });
    expect(alerts.edges.map((e) => e.node.state)).toEqual(['RESOLVED']);
    await live.close();
  });

  it('resumes an alert subscription after the last seq it got: what it missed, each with the alert as it stood then, then live, no gap and no duplicate', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('res-1', 'res-2') });
    const high = await rule({ name: 'HR > 150 (resume)', kind: 'THRESHOLD', sourceIds: ['res-1', 'res-2'], metric: 'heart_rate', above: 150, clear: 100, severity: 'HIGH' });
    const base = T0 + 6 * DAY;
    const first = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await post([at(base, 'res-1', 'heart_rate', 170, 0)]);
    await first.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 1, 'res-1 firing');
    const lastSeen = events(first)[0]!;
    // The ward's screen loses its connection; meanwhile res-1 recovers, res-2 fires and a nurse acknowledges it.
    await first.close();
    await post([at(base, 'res-1', 'heart_rate', 80, 10), at(base, 'res-2', 'heart_rate', 175, 10)]);
    const { alerts: open } = await app.mutate(AlertsDocument, { ruleIds: [high.id], states: ['FIRING'] });
    await app.mutate(AcknowledgeAlertDocument, { id: open.edges[0]!.node.id, by: 'nurse.ito' });

    const resumed = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id], after: lastSeen.seq });
    const onlyResolved = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id], after: lastSeen.seq, states: ['RESOLVED'] });
    await resumed.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 3, 'the three it missed');
    // Then live: res-2 recovers.
    await post([at(base, 'res-2', 'heart_rate', 80, 20)]);
    await resumed.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 4, 'the live one');
    await onlyResolved.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 2, 'both resolutions');

    const got = events(resumed);
    expect(got.map((e) => [e.kind, e.alert.sourceId])).toEqual([
      ['RESOLVED', 'res-1'],
      ['FIRING', 'res-2'],
      ['ACKNOWLEDGED', 'res-2'],
      ['RESOLVED', 'res-2'],
    ]);
    // Each replayed event carries the alert as it stood after its transition, as live subscribers were sent it.
    expect(got[1]!.alert).toMatchObject({ state: 'FIRING', acknowledgement: null });
    expect(got[2]!.alert).toMatchObject({ state: 'FIRING', acknowledgement: { by: 'nurse.ito' } });
    // Exactly the stored transitions after the resume point, in seq order.
    const stored = await app.sql<{ seq: string }>(
      sql`select t.seq::text as seq from alert_transitions t join alerts a on a.id = t.alert_id where a.rule_id = ${high.id} and t.seq > ${lastSeen.seq}::int8 order by t.seq`,
    );
    expect(got.map((e) => e.seq)).toEqual(stored.map((r) => r.seq));
    expect(events(onlyResolved).map((e) => e.alert.sourceId)).toEqual(['res-1', 'res-2']);
    await resumed.close();
    await onlyResolved.close();

    // Over SSE, each event's id is its last seq; a reconnect sends it as Last-Event-ID, which wins over `after`.
    const sse = await app.subscribeSse(LiveAlertsDocument, { ruleIds: [high.id], after: lastSeen.seq });
    await sse.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 4, 'the replay over SSE');
    expect(sse.lastEventId()).toBe(stored.at(-1)!.seq);
    await sse.close();
    const reconnected = await app.subscribeSse(LiveAlertsDocument, { ruleIds: [high.id], after: lastSeen.seq }, { lastEventId: stored[1]!.seq });
    await reconnected.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 2, 'what came after the Last-Event-ID');
    expect(events(reconnected).map((e) => e.seq)).toEqual(stored.slice(2).map((r) => r.seq));
    await reconnected.close();
  });

  it('names with a page of alerts the seq to subscribe after: a transition stored after the read arrives on a subscription started later', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('read-1') });
    const high = await rule({ name: 'HR > 150 (read, then subscribe)', kind: 'THRESHOLD', sourceIds: ['read-1'], metric: 'heart_rate', above: 150, severity: 'HIGH' });
    const { alerts: read } = await app.mutate(AlertsDocument, { ruleIds: [high.id], states: ['PENDING', 'FIRING'] });
    expect(read.edges).toEqual([]);
    expect(read.lastEventSeq).toMatch(/^\d+$/);
    // read-1 fires after the read and before the subscription: neither the page nor a live-only subscription has it.
    await post([at(T0 + 7 * DAY, 'read-1', 'heart_rate', 170, 0)]);
    const firing = async () => (await app.mutate(AlertsDocument, { ruleIds: [high.id], states: ['FIRING'] })).alerts;
    expect((await firing()).edges).toHaveLength(1);

    const late = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id], after: read.lastEventSeq });
    await late.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 1, 'the firing stored after the read');
    const [event] = events(late);
    expect([event!.kind, event!.alert.sourceId]).toEqual(['FIRING', 'read-1']);
    expect(BigInt(event!.seq)).toBeGreaterThan(BigInt(read.lastEventSeq));
    // A page read now names a seq at or past that transition: subscribing after it would not send it again.
    expect(BigInt((await firing()).lastEventSeq)).toBeGreaterThanOrEqual(BigInt(event!.seq));
    await late.close();
  });

  it('sends a transition stored by a node of the previous version (no snapshot) with the alert as it stands, and none recorded only', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('old-1') });
    const high = await rule({ name: 'HR > 150 (upgrade)', kind: 'THRESHOLD', sourceIds: ['old-1'], metric: 'heart_rate', above: 150, severity: 'HIGH' });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await post([at(T0 + 7 * DAY, 'old-1', 'heart_rate', 170, 0)]);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 1, 'firing');
    const { id } = events(live)[0]!.alert;
    // In one statement, as a node still on the previous version writes an acknowledgement during a rolling upgrade
    // (no snapshot, and its message not read), beside one recorded only.
    await app.sql(sql`insert into alert_transitions (id, alert_id, kind, severity, message, actor, alert) values
      (${`${id}/ACKNOWLEDGED/old-node`}, ${id}, 'ACKNOWLEDGED', 'HIGH', 'acknowledged by nurse.old', 'nurse.old', null),
      (${`${id}/UPDATED/recorded-only`}, ${id}, 'UPDATED', 'HIGH', 'recorded only', null, 'null'::jsonb)`);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 2, "the old node's transition, at the next poll");
    expect(events(live).map((e) => [e.kind, e.actor])).toEqual([
      ['FIRING', null],
      ['ACKNOWLEDGED', 'nurse.old'],
    ]);
    expect(events(live)[1]!.alert).toMatchObject({ id, state: 'FIRING', sourceId: 'old-1' });
    await live.close();
  });

  it('resolves an open alert the processor has no state for when a new episode of its rule opens, and tells subscribers so', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('orphan-1') });
    const high = await rule({ name: 'HR > 150 (orphan)', kind: 'THRESHOLD', sourceIds: ['orphan-1'], metric: 'heart_rate', above: 150, severity: 'HIGH' });
    // Left open by a processor that replayed with other rules after a restart: nothing in its state would close it.
    // Fired just now, so escalation (after 5 minutes) leaves it alone.
    await app.sql(sql`insert into alerts (id, rule_id, source_id, metric, state, severity, value, message, started_at, fired_at)
      values ('orphan-alert', ${high.id}, 'orphan-1', 'heart_rate', 'FIRING', 'HIGH', 160, 'left open', now() - interval '1 hour', now())`);
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await post([at(T0 + 8 * DAY, 'orphan-1', 'heart_rate', 170, 0)]);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 2, 'the orphan resolved and the new episode firing');
    const seen = events(live);
    expect(seen.map((e) => [e.kind, e.alert.id === 'orphan-alert', e.alert.state])).toEqual(
      expect.arrayContaining([
        ['RESOLVED', true, 'RESOLVED'],
        ['FIRING', false, 'FIRING'],
      ]),
    );
    expect(seen.find((e) => e.kind === 'RESOLVED')!.alert.message).toMatch(/^superseded by a new episode of the same rule/);
    await live.close();
  });

  it('refuses a resume point that is not a seq, or is past the last stored transition, by name', async () => {
    const [{ last }] = (await app.sql<{ last: string }>(sql`select coalesce(max(seq), 0)::text as last from alert_transitions`)) as [{ last: string }];
    const ahead = (BigInt(last) + 1_000n).toString();
    const refusals: [string, string, Record<string, string>][] = [
      ['yesterday', 'after must be a cursor returned by this API (a decimal number of at most 19 digits, below 2^63), got "yesterday"', {}],
      // A decimal number all the same: the message says which bound it is past.
      ['9223372036854775808', 'after must be a cursor returned by this API (a decimal number of at most 19 digits, below 2^63), got "9223372036854775808"', {}],
      // A seq from another history (a restored backup): the refusal names the newest seq to resume after.
      [ahead, `after ${ahead} is ahead of the alert transitions (the last stored seq is ${last}); resume with a seq this API sent`, { resumeAfter: last }],
    ];
    for (const [after, message, extensions] of refusals) {
      const live = await app.subscribeWs(LiveAlertsDocument, { after });
      await live.results.untilComplete();
      expect(live.results.items.flatMap((r) => r.errors ?? [])[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT', argument: 'after', ...extensions } });
      await live.close();
    }
  });

  it("refuses an alert filter naming no rule of the tenant, by name; a deleted rule's stored alerts are still read by its id", async () => {
    const message = 'ruleIds: no alert rule of your tenant with id "rule-typo"; alertRules lists them';
    const query = await app.request(AlertsDocument, { ruleIds: ['rule-typo'] });
    expect(query.errors?.[0]).toMatchObject({ message, extensions: { code: 'NOT_FOUND', argument: 'ruleIds', ruleIds: ['rule-typo'] } });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: ['rule-typo'] });
    await live.results.untilComplete();
    expect(live.results.items.flatMap((r) => r.errors ?? [])[0]).toMatchObject({ message, extensions: { code: 'NOT_FOUND' } });
    await live.close();

    const gone = await rule({ name: 'HR > 155', kind: 'THRESHOLD', sourceIds: ['rule-3'], metric: 'heart_rate', above: 155 });
    await post([at(T0 + 3 * DAY, 'rule-3', 'heart_rate', 170, 0)]);
    await app.mutate(DeleteAlertRuleDocument, { id: gone.id });
    const history = (await app.mutate(AlertsDocument, { ruleIds: [gone.id] })).alerts.edges.map((e) => e.node);
    expect(history).toMatchObject([{ ruleId: gone.id, state: 'RESOLVED' }]);
  });

  it('holds at most 1,000 rules a tenant: the next is refused by name until one is deleted', async () => {
    const first = await rule({ name: 'Bulk', kind: 'THRESHOLD', sourceIds: ['rule-2'], metric: 'heart_rate', above: 250, severity: 'LOW' });
    const [counted] = await app.sql<{ held: number }>(sql`select count(*)::int as held from alert_rules`);
    const held = counted!.held;
    // The rest straight into the table, disabled, as copies of the first.
    await app.sql(sql`insert into alert_rules (id, name, tenant_id, kind, source_ids, params, enabled)
      select 'bulk-' || i, name, tenant_id, kind, source_ids, params, false from alert_rules, generate_series(1, ${1_000 - held}::int) as i where id = ${first.id}`);
    const refused = await app.request(CreateAlertRuleDocument, { input: { name: 'One too many', kind: 'THRESHOLD', metric: 'heart_rate', above: 200 } });
    expect(refused.errors?.[0]).toMatchObject({ message: 'a tenant may have at most 1000 alert rules: delete or update one instead', extensions: { code: 'TOO_MANY_RULES', max: 1_000 } });
    expect((await app.mutate(AlertRulesDocument, {})).alertRules).toHaveLength(1_000);
    await app.mutate(DeleteAlertRuleDocument, { id: 'bulk-1' });
    expect((await rule({ name: 'Room again', kind: 'THRESHOLD', metric: 'heart_rate', above: 200 })).name).toBe('Room again');
    await app.sql(sql`delete from alert_rules where id like 'bulk-%' or name in ('Bulk', 'Room again')`);
  });
});

describe.each(primaryBackends)('escalation and acknowledgement on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ALERT_CHECK_INTERVAL: '100ms', ESCALATE_AFTER: '1s' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('esc-1', 'ack-1', 'esc-2', 'esc-3', 'esc-4', 'esc-5') });
  });
  afterAll(() => app?.close());

  it('escalates a firing alert nobody acknowledges, and an acknowledgement reaches every subscriber and stops escalation', async () => {
    const { createAlertRule: high } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'HR > 150', kind: 'THRESHOLD', metric: 'heart_rate', above: 150, severity: 'MEDIUM' },
    });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    const desk = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await app.mutate(IngestReadingsDocument, { readings: [at(T0, 'esc-1', 'heart_rate', 170, 0), at(T0, 'ack-1', 'heart_rate', 170, 0)] });
    await app.settle();
    await ward.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).filter((e) => e.kind === 'FIRING').length === 2, 'both firing');
    const ackTarget = events(ward).find((e) => e.alert.sourceId === 'ack-1')!.alert;
    const { acknowledgeAlert } = await app.mutate(AcknowledgeAlertDocument, { id: ackTarget.id, by: 'nurse.kim', note: 'checked, patient exercising' });
    expect(acknowledgeAlert.acknowledgement).toMatchObject({ by: 'nurse.kim', note: 'checked, patient exercising' });
    await desk.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'ACKNOWLEDGED'), 'the acknowledgement at the desk');
    expect(events(desk).find((e) => e.kind === 'ACKNOWLEDGED')).toMatchObject({ actor: 'nurse.kim', alert: { id: ackTarget.id, acknowledgement: { by: 'nurse.kim' } } });

    await ward.results.until(
      (items) => items.flatMap((r) => r.data?.alerts ?? []).filter((e) => e.kind === 'ESCALATED' && e.alert.sourceId === 'esc-1').length >= 2,
      'two escalations of the unacknowledged alert',
      8_000,
    );
    // In stream order: a stalled machine may escalate ack-1 once before the acknowledgement lands, never after it.
    const seen = events(ward);
    const acknowledgedAt = seen.findIndex((e) => e.kind === 'ACKNOWLEDGED' && e.alert.id === ackTarget.id);
    expect(acknowledgedAt).toBeGreaterThanOrEqual(0);
    expect(seen.slice(acknowledgedAt).filter((e) => e.kind === 'ESCALATED' && e.alert.sourceId === 'ack-1')).toEqual([]);
    const escalations = seen.filter((e) => e.kind === 'ESCALATED' && e.alert.sourceId === 'esc-1');
    expect(escalations.map((e) => e.alert.severity).slice(0, 2)).toEqual(['HIGH', 'CRITICAL']);

    const twice = await app.request(AcknowledgeAlertDocument, { id: 'no-such-alert', by: 'nurse.kim' });
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    await ward.close();
    await desk.close();
  });

  it('an acknowledgement made while an alert is pending is cleared when it fires: the alert shows unacknowledged and escalates', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('ack-2') });
    const { createAlertRule: low } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'SpO2 < 88 for 30s', kind: 'THRESHOLD', sourceIds: ['ack-2'], metric: 'spo2', below: 88, for: '30s', severity: 'MEDIUM' },
    });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [low.id] });
    const seen = (kind: string) => events(ward).filter((e) => e.kind === kind);
    await app.mutate(IngestReadingsDocument, { readings: [at(T0, 'ack-2', 'spo2', 85, 0)] });
    await app.settle();
    await ward.results.until(() => seen('PENDING').length === 1, 'pending');
    const { id } = seen('PENDING')[0]!.alert;
    // Allowed (who looked, and their note), but it covers the alert only while it is pending.
    const { acknowledgeAlert } = await app.mutate(AcknowledgeAlertDocument, { id, by: 'nurse.kim', note: 'probe reseated' });
    expect(acknowledgeAlert).toMatchObject({ state: 'PENDING', acknowledgement: { by: 'nurse.kim' } });

    await app.mutate(IngestReadingsDocument, { readings: [at(T0, 'ack-2', 'spo2', 85, 30)] });
    await app.settle();
    await ward.results.until(() => seen('FIRING').length === 1, 'firing');
    expect(seen('FIRING')[0]!.alert).toMatchObject({ state: 'FIRING', severity: 'MEDIUM', acknowledgement: null });
    expect(seen('FIRING')[0]!.message).toMatch(/; acknowledgement by nurse\.kim cleared: it was made while the alert was pending$/);
    await ward.results.until(() => seen('ESCALATED').length > 0, 'the fired alert escalated', 5_000);
    expect(seen('ESCALATED')[0]!.alert).toMatchObject({ severity: 'HIGH', acknowledgement: null });
    const { alert } = await app.mutate(AlertHistoryDocument, { id });
    expect(alert!.transitions.map((t) => t.kind).slice(0, 4)).toEqual(['PENDING', 'ACKNOWLEDGED', 'FIRING', 'ESCALATED']);
    await ward.close();
  });

  it('gives a level whose rise cleared an acknowledgement its own ESCALATE_AFTER, however long the acknowledgement held', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('ack-3') });
    const { createAlertRule: news } = await app.mutate(CreateAlertRuleDocument, { input: { name: 'NEWS2 ack-3', kind: 'NEWS2', sourceIds: ['ack-3'] } });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [news.id] });
    const seen = (kind: string) => events(ward).filter((e) => e.kind === kind);
    const vitals = (s: number, v: Vitals) => news2Vitals(T0, 'ack-3', s, v);
    // New confusion: 3, MEDIUM; acknowledged, and held for three escalation periods.
    await app.mutate(IngestReadingsDocument, { readings: vitals(0, { consciousness: 1 }) });
    await ward.results.until(() => seen('FIRING').length === 1, 'firing');
    await app.mutate(AcknowledgeAlertDocument, { id: seen('FIRING')[0]!.alert.id, by: 'nurse.kim' });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // + respiratory rate 21 (2) = 5, HIGH: the rise clears the acknowledgement.
    await app.mutate(IngestReadingsDocument, { readings: vitals(60, { consciousness: 1, resp_rate: 21 }) });
    await ward.results.until(() => seen('UPDATED').length === 1, 'the rise');
    expect(seen('UPDATED')[0]!.alert).toMatchObject({ severity: 'HIGH', acknowledgement: null });
    await ward.results.until(() => seen('ESCALATED').length === 1, 'escalated once its own period passed', 5_000);
    const [updated, escalated] = [seen('UPDATED')[0]!, seen('ESCALATED')[0]!];
    // Before, it was escalated to CRITICAL within milliseconds of the rise: "not acknowledged within 1s".
    expect(Date.parse(escalated.at) - Date.parse(updated.at)).toBeGreaterThanOrEqual(900);
    expect(escalated.alert.severity).toBe('CRITICAL');
    await ward.close();
  });

  it("does not escalate a discharged patient's firing alert, and does again once the patient is readmitted", async () => {
    const { createAlertRule: high } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'HR > 160', kind: 'THRESHOLD', metric: 'heart_rate', above: 160, severity: 'LOW', sourceIds: ['esc-3', 'esc-4'] },
    });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    const of = (sourceId: string, kind: string) => events(ward).filter((e) => e.alert.sourceId === sourceId && e.kind === kind);
    await app.mutate(IngestReadingsDocument, { readings: [at(T0, 'esc-3', 'heart_rate', 170, 0), at(T0, 'esc-4', 'heart_rate', 170, 0)] });
    await app.settle();
    await ward.results.until(() => of('esc-3', 'FIRING').length + of('esc-4', 'FIRING').length === 2, 'both firing');
    await app.mutate(RetireSourcesDocument, { ids: ['esc-3'] });
    const severity = async () =>
      (await app.sql<{ severity: string; state: string }>(sql`select severity, state from alerts where rule_id = ${high.id} and source_id = 'esc-3'`))[0];
    // The discharge resolves it; one left open for a retired source (a retirement cut short by a node's death) is
    // not escalated either.
    await ward.results.until(() => of('esc-3', 'RESOLVED').length === 1, "esc-3's alert resolved at the discharge");
    await app.sql(sql`update alerts set state = 'FIRING', resolved_at = null where rule_id = ${high.id} and source_id = 'esc-3'`);
    // Escalated once at most, should this machine stall for ESCALATE_AFTER between the firing and the retirement.
    const atRetirement = await severity();
    await ward.results.until(() => of('esc-4', 'ESCALATED').length >= 2, 'the other patient escalated twice', 8_000);
    expect(await severity()).toEqual(atRetirement);
    expect(atRetirement).toMatchObject({ state: 'FIRING' });

    const escalatedBefore = of('esc-3', 'ESCALATED').length;
    await app.mutate(RegisterSourcesDocument, { sources: patients('esc-3') });
    await ward.results.until(() => of('esc-3', 'ESCALATED').length > escalatedBefore, 'the readmitted patient escalated', 5_000);
    await ward.close();
  });

  it("times an alert by the database's clock, so a node whose clock is behind does not escalate it at once", async () => {
    // A rule in force (an alert of a rule that does not exist is never escalated), that fires nothing of itself.
    const { createAlertRule: skew } = await app.mutate(CreateAlertRuleDocument, { input: { name: 'Skew', kind: 'NO_DATA', sourceIds: ['esc-2'], expectedInterval: '30d' } });
    const startedAt = new Date();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    try {
      // A NO_DATA alert as the signal monitor fires it, on a node an hour behind.
      expect(await app.server.services.alerts.fire({ ruleId: skew.id, sourceId: 'esc-2', metric: null, severity: 'MEDIUM', value: null, message: 'signal lost', startedAt })).toBe('opened');
    } finally {
      vi.useRealTimers();
    }
    const [fired] = await app.sql<{ behind: number; severity: string }>(
      sql`select extract(epoch from now() - fired_at)::float8 as behind, severity from alerts where rule_id = ${skew.id}`,
    );
    expect(fired!.behind).toBeLessThan(60);
    // Three escalation checks later, still within ESCALATE_AFTER: not escalated.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [after] = await app.sql<{ severity: string }>(sql`select severity from alerts where rule_id = ${skew.id}`);
    expect(after!.severity).toBe('MEDIUM');
    await app.sql(sql`delete from alert_transitions where alert_id in (select id from alerts where rule_id = ${skew.id})`);
    await app.sql(sql`delete from alerts where rule_id = ${skew.id}`);
    await app.mutate(DeleteAlertRuleDocument, { id: skew.id });
  });

  it("does not escalate the open alert of a disabled rule; a disabled NO_DATA rule's resolves when the data comes back", async () => {
    const { createAlertRule: silence } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Bed esc-5 silent', kind: 'NO_DATA', sourceIds: ['esc-5'], metric: 'heart_rate', expectedInterval: '1s', severity: 'LOW' },
    });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    await ward.results.until(() => events(ward).some((e) => e.kind === 'FIRING'), 'signal lost for esc-5');
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
    const severity = async () => (await app.sql<{ severity: string; state: string }>(sql`select severity, state from alerts where rule_id = ${silence.id}`))[0];
    // Escalated once at most, should this machine stall for ESCALATE_AFTER between the firing and the disabling.
    const atDisabling = await severity();
    // Two and a half ESCALATE_AFTER: LOW would have become HIGH.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await severity()).toEqual(atDisabling);
    expect(atDisabling).toMatchObject({ state: 'FIRING' });
    // As a disabled rule's alerts do at their series' next reading: for signal loss, the data coming back.
    await app.mutate(IngestReadingsDocument, { readings: [at(Date.now(), 'esc-5', 'heart_rate', 70, 0)] });
    await ward.results.until(() => events(ward).some((e) => e.kind === 'RESOLVED'), 'resolved by the data coming back');
    expect(events(ward).find((e) => e.kind === 'RESOLVED')!.alert.message).toMatch(/^signal restored: heart_rate from esc-5 again after/);
    await ward.close();
  });

  it('keeps an escalated alert at its escalated severity when a worse score computes a lower one', async () => {
    const { createAlertRule: news } = await app.mutate(CreateAlertRuleDocument, { input: { name: 'NEWS2 esc-2', kind: 'NEWS2', sourceIds: ['esc-2'] } });
    const ward = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [news.id] });
    const vitals = (second: number, heartRate: number) => news2Vitals(T0, 'esc-2', second, { heart_rate: heartRate, consciousness: 3 });
    // Consciousness alone scores 3: MEDIUM.
    await app.mutate(IngestReadingsDocument, { readings: vitals(0, 75) });
    await app.settle();
    const seen = () => events(ward).filter((e) => e.alert.sourceId === 'esc-2');
    await ward.results.until(() => seen().filter((e) => e.kind === 'ESCALATED').length >= 2, 'escalated twice: MEDIUM, HIGH, CRITICAL', 8_000);
    // Worse: a pulse of 120 adds 2, total 5: the score alone says HIGH.
    await app.mutate(IngestReadingsDocument, { readings: vitals(60, 120) });
    await app.settle();
    await ward.results.until(() => seen().some((e) => e.kind === 'UPDATED'), 'the re-evaluation');
    const updated = seen().find((e) => e.kind === 'UPDATED')!;
    expect(updated.alert).toMatchObject({ severity: 'CRITICAL', value: 5 });
    // The stored transition says what the alert became, not what the score alone says.
    const { alert: history } = await app.mutate(AlertHistoryDocument, { id: updated.alert.id });
    expect(history!.transitions.filter((tr) => tr.kind === 'UPDATED').map((tr) => tr.severity)).toEqual(['CRITICAL']);
    const { alerts } = await app.mutate(AlertsDocument, { ruleIds: [news.id] });
    expect(alerts.edges.map((e) => [e.node.state, e.node.severity])).toEqual([['FIRING', 'CRITICAL']]);
    await ward.close();
  });
});

describe.each(primaryBackends)('signal loss across a restart on $name', (backend) => {
  it("watches every source of a tenant-wide NO_DATA rule after a restart, before any of them speaks again", async () => {
    const dataDir = backend.database === 'pglite' ? mkdtempSync(join(tmpdir(), 'vigil-nodata-')) : undefined;
    const schema = `t_nodata_${process.pid}`;
    const env = { ALERT_CHECK_INTERVAL: '100ms' };
    try {
      const before = await startTestApp(backend, { env, dataDir, schema, keepSchema: true });
      await before.mutate(RegisterSourcesDocument, { sources: patients('quiet-1', 'quiet-2') });
      await before.mutate(CreateAlertRuleDocument, { input: { name: 'Any monitor silent', kind: 'NO_DATA', expectedInterval: '3s' } });
      await before.mutate(CreateAlertRuleDocument, { input: { name: 'Any SpO2 silent', kind: 'NO_DATA', metric: 'spo2', expectedInterval: '3s' } });
      await before.mutate(IngestReadingsDocument, { readings: [at(Date.now(), 'quiet-1', 'heart_rate', 70, 0), at(Date.now(), 'quiet-2', 'heart_rate', 70, 0)] });
      // Then only a BAD reading (a lead off), which is no signal.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const badSentAt = Date.now();
      await before.mutate(IngestReadingsDocument, { readings: [{ ...at(Date.now(), 'quiet-1', 'spo2', 40, 0), quality: 'BAD' }] });
      await before.close();
      // The monitor stays silent through the restart: the new node has never heard from it.
      const after = await startTestApp(backend, { env, dataDir, schema });
      try {
        const firing = async () => (await after.mutate(AlertsDocument, { states: ['FIRING'] })).alerts.edges.map((e) => e.node);
        await waitFor(async () => (await firing()).some((a) => a.sourceId === 'quiet-1'), 'signal lost for quiet-1 after the restart', 15_000);
        const lost = (await firing()).find((a) => a.sourceId === 'quiet-1')!;
        expect(lost.message).toMatch(/^signal lost: no data from quiet-1 for \d+s \(expected every 3s\)$/);
        // Silent since its last GOOD reading arrived, as stored, not since the restart: a rolling restart does not put
        // the alarm off, nor date its start wrong.
        expect(Date.parse(lost.startedAt)).toBeLessThan(badSentAt);
        // quiet-1 has sent spo2 (BAD only, so silent since the restart); quiet-2 never has, so it is not watched for it.
        const spo2Lost = async () => (await firing()).filter((a) => a.metric === 'spo2').map((a) => a.sourceId);
        await waitFor(async () => (await spo2Lost()).includes('quiet-1'), 'spo2 signal lost for quiet-1 after the restart', 15_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await spo2Lost()).toEqual(['quiet-1']);
      } finally {
        await after.close();
      }
    } finally {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe.each(primaryBackends)('signal loss of an edited rule across a restart on $name', (backend) => {
  it('resolves at start an open signal-loss alert whose rule was changed to another kind meanwhile (an earlier version left it open)', async () => {
    const dataDir = backend.database === 'pglite' ? mkdtempSync(join(tmpdir(), 'vigil-nodata-kind-')) : undefined;
    const schema = `t_nodata_kind_${process.pid}`;
    const env = { ALERT_CHECK_INTERVAL: '100ms' };
    try {
      const before = await startTestApp(backend, { env, dataDir, schema, keepSchema: true });
      await before.mutate(RegisterSourcesDocument, { sources: patients('kind-1') });
      const { createAlertRule: silence } = await before.mutate(CreateAlertRuleDocument, { input: { name: 'Bed kind-1 silent', kind: 'NO_DATA', sourceIds: ['kind-1'], metric: 'heart_rate', expectedInterval: '1s' } });
      const states = async (app: TestApp) => (await app.mutate(AlertsDocument, { ruleIds: [silence.id] })).alerts.edges.map((e) => e.node);
      await waitFor(async () => (await states(before)).some((a) => a.state === 'FIRING'), 'signal lost for kind-1');
      // Edited as a version that left its signal-loss alerts open did: the rule changed, its alert untouched.
      await before.sql(sql`update alert_rules set kind = 'THRESHOLD', params = params || '{"above": 150}'::jsonb, updated_at = now() where id = ${silence.id}`);
      await before.close();
      const after = await startTestApp(backend, { env, dataDir, schema });
      try {
        await waitFor(async () => (await states(after)).every((a) => a.state === 'RESOLVED'), 'the signal-loss alert resolved after the restart', 10_000);
        expect((await states(after)).map((a) => a.message)).toEqual(['resolved: its rule "Bed kind-1 silent" changed to another kind or metric']);
      } finally {
        await after.close();
      }
    } finally {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe.each(primaryBackends)('retiring sources on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ALERT_CHECK_INTERVAL: '100ms' } });
  });
  afterAll(() => app?.close());

  it('a discharged patient leaves the source list and raises no signal loss; its open one resolves; registering it again brings both back', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-1', 'dis-2') });
    // Tenant-wide, as a ward sets it up: every monitor that has sent data is watched.
    const silence = (await app.mutate(CreateAlertRuleDocument, { input: { name: 'Any monitor silent', kind: 'NO_DATA', expectedInterval: '1s' } })).createAlertRule;
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    const of = (sourceId: string, kind: string) => events(live).filter((e) => e.alert.sourceId === sourceId && e.kind === kind);
    const both = () => app.mutate(IngestReadingsDocument, { readings: ['dis-1', 'dis-2'].map((id) => at(Date.now(), id, 'heart_rate', 70, 0)) });
    const listed = async (includeRetired: boolean) =>
      (await app.mutate(SourcesDocument, { kind: 'PATIENT', includeRetired })).sources.edges.map((e) => [e.node.id, e.node.retiredAt !== null]);

    await both();
    await live.results.until(() => of('dis-1', 'FIRING').length === 1 && of('dis-2', 'FIRING').length === 1, 'signal lost for both');

    const [retired] = (await app.mutate(RetireSourcesDocument, { ids: ['dis-1'] })).retireSources;
    expect(retired).toMatchObject({ id: 'dis-1', retiredAt: expect.any(String) });
    await live.results.until(() => of('dis-1', 'RESOLVED').length === 1, "dis-1's signal loss resolved");
    expect(of('dis-1', 'RESOLVED')[0]!.alert.message).toBe('resolved: the source was retired');
    expect(await listed(false)).toEqual([['dis-2', false]]);
    expect(await listed(true)).toEqual([['dis-1', true], ['dis-2', false]]);
    // Retiring again keeps the first time.
    expect((await app.mutate(RetireSourcesDocument, { ids: ['dis-1'] })).retireSources[0]!.retiredAt).toBe(retired!.retiredAt);

    // A reading from the retired monitor is still stored; its silence after it raises nothing, while dis-2's does.
    expect((await both()).ingestReadings.accepted).toBe(2);
    await live.results.until(() => of('dis-2', 'FIRING').length === 2, "dis-2's second signal loss");
    expect(of('dis-1', 'FIRING')).toHaveLength(1);

    // Readmitted: listed and watched again.
    expect((await app.mutate(RegisterSourcesDocument, { sources: patients('dis-1') })).registerSources[0]!.retiredAt).toBeNull();
    expect(await listed(false)).toEqual([['dis-1', false], ['dis-2', false]]);
    await both();
    await live.results.until(() => of('dis-1', 'FIRING').length === 2, "the readmitted patient's signal loss");
    await live.close();
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
  });

  it('opens no alert for a reading of a discharged patient judged before the processors learnt of the discharge', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-race') });
    const high = (await app.mutate(CreateAlertRuleDocument, { input: { name: 'HR > 150 (discharge race)', kind: 'THRESHOLD', sourceIds: ['dis-race'], metric: 'heart_rate', above: 150, severity: 'HIGH' } })).createAlertRule;
    const post = async (readings: ReadingInput[]) => {
      await app.mutate(IngestReadingsDocument, { readings });
      await app.settle();
    };
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    // Retired in the database only: the nodes' stays are told over pub/sub, and this is the moment before they hear.
    await app.sql(sql`update sources set retired_at = now() where id = 'dis-race'`);
    await post([at(Date.now(), 'dis-race', 'heart_rate', 170, 0)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await app.mutate(AlertsDocument, { ruleIds: [high.id] })).alerts.edges).toEqual([]);
    expect(events(live)).toEqual([]);
    // Readmitted, the patient's next reading alerts as before.
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-race') });
    await post([at(Date.now() + 1_000, 'dis-race', 'heart_rate', 172, 0)]);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).length === 1, 'the readmitted patient firing');
    expect(kinds(events(live))).toEqual(['FIRING']);
    await live.close();
  });

  it('a patient named by a rule, discharged while its signal was lost and readmitted before it sends again, raises signal loss again', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-3') });
    // The node still knows the series as silent; it looks its alert up again every 30 checks (3 s here) and finds none.
    const silence = await signalLossAcrossReadmission(app, 'dis-3');
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
  });

  it('a patient named by a rule, discharged after its signal came back and readmitted without data, raises signal loss again within seconds', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-4') });
    const silence = (await app.mutate(CreateAlertRuleDocument, { input: { name: 'Bed 4 silent', kind: 'NO_DATA', sourceIds: ['dis-4'], expectedInterval: '1s' } })).createAlertRule;
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    const kindsSoFar = () => kinds(events(live));
    // Silent since the rule was made: its first episode starts at the rule's creation.
    await live.results.until(() => kindsSoFar().length === 1, 'signal lost for dis-4');
    await app.mutate(IngestReadingsDocument, { readings: [at(Date.now(), 'dis-4', 'heart_rate', 70, 0)] });
    await live.results.until(() => kindsSoFar().length === 2, 'signal restored');
    await app.mutate(RetireSourcesDocument, { ids: ['dis-4'] });
    // Long enough for a check to find it silent and retired (nothing raised).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(kindsSoFar()).toEqual(['FIRING', 'RESOLVED']);
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-4') });
    // Its next silence may begin where the first did (the node forgot the source): that episode's id is taken.
    await live.results.until(() => kindsSoFar().length === 3, 'signal lost after the readmission', 4_000);
    expect(kindsSoFar()).toEqual(['FIRING', 'RESOLVED', 'FIRING']);
    await live.close();
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
  });

  it("resolves a retired source's signal loss that its retirement did not get to (the node died in between)", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('dis-5') });
    const silence = (await app.mutate(CreateAlertRuleDocument, { input: { name: 'Bed 5 silent', kind: 'NO_DATA', sourceIds: ['dis-5'], expectedInterval: '1s' } })).createAlertRule;
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [silence.id] });
    await live.results.until(() => events(live).length === 1, 'signal lost for dis-5');
    // Retired as retireSources' first statement does, without the second (its open alerts).
    await app.sql(sql`update sources set retired_at = now() where id = 'dis-5'`);
    await live.results.until(() => events(live).length === 2, 'resolved by the monitor looking again', 6_000);
    expect(events(live)[1]).toMatchObject({ kind: 'RESOLVED', alert: { message: 'resolved: the source was retired' } });
    await live.close();
    await app.mutate(SetAlertRuleEnabledDocument, { id: silence.id, enabled: false });
  });

  it("closes a discharged patient's alerts, raises none from the empty bed, and raises a new one after a readmission", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('stay-1') });
    const rule = (
      await app.mutate(CreateAlertRuleDocument, { input: { name: 'Bed stay-1 tachycardia', kind: 'THRESHOLD', sourceIds: ['stay-1'], metric: 'heart_rate', above: 120, severity: 'HIGH' } })
    ).createAlertRule;
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [rule.id] });
    const hr = (value: number, seconds: number) => app.mutate(IngestReadingsDocument, { readings: [at(Date.now(), 'stay-1', 'heart_rate', value, seconds)] });
    const seen = () => events(live).map((e) => [e.kind, e.alert.id, e.alert.message]);

    await hr(130, 0);
    await live.results.until(() => events(live).length === 1, 'the first alert');
    const first = events(live)[0]!.alert.id;
    await app.mutate(RetireSourcesDocument, { ids: ['stay-1'] });
    // Closed at the discharge (it stayed open, though no longer escalated, until the patient's next reading or for good).
    await live.results.until(() => events(live).length === 2, 'the alert resolved at the discharge');
    expect(seen()[1]).toEqual(['RESOLVED', first, 'resolved: the source was retired']);

    // The monitor left on the empty bed goes on sending: stored, and nothing raised.
    await hr(150, 1);
    await app.settle();
    expect((await app.mutate(AlertsDocument, { ruleIds: [rule.id], states: ['PENDING', 'FIRING'] })).alerts.edges).toEqual([]);

    // Readmitted: a breach raises a new alert (before, the earlier episode went on and raised nothing).
    await app.mutate(RegisterSourcesDocument, { sources: patients('stay-1') });
    await hr(140, 2);
    await live.results.until(() => events(live).length === 3, 'a new alert after the readmission');
    expect(seen()[2]).toEqual(['FIRING', expect.not.stringMatching(new RegExp(`^${first}$`)), 'heart_rate 140 > 120']);
    expect(events(live)).toHaveLength(3);
    await live.close();
    await app.mutate(SetAlertRuleEnabledDocument, { id: rule.id, enabled: false });
  });

  it("places a reading against a discharge and readmission by the database's clock: a node whose clock is a minute behind raises the readmitted patient's alarm", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('skew-stay') });
    const rule = (
      await app.mutate(CreateAlertRuleDocument, { input: { name: 'Bed skew-stay tachycardia', kind: 'THRESHOLD', sourceIds: ['skew-stay'], metric: 'heart_rate', above: 150, severity: 'HIGH' } })
    ).createAlertRule;
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [rule.id] });
    const realNow = Date.now.bind(Date);
    const hr = (value: number) => app.mutate(IngestReadingsDocument, { readings: [at(realNow(), 'skew-stay', 'heart_rate', value, 0)] });
    await hr(175);
    await live.results.until(() => events(live).length === 1, 'the first alert');
    await app.mutate(RetireSourcesDocument, { ids: ['skew-stay'] });
    await live.results.until(() => events(live).length === 2, 'the alert resolved at the discharge');
    await app.mutate(RegisterSourcesDocument, { sources: patients('skew-stay') });
    // The node's clock falls a minute behind the database's (which stamped the readmission); its next sync measures it.
    Date.now = () => realNow() - 60_000;
    try {
      await app.server.services.ingest.clock.sync();
      await hr(176);
      await live.results.until(() => events(live).length === 3, 'a new alert after the readmission');
    } finally {
      Date.now = realNow;
      await app.server.services.ingest.clock.sync();
    }
    expect(events(live)[2]).toMatchObject({ kind: 'FIRING', alert: { value: 176 } });
    await live.close();
    await app.mutate(SetAlertRuleEnabledDocument, { id: rule.id, enabled: false });
  });

  it('refuses an empty list and a source that is not the tenant\'s, by name', async () => {
    const empty = await app.request(RetireSourcesDocument, { ids: [] });
    expect(empty.errors?.[0]).toMatchObject({ message: 'ids is an empty list: name the sources to retire', extensions: { code: 'BAD_USER_INPUT' } });
    const unknown = await app.request(RetireSourcesDocument, { ids: ['dis-nobody'] });
    expect(unknown.errors?.[0]).toMatchObject({ message: 'ids: "dis-nobody" is not a source of your tenant', extensions: { code: 'FORBIDDEN' } });
  });
});

describe.each(primaryBackends)('signal loss of a readmitted patient on $name', (backend) => {
  it('watches a patient named by a rule again as soon as it is readmitted, not at the next periodic look (30 checks)', async () => {
    // Checks a second apart, as by default: the periodic look comes after 30 s.
    const app = await startTestApp(backend, { env: { ALERT_CHECK_INTERVAL: '1s' } });
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('back-1') });
      await signalLossAcrossReadmission(app, 'back-1');
    } finally {
      await app.close();
    }
  });
});

describe.each(primaryBackends.filter((b) => b.database === 'postgres'))('alert transitions stored on a retry on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { env: { ALERT_CHECK_INTERVAL: '100ms' } });
    await app.mutate(RegisterSourcesDocument, { sources: patients('retry-1', ...Array.from({ length: 10 }, (_, i) => `ack-race-${i}`)) });
  });
  afterAll(() => app?.close());

  it('publishes a FIRING alert to subscribers when its first store failed and the retry stored it (a deadlock, a lost connection)', async () => {
    // The first insert of one of retry-1's transitions fails, as a transaction PostgreSQL aborts to break a deadlock
    // does; nextval is not rolled back, so only once.
    await app.sql(sql.raw('create sequence retry_once_seq'));
    await app.sql(sql.raw(`create function retry_once() returns trigger language plpgsql as $$
      begin
        if position('/retry-1/' in new.alert_id) > 0 then
          if nextval('retry_once_seq') = 1 then raise exception 'refused once by the test'; end if;
        end if;
        return new;
      end $$`));
    await app.sql(sql.raw('create trigger retry_once before insert on alert_transitions for each row execute function retry_once()'));
    const { createAlertRule: high } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'HR > 150 (retry)', kind: 'THRESHOLD', sourceIds: ['retry-1'], metric: 'heart_rate', above: 150, severity: 'HIGH' },
    });
    const live = await app.subscribeWs(LiveAlertsDocument, { ruleIds: [high.id] });
    await app.mutate(IngestReadingsDocument, { readings: [at(T0, 'retry-1', 'heart_rate', 170, 0)] });
    await app.settle();
    const [stored] = await app.sql<{ n: number }>(sql`select count(*)::int as n from alert_transitions where alert_id like ${`${high.id}/retry-1/%`} and kind = 'FIRING'`);
    expect(stored!.n).toBe(1);
    await live.results.until((items) => items.flatMap((r) => r.data?.alerts ?? []).some((e) => e.kind === 'FIRING'), 'the FIRING transition live', 3_000);
    expect(events(live).find((e) => e.kind === 'FIRING')).toMatchObject({ alert: { sourceId: 'retry-1', state: 'FIRING', severity: 'HIGH' } });
    await live.close();
  });

  it('answers every one of several acknowledgements of one alert sent at once (two nurses, a client retrying), none with an internal error', async () => {
    const { createAlertRule: high } = await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'HR > 150 (ack race)', kind: 'THRESHOLD', metric: 'heart_rate', above: 150, severity: 'HIGH' },
    });
    const ids = Array.from({ length: 10 }, (_, i) => `ack-race-${i}`);
    await app.mutate(IngestReadingsDocument, { readings: ids.map((id) => at(T0, id, 'heart_rate', 170, 0)) });
    await app.settle();
    const open = await app.sql<{ id: string }>(sql`select id from alerts where rule_id = ${high.id} and state = 'FIRING'`);
    expect(open).toHaveLength(10);
    const failures: unknown[] = [];
    for (const { id } of open) {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, n) => app.request(AcknowledgeAlertDocument, { id, by: `nurse-${n}` })));
      failures.push(...answers.flatMap((a) => a.errors ?? []));
    }
    expect(failures).toEqual([]);
  });
});
