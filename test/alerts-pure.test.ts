import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deepFreeze, notJson } from './support/pure-runtime.js';
import { createAlertRulesProcessor, type AlertInput, type AlertRule, type AlertRulesState, type AlertTransition } from '../src/processors/alert-rules.js';
import { createNews2Processor, news2, news2ParameterScore, NEWS2_METRICS, type News2Metric, type News2Score, type News2State } from '../src/processors/news2.js';
import type { Output, Processor } from '../src/processors/processor.js';
import type { Point } from '../src/processors/series.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2024, 4, 6, 9);

// ---------------------------------------------------------------- a stand-in for the runtime



type States<S> = Map<string, S>;

/**
 * What the runtime does around a processor keyed by sourceId: one state per
 * patient, events in delivery order. Asserts every state survives JSON and is
 * never mutated after it is returned, and that onWatermark emits nothing.
 */
function feed<S, In, Out extends Output>(processor: Processor<S, In, Out>, keyOf: (event: In) => string, events: readonly In[], states: States<S> = new Map()) {
  const out: Out[] = [];
  /** Outputs per event, for comparing replays event by event. */
  const perEvent: Out[][] = [];
  for (const event of events) {
    const key = keyOf(event);
    const step = processor.onEvent(states.get(key) ?? deepFreeze(processor.init(key)), event);
    const problem = notJson(step.state);
    if (problem !== null) expect.fail(`not JSON-safe: state${problem}`);
    const watermark = processor.onWatermark(deepFreeze(step.state), Number.MAX_SAFE_INTEGER);
    if (watermark.out.length > 0) expect.fail('onWatermark emitted');
    states.set(key, watermark.state);
    out.push(...step.out);
    perEvent.push(step.out);
  }
  return { out, perEvent, states };
}

const alerts = createAlertRulesProcessor();
const runAlerts = (events: readonly AlertInput[], states?: States<AlertRulesState>) => feed(alerts, (e) => e.point.sourceId, events, states);

let cursor = 0;
function point(metric: string, time: number, value: number, sourceId = 'bed-01'): Point {
  return { sourceId, metric, time, value, cursor: String(++cursor) };
}

/** A series of one metric, one reading per step from `start`. */
function series(metric: string, start: number, stepMs: number, values: number[], sourceId = 'bed-01'): Point[] {
  return values.map((value, i) => point(metric, start + i * stepMs, value, sourceId));
}

const withRules = (rules: readonly AlertRule[]) => (p: Point): AlertInput => ({ point: p, rules });

const brief = (t: AlertTransition) => ({ kind: t.kind, time: t.time, severity: t.severity, value: t.value });

// ---------------------------------------------------------------- NEWS2

const NORMAL: Record<News2Metric, number> = { resp_rate: 16, spo2: 97, bp_systolic: 120, heart_rate: 70, consciousness: 0, temperature: 37 };

describe('news2ParameterScore', () => {
  // Both sides of every published boundary; real values between bands belong to the upper band (inclusive upper bounds).
  const cases: [News2Metric, number, number][] = [
    ['resp_rate', 4, 3], ['resp_rate', 8, 3], ['resp_rate', 8.5, 1], ['resp_rate', 9, 1], ['resp_rate', 11, 1], ['resp_rate', 11.5, 0], ['resp_rate', 12, 0],
    ['resp_rate', 20, 0], ['resp_rate', 21, 2], ['resp_rate', 24, 2], ['resp_rate', 24.1, 3], ['resp_rate', 25, 3], ['resp_rate', 60, 3],
    ['spo2', 80, 3], ['spo2', 91, 3], ['spo2', 91.5, 2], ['spo2', 92, 2], ['spo2', 93, 2], ['spo2', 94, 1], ['spo2', 95, 1], ['spo2', 95.2, 0], ['spo2', 96, 0], ['spo2', 100, 0],
    ['bp_systolic', 60, 3], ['bp_systolic', 90, 3], ['bp_systolic', 91, 2], ['bp_systolic', 100, 2], ['bp_systolic', 101, 1], ['bp_systolic', 110, 1],
    ['bp_systolic', 111, 0], ['bp_systolic', 219, 0], ['bp_systolic', 219.5, 3], ['bp_systolic', 220, 3],
    ['heart_rate', 30, 3], ['heart_rate', 40, 3], ['heart_rate', 41, 1], ['heart_rate', 50, 1], ['heart_rate', 51, 0], ['heart_rate', 90, 0], ['heart_rate', 90.5, 1],
    ['heart_rate', 91, 1], ['heart_rate', 110, 1], ['heart_rate', 111, 2], ['heart_rate', 130, 2], ['heart_rate', 131, 3], ['heart_rate', 200, 3],
    ['consciousness', 0, 0], ['consciousness', 1, 3], ['consciousness', 2, 3], ['consciousness', 3, 3], ['consciousness', 4, 3],
    ['temperature', 34, 3], ['temperature', 35.0, 3], ['temperature', 35.1, 1], ['temperature', 36.0, 1], ['temperature', 36.05, 0], ['temperature', 36.1, 0],
    ['temperature', 38.0, 0], ['temperature', 38.1, 1], ['temperature', 39.0, 1], ['temperature', 39.1, 2], ['temperature', 42, 2],
  ];
  it.each(cases)('%s %d scores %d', (metric, value, score) => {
    expect(news2ParameterScore(metric, value)).toBe(score);
  });
});

describe('news2', () => {
  it('is null until all six parameters have a value', () => {
    for (const missing of NEWS2_METRICS) {
      const { [missing]: _, ...rest } = NORMAL;
      expect(news2(rest)).toBeNull();
    }
    expect(news2({})).toBeNull();
    expect(news2(NORMAL)).toEqual({ total: 0, scores: { resp_rate: 0, spo2: 0, bp_systolic: 0, heart_rate: 0, consciousness: 0, temperature: 0 }, highestSingle: 0, risk: 'LOW' });
  });

  it('totals the scores and grades the risk: 7+ high, 5-6 medium, a single 3 low-medium', () => {
    const grade = (changes: Partial<Record<News2Metric, number>>) => {
      const result = news2({ ...NORMAL, ...changes })!;
      return [result.total, result.highestSingle, result.risk];
    };
    expect(grade({ heart_rate: 95, temperature: 38.5, bp_systolic: 105, spo2: 94 })).toEqual([4, 1, 'LOW']);
    expect(grade({ spo2: 91 })).toEqual([3, 3, 'LOW_MEDIUM']);
    expect(grade({ consciousness: 2, heart_rate: 95 })).toEqual([4, 3, 'LOW_MEDIUM']);
    expect(grade({ resp_rate: 22, heart_rate: 95, temperature: 38.5, bp_systolic: 105 })).toEqual([5, 2, 'MEDIUM']);
    expect(grade({ spo2: 91, resp_rate: 22 })).toEqual([5, 3, 'MEDIUM']);
    expect(grade({ resp_rate: 22, heart_rate: 115, temperature: 38.5, bp_systolic: 105 })).toEqual([6, 2, 'MEDIUM']);
    expect(grade({ resp_rate: 22, heart_rate: 115, temperature: 38.5, bp_systolic: 105, spo2: 94 })).toEqual([7, 2, 'HIGH']);
    expect(grade({ resp_rate: 30, spo2: 85, bp_systolic: 85, heart_rate: 140, consciousness: 4, temperature: 34 })).toEqual([18, 3, 'HIGH']);
  });

  it('agrees with its parameter scores for any vitals', () => {
    // Every value the catalog calls plausible (src/ingest/metrics.ts), down to 0.
    const vitals = fc.record({
      resp_rate: fc.integer({ min: 0, max: 60 }),
      spo2: fc.integer({ min: 0, max: 100 }),
      bp_systolic: fc.integer({ min: 0, max: 300 }),
      heart_rate: fc.integer({ min: 0, max: 300 }),
      consciousness: fc.integer({ min: 0, max: 4 }),
      temperature: fc.integer({ min: 300, max: 450 }).map((t) => t / 10),
    });
    fc.assert(
      fc.property(vitals, (v) => {
        const result = news2(v)!;
        const scores: number[] = NEWS2_METRICS.map((m) => news2ParameterScore(m, v[m]));
        expect(result.total).toBe(scores.reduce((a, b) => a + b, 0));
        expect(result.highestSingle).toBe(Math.max(...scores));
        const risk = result.total >= 7 ? 'HIGH' : result.total >= 5 ? 'MEDIUM' : scores.includes(3) ? 'LOW_MEDIUM' : 'LOW';
        expect(result.risk).toBe(risk);
      }),
      { numRuns: 300 },
    );
  });
});

describe('news2 processor', () => {
  const processor = createNews2Processor();
  const run = (points: Point[]) => feed<News2State, Point, News2Score>(processor, (p) => p.sourceId, points);

  it('scores a patient once all six parameters are known, after every NEWS2 reading, superseding by sourceId', () => {
    const baseline = NEWS2_METRICS.map((m, i) => point(m, T0 + i * SECOND, NORMAL[m]));
    const { out, perEvent } = run([point('glucose', T0, 5), ...baseline, point('bp_diastolic', T0 + 10 * SECOND, 80), point('spo2', T0 + 20 * SECOND, 91)]);
    expect(perEvent.map((o) => o.length)).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 1]);
    expect(out[0]).toMatchObject({ id: 'bed-01', sourceId: 'bed-01', time: T0 + 5 * SECOND, cursor: baseline[5]!.cursor, total: 0, risk: 'LOW', values: NORMAL });
    expect(out[1]).toMatchObject({ id: 'bed-01', time: T0 + 20 * SECOND, total: 3, risk: 'LOW_MEDIUM', highestSingle: 3, values: { ...NORMAL, spo2: 91 } });
    expect(out[1]!.scores.spo2).toBe(3);
  });

  it('does not let an older out-of-order reading replace a newer one', () => {
    const baseline = NEWS2_METRICS.map((m) => point(m, T0 + MINUTE, NORMAL[m]));
    const { out } = run([...baseline, point('heart_rate', T0, 150), point('heart_rate', T0 + 2 * MINUTE, 95)]);
    expect(out.map((s) => [s.values.heart_rate, s.total, s.time])).toEqual([
      [70, 0, T0 + MINUTE],
      [70, 0, T0 + MINUTE], // the late 150 changes nothing
      [95, 1, T0 + 2 * MINUTE],
    ]);
  });

  it('scores only a set of parameters measured within NEWS2_MAX_AGE (12h) of each other, not what each last was days apart', () => {
    const HOUR = 60 * MINUTE;
    // Consciousness and temperature charted at the admission; the monitor's vitals 13 hours on.
    const charted = (['consciousness', 'temperature'] as const).map((m) => point(m, T0, NORMAL[m]));
    const monitor = (['resp_rate', 'spo2', 'bp_systolic', 'heart_rate'] as const).map((m) => point(m, T0 + 13 * HOUR, NORMAL[m]));
    const { out, perEvent } = run([...charted, ...monitor, point('temperature', T0 + 13 * HOUR, NORMAL.temperature), point('consciousness', T0 + 13 * HOUR + MINUTE, 1)]);
    // Nothing while consciousness is 13 hours old; scored again once it is charted (a new confusion: 3).
    expect(perEvent.map((o) => o.length)).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(out[0]).toMatchObject({ time: T0 + 13 * HOUR + MINUTE, total: 3, risk: 'LOW_MEDIUM' });
    // Within the age, a score: 11 hours apart counts.
    const within = run([...charted, ...monitor.map((p) => ({ ...p, time: T0 + 11 * HOUR }))]);
    expect(within.out.map((s) => s.total)).toEqual([0]);
    // The age is a setting.
    const strict = feed<News2State, Point, News2Score>(createNews2Processor({ maxAgeMs: HOUR }), (p) => p.sourceId, [...charted, ...monitor.map((p) => ({ ...p, time: T0 + 2 * HOUR }))]);
    expect(strict.out).toEqual([]);
  });

  it('keeps patients apart', () => {
    const a = NEWS2_METRICS.map((m) => point(m, T0, NORMAL[m], 'bed-01'));
    const b = NEWS2_METRICS.map((m) => point(m, T0, m === 'consciousness' ? 2 : NORMAL[m], 'bed-02'));
    const { out } = run([...a.slice(0, 3), ...b, ...a.slice(3)]);
    expect(out.map((s) => [s.id, s.total])).toEqual([['bed-02', 3], ['bed-01', 0]]);
  });
});

// ---------------------------------------------------------------- threshold

/** Average heart rate over 5 min > 100 for 2 min, clears below 95. */
const HR_AVG: AlertRule = { id: 'hr-avg', kind: 'THRESHOLD', sourceIds: null, metric: 'heart_rate', aggregate: 'AVG', windowMs: 5 * MINUTE, above: 100, below: null, forMs: 2 * MINUTE, clear: 95, severity: 'HIGH' };

describe('threshold rule', () => {
  it('fires once and resolves once over a rising then falling series, staying firing in the 95-100 band', () => {
    // One reading a minute: the 5-minute window (t - 5m, t] holds the last five.
    const values = [80, 80, 80, 80, 80, 120, 120, 120, 120, 120, 97, 97, 97, 97, 97, 97, 90, 90, 90, 90];
    // window avg:  80  80  80  80  80   88   96  104  112  120 115.4 110.8 106.2 101.6 97 97 95.6 94.2 ...
    const points = series('heart_rate', T0, MINUTE, values);
    const { out } = runAlerts(points.map(withRules([HR_AVG])));
    expect(out.map(brief)).toEqual([
      { kind: 'PENDING', time: T0 + 7 * MINUTE, severity: 'HIGH', value: 104 },
      { kind: 'FIRING', time: T0 + 9 * MINUTE, severity: 'HIGH', value: 120 },
      { kind: 'RESOLVED', time: T0 + 17 * MINUTE, severity: 'HIGH', value: expect.closeTo(94.2, 9) },
    ]);
    const alertId = `hr-avg/bed-01/heart_rate/${T0 + 7 * MINUTE}`;
    expect(out.every((t) => t.alertId === alertId && t.startedAt === T0 + 7 * MINUTE && t.ruleId === 'hr-avg' && t.metric === 'heart_rate')).toBe(true);
    expect(out.map((t) => t.id)).toEqual([
      `${alertId}/PENDING/${T0 + 7 * MINUTE}/${points[7]!.cursor}`,
      `${alertId}/FIRING/${T0 + 9 * MINUTE}/${points[9]!.cursor}`,
      `${alertId}/RESOLVED/${T0 + 17 * MINUTE}/${points[17]!.cursor}`,
    ]);
    expect(out.map((t) => t.cursor)).toEqual([points[7]!.cursor, points[9]!.cursor, points[17]!.cursor]);
    expect(out[1]!.message).toBe('avg heart_rate over 5m 120 > 100 for 2m');
    expect(out[2]!.message).toBe('avg heart_rate over 5m 94.2 < 95: cleared after 10m');
  });

  it('says how long a breach held in whole seconds, short of the rule\'s `for` where it fell short', () => {
    // A monitor's timestamps carry milliseconds: readings 1.012 s apart.
    const SPO2: AlertRule = { id: 'spo2', kind: 'THRESHOLD', sourceIds: null, metric: 'spo2', aggregate: 'LAST', windowMs: 0, above: null, below: 90, forMs: MINUTE, clear: null, severity: 'CRITICAL' };
    const values = [...Array.from({ length: 50 }, () => 88), 95, ...Array.from({ length: 70 }, () => 87), 96];
    const { out } = runAlerts(series('spo2', T0, 1_012, values).map(withRules([SPO2])));
    expect(out.map((t) => `${t.kind}: ${t.message}`)).toEqual([
      'PENDING: spo2 88 < 90, fires if it lasts 1m',
      'RESOLVED: spo2 95 back within limits after 50s of 1m: cancelled', // 50.6 s
      'PENDING: spo2 87 < 90, fires if it lasts 1m',
      'FIRING: spo2 87 < 90 for 1m', // 60.7 s
      'RESOLVED: spo2 96 > 90: cleared after 1m10s', // 70.8 s
    ]);
  });

  it('counts a breach from its first reading in time, whatever order the readings arrive in (LAST)', () => {
    const RR: AlertRule = { id: 'rr', kind: 'THRESHOLD', sourceIds: null, metric: 'resp_rate', aggregate: 'LAST', windowMs: 0, above: 30, below: null, forMs: 30 * SECOND, clear: null, severity: 'HIGH' };
    const rr = (seconds: number, value: number) => point('resp_rate', T0 + seconds * SECOND, value);
    const outcome = (points: Point[]) => runAlerts(points.map(withRules([RR]))).out.map((t) => [t.kind, (t.startedAt - T0) / SECOND, (t.time - T0) / SECOND]);
    // In time order it fires at t+40, 40 s into the breach.
    expect(outcome([rr(0, 35), rr(10, 35), rr(40, 35)])).toEqual([['PENDING', 0, 0], ['FIRING', 0, 40]]);
    // Uploaded out of order: pending from t+40 (its id is that reading's), then the earlier breaching readings
    // show the breach began at t0, so it fires at once. It stayed pending, and the next clear reading cancelled it.
    expect(outcome([rr(40, 35), rr(0, 35), rr(10, 35), rr(50, 27)])).toEqual([['PENDING', 40, 40], ['FIRING', 40, 40], ['RESOLVED', 40, 50]]);
    // A reading known to have cleared in between is not crossed: the breach began after it.
    expect(outcome([rr(40, 35), rr(20, 25), rr(0, 35), rr(50, 35)])).toEqual([['PENDING', 40, 40]]);
    expect(outcome([rr(40, 35), rr(20, 25), rr(25, 35), rr(60, 35)])).toEqual([['PENDING', 40, 40], ['FIRING', 40, 60]]);
  });

  it('cancels a pending alert when the breach lapses, and a later breach is a new episode', () => {
    const values = [80, 80, 80, 80, 80, 120, 120, 120, 60, 130, 130, 130];
    // window avg:  80  80  80  80  80   88   96  104  100  110  112  114
    const { out } = runAlerts(series('heart_rate', T0, MINUTE, values).map(withRules([HR_AVG])));
    expect(out.map((t) => [t.kind, t.time, t.alertId])).toEqual([
      ['PENDING', T0 + 7 * MINUTE, `hr-avg/bed-01/heart_rate/${T0 + 7 * MINUTE}`],
      ['RESOLVED', T0 + 8 * MINUTE, `hr-avg/bed-01/heart_rate/${T0 + 7 * MINUTE}`],
      ['PENDING', T0 + 9 * MINUTE, `hr-avg/bed-01/heart_rate/${T0 + 9 * MINUTE}`],
      ['FIRING', T0 + 11 * MINUTE, `hr-avg/bed-01/heart_rate/${T0 + 9 * MINUTE}`],
    ]);
    expect(out[1]!.message).toContain('cancelled');
  });

  it('fires at once with forMs 0, takes MIN/MAX/LAST, a below bound and its clear level', () => {
    const spo2Low: AlertRule = { id: 'spo2-low', kind: 'THRESHOLD', sourceIds: null, metric: 'spo2', aggregate: 'LAST', windowMs: 0, above: null, below: 90, forMs: 0, clear: 92, severity: 'CRITICAL' };
    const hrMax: AlertRule = { ...HR_AVG, id: 'hr-max', aggregate: 'MAX', windowMs: 2 * MINUTE, above: 150, clear: null, forMs: 0 };
    const { out } = runAlerts([
      ...series('spo2', T0, MINUTE, [95, 89, 91, 92, 93, 88]),
      ...series('heart_rate', T0, MINUTE, [100, 160, 100, 100, 100]),
    ].map(withRules([spo2Low, hrMax])));
    expect(out.map((t) => [t.ruleId, t.kind, t.time, t.value])).toEqual([
      ['spo2-low', 'FIRING', T0 + MINUTE, 89],
      ['spo2-low', 'RESOLVED', T0 + 4 * MINUTE, 93], // 91 and 92 are not above the clear level 92
      ['spo2-low', 'FIRING', T0 + 5 * MINUTE, 88],
      ['hr-max', 'FIRING', T0 + MINUTE, 160],
      ['hr-max', 'RESOLVED', T0 + 3 * MINUTE, 100], // 160 leaves the 2-minute window (t - 2m, t] at t + 2m
    ]);
    expect(out[0]!.message).toBe('spo2 89 < 90');
  });

  it('counts a late reading in the window but never moves the lifecycle clock back', () => {
    const rule: AlertRule = { ...HR_AVG, forMs: 0, clear: null };
    const { out, states } = runAlerts([point('heart_rate', T0 + 4 * MINUTE, 99), point('heart_rate', T0 + 2 * MINUTE, 110), point('heart_rate', T0 + MINUTE, 50)].map(withRules([rule])));
    // avg 99 → (99 + 110) / 2 = 104.5 fires at the clock, 4m → 86.33 resolves, still at 4m.
    expect(out.map((t) => [t.kind, t.time, t.startedAt])).toEqual([
      ['FIRING', T0 + 4 * MINUTE, T0 + 4 * MINUTE],
      ['RESOLVED', T0 + 4 * MINUTE, T0 + 4 * MINUTE],
    ]);
    // A reading older than the window is left out; a further breach at the same instant waits for the clock to move (the alertId would repeat).
    const next = runAlerts([point('heart_rate', T0 - 2 * MINUTE, 500), point('heart_rate', T0 + 3 * MINUTE, 200), point('heart_rate', T0 + 5 * MINUTE, 100)].map(withRules([rule])), states);
    expect(next.out.map((t) => [t.kind, t.time, t.startedAt])).toEqual([['FIRING', T0 + 5 * MINUTE, T0 + 5 * MINUTE]]);
    expect(states.get('bed-01')!.rules[0]!.window.map((r) => r.time)).toEqual([T0 + 1 * MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0 + 4 * MINUTE, T0 + 5 * MINUTE]);
  });

  it('does not flap when the clear level lies past the bound: it clears at the bound instead', () => {
    const rule: AlertRule = { ...HR_AVG, windowMs: 0, forMs: 0, clear: 105 };
    const { out } = runAlerts(series('heart_rate', T0, MINUTE, [103, 103, 103, 99]).map(withRules([rule])));
    expect(out.map((t) => [t.kind, t.time])).toEqual([['FIRING', T0], ['RESOLVED', T0 + 3 * MINUTE]]);
  });

  it('only applies to the sources listed', () => {
    const rule: AlertRule = { ...HR_AVG, sourceIds: ['bed-02'], forMs: 0 };
    const { out } = runAlerts([point('heart_rate', T0, 130, 'bed-01'), point('heart_rate', T0, 130, 'bed-02')].map(withRules([rule])));
    expect(out.map((t) => [t.sourceId, t.kind])).toEqual([['bed-02', 'FIRING']]);
  });

  it('with clearAfter waits for the value to stay within limits, but a breach of the other bound, or of a bound it was edited to, alarms at once', () => {
    const band: AlertRule = { id: 'hr-band', kind: 'THRESHOLD', sourceIds: null, metric: 'heart_rate', aggregate: 'LAST', windowMs: 0, above: 120, below: 50, forMs: 0, clear: null, severity: 'HIGH', clearAfterMs: 5 * MINUTE };
    // Tachycardia, back to 80 (waits), up again (the same alert), then straight to bradycardia.
    const { out } = runAlerts(series('heart_rate', T0, MINUTE, [130, 80, 125, 35]).map(withRules([band])));
    expect(out.map((t) => [t.kind, (t.time - T0) / MINUTE, t.value])).toEqual([
      ['FIRING', 0, 130],
      ['RESOLVED', 3, 35],
      ['FIRING', 3, 35],
    ]);
    expect(out[2]!.message).toBe('heart_rate 35 < 50');
    // Edited from above 120 to below 50 while firing: the new bound's breach fires at the next reading, not 5 minutes on.
    const above: AlertRule = { ...band, id: 'hr', below: null };
    const first = runAlerts([point('heart_rate', T0, 130)].map(withRules([above])));
    const edited = runAlerts([point('heart_rate', T0 + MINUTE, 40)].map(withRules([{ ...above, above: null, below: 50 }])), first.states);
    expect(edited.out.map((t) => [t.kind, (t.time - T0) / MINUTE])).toEqual([['RESOLVED', 1], ['FIRING', 1]]);
  });

  it("with clearAfter resolves by the patient's other readings when the metric's own stop while it waits (a probe taken off)", () => {
    const hypoxia: AlertRule = { id: 'spo2-low', kind: 'THRESHOLD', sourceIds: null, metric: 'spo2', aggregate: 'LAST', windowMs: 0, above: null, below: 90, forMs: 0, clear: null, severity: 'HIGH', clearAfterMs: 5 * MINUTE };
    const readings = [point('spo2', T0, 85), point('spo2', T0 + MINUTE, 97), ...series('heart_rate', T0 + 2 * MINUTE, MINUTE, [80, 80, 80, 80, 80, 80])];
    const { out, states } = runAlerts(readings.map(withRules([hypoxia])));
    expect(out.map((t) => [t.kind, (t.time - T0) / MINUTE])).toEqual([['FIRING', 0], ['RESOLVED', 6]]);
    expect(out[1]!.message).toBe("spo2 clear for 5m with no reading against it (the patient's other readings went on): resolved");
    // The probe back on, low again: a new alert.
    const again = runAlerts([point('spo2', T0 + 8 * MINUTE, 86)].map(withRules([hypoxia])), states);
    expect(again.out.map((t) => [t.kind, (t.time - T0) / MINUTE])).toEqual([['FIRING', 8]]);
    expect(again.out[0]!.alertId).not.toBe(out[0]!.alertId);
  });
});

// ---------------------------------------------------------------- rate of change

describe('rate-of-change rule', () => {
  const bpDrop: AlertRule = { id: 'bp-drop', kind: 'RATE_OF_CHANGE', sourceIds: null, metric: 'bp_systolic', windowMs: 10 * MINUTE, rise: null, drop: 30, forMs: 0, severity: 'HIGH' };

  it('fires when systolic drops more than 30 mmHg within 10 min, and resolves once the drop leaves the window', () => {
    const { out } = runAlerts(series('bp_systolic', T0, MINUTE, [130, 128, 126, 110, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95]).map(withRules([bpDrop])));
    expect(out.map((t) => [t.kind, t.time, t.value])).toEqual([
      ['FIRING', T0 + 4 * MINUTE, -35],
      ['RESOLVED', T0 + 12 * MINUTE, -15], // 126 (at 2m) leaves (t - 10m, t] at 12m; then the window's max is 110, only 15 above
    ]);
    expect(out[0]!.message).toBe('bp_systolic fell 35 within 10m (limit 30)');
  });

  it('ignores a slow drift, however far it goes', () => {
    const drift = Array.from({ length: 60 }, (_, i) => 160 - 2 * i); // 120 mmHg in an hour, 18 within any 10 minutes
    expect(runAlerts(series('bp_systolic', T0, MINUTE, drift).map(withRules([bpDrop]))).out).toEqual([]);
  });

  it('also watches rises, with a pending period', () => {
    const hrRise: AlertRule = { id: 'hr-rise', kind: 'RATE_OF_CHANGE', sourceIds: null, metric: 'heart_rate', windowMs: 5 * MINUTE, rise: 20, drop: null, forMs: MINUTE, severity: 'MEDIUM' };
    const { out } = runAlerts(series('heart_rate', T0, 30 * SECOND, [70, 75, 95, 96, 97, 70]).map(withRules([hrRise])));
    expect(out.map((t) => [t.kind, t.time, t.value])).toEqual([
      ['PENDING', T0 + MINUTE, 25],
      ['FIRING', T0 + 2 * MINUTE, 27],
      ['RESOLVED', T0 + 150 * SECOND, 0],
    ]);
  });
});

// ---------------------------------------------------------------- NEWS2 rule

describe('NEWS2 rule', () => {
  const rule: AlertRule = { id: 'news2', kind: 'NEWS2', sourceIds: null };
  const step = (changes: Partial<Record<News2Metric, number>>, minute: number) => Object.entries(changes).map(([m, v]) => point(m, T0 + minute * MINUTE, v));

  it('judges only parameters measured within NEWS2_MAX_AGE of each other: an open alert stays while one is out of date', () => {
    const readings = [
      ...step({ resp_rate: 22, spo2: 93, bp_systolic: 120, heart_rate: 95, consciousness: 0, temperature: 37 }, 0), // 2 + 2 + 1 = 5: HIGH
      // 13 hours on, the monitor's vitals are back to normal; consciousness and temperature are still those of minute 0.
      ...step({ resp_rate: 16, spo2: 97, heart_rate: 70, bp_systolic: 120 }, 13 * 60),
      // Charted again: 0, resolved.
      ...step({ consciousness: 0, temperature: 37 }, 13 * 60 + 1),
    ];
    const { out } = runAlerts(readings.map(withRules([rule])));
    expect(out.map((t) => [t.kind, t.severity, t.value, (t.time - T0) / MINUTE])).toEqual([
      ['FIRING', 'HIGH', 5, 0],
      ['RESOLVED', 'HIGH', 0, 13 * 60 + 1],
    ]);
  });

  it('fires at 5 (HIGH), updates at 7 (CRITICAL), resolves at LOW; a single 3 alone fires MEDIUM', () => {
    const readings = [
      ...step({ resp_rate: 22, spo2: 97, bp_systolic: 120, heart_rate: 70, consciousness: 0 }, 0), // incomplete: nothing yet
      ...step({ temperature: 37 }, 1), // 2, LOW
      ...step({ heart_rate: 95 }, 2), // 3
      ...step({ temperature: 38.5 }, 3), // 4
      ...step({ bp_systolic: 105 }, 4), // 5 MEDIUM → HIGH
      ...step({ heart_rate: 115 }, 5), // 6 MEDIUM, no change
      ...step({ spo2: 94 }, 6), // 7 HIGH → CRITICAL
      ...step({ spo2: 97 }, 7), // 6 → HIGH
      ...step({ resp_rate: 16, heart_rate: 70, temperature: 37, bp_systolic: 120 }, 8), // 4, 3, 2, 0: resolves on the first below 5
      ...step({ spo2: 91 }, 9), // 3 in one parameter → MEDIUM
      ...step({ spo2: 96 }, 10), // 0
      ...step({ consciousness: 1 }, 11), // new confusion: 3 → MEDIUM
    ];
    const { out } = runAlerts(readings.map(withRules([rule])));
    expect(out.map((t) => [t.kind, t.severity, t.value, (t.time - T0) / MINUTE])).toEqual([
      ['FIRING', 'HIGH', 5, 4],
      ['UPDATED', 'CRITICAL', 7, 6],
      ['UPDATED', 'HIGH', 6, 7],
      ['RESOLVED', 'HIGH', 4, 8],
      ['FIRING', 'MEDIUM', 3, 9],
      ['RESOLVED', 'MEDIUM', 0, 10],
      ['FIRING', 'MEDIUM', 3, 11],
    ]);
    expect(out.every((t) => t.metric === null && t.alertId.startsWith('news2/bed-01/news2/'))).toBe(true);
    expect(new Set(out.map((t) => t.alertId)).size).toBe(3);
    expect(out[0]!.message).toBe('NEWS2 5, medium clinical risk (resp_rate 2, bp_systolic 1, heart_rate 1, temperature 1)');
    expect(out[4]!.message).toBe('NEWS2 3, low-medium clinical risk (spo2 3)');
  });

  it('with clearAfter keeps one alert while the score wavers at the edge, and resolves once it has stayed LOW that long', () => {
    const holding: AlertRule = { ...rule, clearAfterMs: 5 * MINUTE };
    const readings = [
      ...step({ resp_rate: 22, spo2: 93, bp_systolic: 120, heart_rate: 95, consciousness: 0, temperature: 37 }, 0), // 5: HIGH
      ...step({ heart_rate: 85 }, 1), // 4: LOW
      ...step({ heart_rate: 95 }, 2), // 5 again: the same alert, nothing sent
      ...step({ heart_rate: 85 }, 3), // LOW: the 5 minutes count from here
      ...step({ heart_rate: 88 }, 6), // LOW, 3 minutes: waits
      ...step({ heart_rate: 86 }, 8), // LOW, 5 minutes: resolved
      ...step({ heart_rate: 95 }, 9), // 5: a new alert
    ];
    const { out, states } = runAlerts(readings.map(withRules([holding])));
    expect(out.map((t) => [t.kind, t.severity, t.value, (t.time - T0) / MINUTE])).toEqual([
      ['FIRING', 'HIGH', 5, 0],
      ['RESOLVED', 'HIGH', 4, 8],
      ['FIRING', 'HIGH', 5, 9],
    ]);
    expect(out[1]!.message).toBe('NEWS2 4, low clinical risk (resp_rate 2, spo2 2): resolved (clear for 5m)');
    expect(new Set(out.map((t) => t.alertId)).size).toBe(2);
    // The wait is state, and a breach ends it: no half-counted wait is left on the new episode.
    expect(states.get('bed-01')!.rules[0]!.episode).not.toHaveProperty('clearingSince');
  });

  it('with clearAfter resolves by readings outside the six once they have stopped while it waits', () => {
    const holding: AlertRule = { ...rule, clearAfterMs: 5 * MINUTE };
    const readings = [
      ...step({ resp_rate: 22, spo2: 93, bp_systolic: 120, heart_rate: 95, consciousness: 0, temperature: 37 }, 0), // 5: HIGH
      ...step({ heart_rate: 85 }, 1), // 4: LOW, waits
      ...[3, 5, 6, 7].map((minute) => point('bp_diastolic', T0 + minute * MINUTE, 80)), // the NEWS2 vitals stopped; another did not
    ];
    const { out } = runAlerts(readings.map(withRules([holding])));
    expect(out.map((t) => [t.kind, (t.time - T0) / MINUTE])).toEqual([['FIRING', 0], ['RESOLVED', 6]]);
  });

  it('scores a rule added later from the vitals already seen', () => {
    const first = runAlerts(step({ ...NORMAL, spo2: 90 }, 0).map(withRules([])));
    expect(first.out).toEqual([]);
    const { out } = runAlerts(step({ heart_rate: 72 }, 1).map(withRules([rule])), first.states);
    expect(out.map((t) => [t.kind, t.severity, t.value])).toEqual([['FIRING', 'MEDIUM', 3]]);
  });
});

// ---------------------------------------------------------------- rule changes

describe('rule changes', () => {
  const rule: AlertRule = { ...HR_AVG, forMs: 0 };
  const firing = () => runAlerts([point('heart_rate', T0, 130)].map(withRules([rule])));

  it('resolves the open alert of a removed rule on the patient’s next reading, of any metric, and forgets it', () => {
    const { out, states } = firing();
    expect(out.map((t) => t.kind)).toEqual(['FIRING']);
    const next = runAlerts([point('spo2', T0 + MINUTE, 97), point('heart_rate', T0 + 2 * MINUTE, 130)].map(withRules([])), states);
    expect(next.out.map((t) => [t.kind, t.alertId, t.time, t.value, t.message])).toEqual([
      ['RESOLVED', out[0]!.alertId, T0 + MINUTE, 130, 'rule hr-avg was removed or disabled: alert resolved'],
    ]);
    expect(states.get('bed-01')!.rules).toEqual([]);
  });

  it('never repeats an alertId or moves the clock back when a rule is disabled and enabled again', () => {
    const { out, states } = firing();
    runAlerts([point('spo2', T0 + MINUTE, 97)].map(withRules([])), states);
    // A late reading from the instant the first episode began breaches again.
    const again = runAlerts([point('heart_rate', T0, 130)].map(withRules([rule])), states);
    expect(again.out.map((t) => [t.kind, t.time])).toEqual([['FIRING', T0 + MINUTE]]);
    expect(again.out[0]!.alertId).not.toBe(out[0]!.alertId);
  });

  it('resolves when the rule stops covering the patient, or changes metric; keeps state and updates severity otherwise', () => {
    const { states } = firing();
    const edited = runAlerts([point('heart_rate', T0 + MINUTE, 130)].map(withRules([{ ...rule, severity: 'CRITICAL', above: 110 }])), states);
    expect(edited.out.map((t) => [t.kind, t.severity])).toEqual([['UPDATED', 'CRITICAL']]);
    const moved = runAlerts([point('heart_rate', T0 + 2 * MINUTE, 130)].map(withRules([{ ...rule, metric: 'pulse_rate' }])), states);
    expect(moved.out.map((t) => [t.kind, t.message])).toEqual([['RESOLVED', 'rule hr-avg changed to another kind or metric: alert resolved']]);

    const other = firing();
    const excluded = runAlerts([point('spo2', T0 + MINUTE, 97)].map(withRules([{ ...rule, sourceIds: ['bed-02'] }])), other.states);
    expect(excluded.out.map((t) => [t.kind, t.message])).toEqual([['RESOLVED', 'rule hr-avg no longer applies to bed-01: alert resolved']]);
  });
});

// ---------------------------------------------------------------- properties

const PATIENTS = ['bed-01', 'bed-02'] as const;
const METRICS = ['heart_rate', 'bp_systolic', ...NEWS2_METRICS.filter((m) => m !== 'heart_rate' && m !== 'bp_systolic')] as const;

const RULES: AlertRule[] = [
  HR_AVG,
  { id: 'hr-band', kind: 'THRESHOLD', sourceIds: null, metric: 'heart_rate', aggregate: 'LAST', windowMs: 0, above: 120, below: 50, forMs: 0, clear: null, severity: 'MEDIUM' },
  { id: 'bp-min', kind: 'THRESHOLD', sourceIds: ['bed-02'], metric: 'bp_systolic', aggregate: 'MIN', windowMs: 3 * MINUTE, above: null, below: 95, forMs: MINUTE, clear: 100, severity: 'HIGH' },
  { id: 'bp-change', kind: 'RATE_OF_CHANGE', sourceIds: null, metric: 'bp_systolic', windowMs: 10 * MINUTE, rise: 25, drop: 30, forMs: 30 * SECOND, severity: 'HIGH', clearAfterMs: MINUTE },
  { id: 'news2', kind: 'NEWS2', sourceIds: null, clearAfterMs: 2 * MINUTE },
];

/**
 * Readings of a patient in a surge (tachycardia, falling pressure, NEWS2
 * parameters out of range) or out of one, with noise: values straddle every
 * rule's bounds and the NEWS2 bands. Index [normal, surge].
 */
const NEWS2_CHOICES: Record<Exclude<(typeof METRICS)[number], 'heart_rate' | 'bp_systolic'>, [number[], number[]]> = {
  resp_rate: [[12, 16, 20], [8, 11, 21, 24, 25]],
  spo2: [[96, 98, 100], [91, 92, 94, 95, 96]],
  consciousness: [[0], [0, 0, 1, 4]],
  temperature: [[36.1, 37.2, 38.0], [35.0, 38.1, 39.1]],
};

function valueOf(metric: (typeof METRICS)[number], surge: boolean, noise: number, pick: number): number {
  const s = surge ? 1 : 0;
  if (metric === 'heart_rate') return [80, 115][s]! + noise + [0, 0.25, 0.5][pick % 3]!;
  if (metric === 'bp_systolic') return [130, 95][s]! + noise;
  const choices = NEWS2_CHOICES[metric][s];
  return choices[pick % choices.length]!;
}

/**
 * Readings of two patients, unique per (patient, metric, time) on a 15 s grid
 * over 15 minutes, each patient in a surge for a random stretch; delivered
 * mostly in time order but some up to 5 minutes late. The rules in force
 * change as the runtime would pass them: one rule is missing for 20 events
 * (removed, then added again), and from some point the thresholds are edited.
 */
const scenario = fc
  .record({
    raw: fc.uniqueArray(
      fc.record({
        patient: fc.nat(PATIENTS.length - 1),
        // Mostly heart rate and pressure: the NEWS2 metrics only need to be there.
        metric: fc.constantFrom(0, 0, 0, 1, 1, 1, 2, 3, 4, 5),
        offset: fc.integer({ min: 0, max: 60 }).map((n) => n * 15 * SECOND),
        delay: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 5 * MINUTE })),
        noise: fc.integer({ min: -15, max: 15 }),
        pick: fc.nat(),
      }),
      { selector: (r) => `${r.patient}/${r.metric}/${r.offset}`, minLength: 20, maxLength: 160 },
    ),
    surges: fc.tuple(...PATIENTS.map(() => fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 })).map(([a, b]) => [Math.min(a, b) * MINUTE, Math.max(a, b) * MINUTE] as const))),
    removeAt: fc.nat(),
    editAt: fc.nat(),
    removed: fc.nat(RULES.length - 1),
  })
  .map(({ raw, surges, removeAt, editAt, removed }) => {
    const delivered = [...raw].sort((a, b) => a.offset + a.delay - (b.offset + b.delay));
    const edited = RULES.map((r) => (r.kind === 'THRESHOLD' ? { ...r, above: r.above === null ? null : r.above - 5, severity: 'CRITICAL' as const } : r));
    const removeFrom = removeAt % (raw.length + 1);
    const editFrom = editAt % (raw.length + 1);
    return delivered.map((r, i): AlertInput => {
      let rules = i < editFrom ? RULES : edited;
      if (i >= removeFrom && i < removeFrom + 20) rules = rules.filter((_, j) => j !== removed);
      const [from, to] = surges[r.patient]!;
      const value = valueOf(METRICS[r.metric]!, from <= r.offset && r.offset < to, r.noise, r.pick);
      return { point: { sourceId: PATIENTS[r.patient]!, metric: METRICS[r.metric]!, time: T0 + r.offset, value, cursor: String(i + 1) }, rules };
    });
  });

/** Transitions of one rule and series follow the lifecycle: one open episode at a time, its transitions in order. */
function expectLifecycle(out: AlertTransition[]) {
  const open = new Map<string, AlertTransition>();
  const lastTime = new Map<string, number>();
  const seenAlertIds = new Set<string>();
  // Collected, then compared once: an expect() per transition would dominate the run time.
  const problems: string[] = [];
  for (const t of out) {
    const series = `${t.ruleId}/${t.sourceId}/${t.metric ?? 'news2'}`;
    const current = open.get(series);
    const problem = (what: string) => problems.push(`${t.id} after ${current?.kind ?? 'nothing open'}: ${what}`);
    if (t.alertId !== `${series}/${t.startedAt}`) problem('alertId is not rule/source/metric/start');
    if (t.id !== `${t.alertId}/${t.kind}/${t.time}/${t.cursor}`) problem('id is not alertId/kind/time/cursor');
    if (t.time < Math.max(t.startedAt, lastTime.get(series) ?? -Infinity)) problem('time went backwards');
    lastTime.set(series, t.time);
    if (current === undefined) {
      if (t.kind !== 'PENDING' && t.kind !== 'FIRING') problem('nothing open');
      if (seenAlertIds.has(t.alertId)) problem('alertId reused');
      if (t.startedAt !== t.time) problem('a new episode starts at its first transition');
      seenAlertIds.add(t.alertId);
    } else {
      if (t.alertId !== current.alertId) problem(`a second episode while ${current.alertId} is open`);
      if (t.kind === 'PENDING') problem('PENDING while open');
      if (t.kind === 'FIRING' && current.kind !== 'PENDING') problem('FIRING twice');
      if (t.kind === 'UPDATED' && current.kind === 'PENDING') problem('UPDATED while pending');
    }
    if (t.kind === 'RESOLVED') open.delete(series);
    else open.set(series, t);
  }
  expect(problems).toEqual([]);
}

describe("a patient's stays (discharge and readmission)", () => {
  /** A heart-rate rule that fires on the first reading above 120: forMs 0, no window. */
  const HR_LAST: AlertRule = { id: 'hr-last', kind: 'THRESHOLD', sourceIds: null, metric: 'heart_rate', aggregate: 'LAST', windowMs: 0, above: 120, below: null, forMs: 0, clear: null, severity: 'HIGH' };
  const NEWS: AlertRule = { id: 'news2', kind: 'NEWS2', sourceIds: null };
  const DISCHARGED = T0 + 10 * MINUTE;
  const READMITTED = T0 + 60 * MINUTE;
  /** A reading of minute `m`, arrived at its own time, in a platform where the patient's stay is `stay`. */
  const at = (m: number, value: number, stay?: AlertInput['stay'], metric = 'heart_rate'): AlertInput => ({
    point: point(metric, T0 + m * MINUTE, value),
    rules: [HR_LAST, NEWS],
    ...(stay ? { stay } : {}),
    receivedAt: T0 + m * MINUTE,
  });
  const discharged = { retiredAt: DISCHARGED, admittedAt: null };
  const readmitted = { retiredAt: null, admittedAt: READMITTED };

  it('closes an open alert at the first reading after the discharge, and raises nothing from an empty bed', () => {
    const { out } = runAlerts([at(0, 130), at(5, 135, discharged), at(11, 140, discharged), at(12, 150, discharged)]);
    expect(out.map((t) => [t.kind, t.alertId, t.message])).toEqual([
      ['FIRING', `hr-last/bed-01/heart_rate/${T0}`, 'heart_rate 130 > 120'],
      // Minute 5 arrived before the discharge: still the stay's.
      ['RESOLVED', `hr-last/bed-01/heart_rate/${T0}`, 'the patient was discharged (source retired): alert resolved'],
    ]);
  });

  it('starts a readmitted patient afresh: a breach raises a new alert, the earlier stay\'s open one is closed', () => {
    // No reading between the discharge and the readmission: the episode is still open in the processor.
    const { out, states } = runAlerts([at(0, 130), at(61, 130, readmitted), at(62, 100, readmitted), at(63, 140, readmitted)]);
    expect(out.map((t) => [t.kind, t.alertId, (t.time - T0) / MINUTE])).toEqual([
      ['FIRING', `hr-last/bed-01/heart_rate/${T0}`, 0],
      ['RESOLVED', `hr-last/bed-01/heart_rate/${T0}`, 61],
      ['FIRING', `hr-last/bed-01/heart_rate/${T0 + 61 * MINUTE}`, 61],
      ['RESOLVED', `hr-last/bed-01/heart_rate/${T0 + 61 * MINUTE}`, 62],
      ['FIRING', `hr-last/bed-01/heart_rate/${T0 + 63 * MINUTE}`, 63],
    ]);
    expect(out[1]!.message).toBe('the patient was readmitted: the earlier stay is closed: alert resolved');
    expect(states.get('bed-01')!.stay).toBe(READMITTED);
    // Before: the earlier episode went on through the readmission and nothing new was raised at minute 61.
  });

  it("scores NEWS2 of a readmitted patient from this stay's vitals only", () => {
    const vitals = (m: number, stay?: AlertInput['stay']) =>
      Object.entries({ resp_rate: 25, spo2: 91, bp_systolic: 90, heart_rate: 131, consciousness: 0, temperature: 39.5 }).map(([metric, value]) => at(m, value, stay, metric));
    const { out } = runAlerts([...vitals(0), at(61, 80, readmitted)]);
    const news2 = out.filter((t) => t.ruleId === 'news2');
    // One heart rate after the readmission scores nothing: the other five vitals are the earlier stay's.
    expect(news2.map((t) => t.kind)).toEqual(['FIRING', 'RESOLVED']);
    expect(news2[1]!.message).toMatch(/^the patient was readmitted/);
  });

  it("scores the NEWS2 stream of a readmitted patient from this stay's vitals, and a discharged one not at all", () => {
    const scores = createNews2Processor();
    const vitals = { resp_rate: 25, spo2: 91, bp_systolic: 90, heart_rate: 131, consciousness: 0, temperature: 39.5 };
    const of = (m: number, stay?: AlertInput['stay']) => Object.entries(vitals).map(([metric, value]) => ({ ...at(m, value, stay, metric).point, ...(stay ? { stay } : {}), receivedAt: T0 + m * MINUTE }));
    const { perEvent, states } = feed(scores, (e) => e.sourceId, [...of(0), ...of(11, discharged), { ...of(61, readmitted)[3]! }, ...of(62, readmitted)]);
    const emitted = perEvent.map((out) => out.length);
    // The first stay: a score once all six are known. Discharged: none. Readmitted: none from one new heart rate
    // (the other five would be the earlier stay's), then one once this stay has all six.
    expect(emitted).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(states.get('bed-01')).toMatchObject({ stay: READMITTED });
  });

  it('places readings by when they arrived, and leaves readings of unknown arrival (stored before arrivals were) alone', () => {
    // Sent at minute 11 (after the discharge) but stamped minute 9 by the device: arrived after, so nothing.
    const late: AlertInput = { ...at(9, 150, discharged), receivedAt: DISCHARGED + MINUTE };
    expect(runAlerts([late]).out).toEqual([]);
    const unknown: AlertInput = { ...at(11, 150, discharged), receivedAt: null };
    expect(runAlerts([unknown]).out.map((t) => t.kind)).toEqual(['FIRING']);
  });

  it('changes nothing for a patient never discharged', () => {
    const { out, states } = runAlerts([at(0, 130), at(1, 100), at(2, 140)]);
    expect(out.map((t) => [t.kind, (t.startedAt - T0) / MINUTE])).toEqual([['FIRING', 0], ['RESOLVED', 0], ['FIRING', 2]]);
    expect(states.get('bed-01')!.stay).toBeUndefined();
  });
});

describe('alert rules over arbitrary streams', () => {
  it('follow the lifecycle, keep windows bounded, and a replay from a JSON checkpoint repeats the same transitions', () => {
    fc.assert(
      fc.property(scenario, fc.nat(), fc.nat(), (events, checkpointSeed, crashSeed) => {
        const straight = runAlerts(events);
        expectLifecycle(straight.out);

        for (const state of straight.states.values()) {
          for (const rs of state.rules) {
            const rule = RULES.find((r) => r.id === rs.ruleId)!;
            if (rule.kind === 'NEWS2' || rs.window.length === 0) continue;
            const newest = rs.window.at(-1)!.time;
            if (!rs.window.every((r, i) => (i === 0 || r.time > rs.window[i - 1]!.time) && (r.time === newest || r.time > newest - rule.windowMs))) expect.fail(`window of ${rs.ruleId} out of order or too long`);
          }
        }

        // A crash after `crash` events, restarting from the checkpoint taken before event `checkpoint`.
        const checkpoint = checkpointSeed % (events.length + 1);
        const crash = checkpoint + (crashSeed % (events.length - checkpoint + 1));
        const before = runAlerts(events.slice(0, checkpoint));
        const saved = JSON.parse(JSON.stringify([...before.states])) as [string, AlertRulesState][];
        expect(new Map(saved)).toStrictEqual(before.states);
        const lost = runAlerts(events.slice(checkpoint, crash), new Map(JSON.parse(JSON.stringify(saved)) as [string, AlertRulesState][]));
        const replay = runAlerts(events.slice(checkpoint), new Map(saved));
        expect(replay.perEvent).toEqual(straight.perEvent.slice(checkpoint));
        expect(lost.perEvent).toEqual(straight.perEvent.slice(checkpoint, crash));
        // What is persisted by id ends the same as a run that never crashed.
        const byId = (outs: AlertTransition[]) => new Map(outs.map((t) => [t.id, t]));
        expect(byId([...before.out, ...lost.out, ...replay.out])).toEqual(byId(straight.out));
      }),
      { numRuns: 100 },
    );
  });

  it('compute the AVG of exactly the readings in (newest - 5m, newest], late ones included', () => {
    fc.assert(
      fc.property(scenario, (events) => {
        const only = events.map((e) => ({ ...e, rules: [{ ...HR_AVG, forMs: 0, clear: null, above: 90 }] }));
        const { out } = runAlerts(only);
        const byCursor = new Map(events.map((e, i) => [e.point.cursor, i]));
        for (const t of out) {
          if (t.message.includes('removed')) continue;
          const seen = events.slice(0, byCursor.get(t.cursor)! + 1).map((e) => e.point).filter((p) => p.sourceId === t.sourceId && p.metric === 'heart_rate');
          const newest = Math.max(...seen.map((p) => p.time));
          const inWindow = seen.filter((p) => p.time > newest - 5 * MINUTE);
          expect(t.value).toBeCloseTo(inWindow.reduce((a, p) => a + p.value, 0) / inWindow.length, 9);
        }
      }),
      { numRuns: 100 },
    );
  });
});
