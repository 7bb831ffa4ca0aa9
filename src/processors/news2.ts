import type { Output, Processor } from './processor.js';
import type { Point } from './series.js';
import { stayPhase, type PatientStay } from './stays.js';

/**
 * NEWS2, the National Early Warning Score 2 (Royal College of Physicians,
 * 2017): six physiological parameters each scored 0-3, summed.
 *
 * SpO2 is scored on scale 1 and the patient is assumed to breathe air: the
 * platform has no supplemental-oxygen metric yet, so the "air or oxygen"
 * parameter (2 points on oxygen) is always 0 and scale 2 (hypercapnic
 * respiratory failure) cannot be chosen. Both need a new metric first.
 */
export const NEWS2_METRICS = ['resp_rate', 'spo2', 'bp_systolic', 'heart_rate', 'consciousness', 'temperature'] as const;
export type News2Metric = (typeof NEWS2_METRICS)[number];

export function isNews2Metric(metric: string): metric is News2Metric {
  return (NEWS2_METRICS as readonly string[]).includes(metric);
}

type Score = 0 | 1 | 2 | 3;

/**
 * NEWS2 bands, Royal College of Physicians 2017, as [inclusive upper bound,
 * score] from the lowest band up; a value above every bound scores `above`.
 * The published bands are on whole numbers (resp 9-11, 12-20, ...) and
 * temperature on tenths; measurements here are real-valued, so each band
 * runs up to and including the published upper bound, and a value between
 * two published bands is past the lower band's bound, so belongs to the upper
 * band (resp 11.5 scores like 12, temperature 36.05 like 36.1).
 */
const BANDS: Record<Exclude<News2Metric, 'consciousness'>, { upTo: readonly (readonly [number, Score])[]; above: Score }> = {
  // breaths/min
  resp_rate: { upTo: [[8, 3], [11, 1], [20, 0], [24, 2]], above: 3 },
  // %, scale 1
  spo2: { upTo: [[91, 3], [93, 2], [95, 1]], above: 0 },
  // mmHg
  bp_systolic: { upTo: [[90, 3], [100, 2], [110, 1], [219, 0]], above: 3 },
  // beats/min
  heart_rate: { upTo: [[40, 3], [50, 1], [90, 0], [110, 1], [130, 2]], above: 3 },
  // °C
  temperature: { upTo: [[35.0, 3], [36.0, 1], [38.0, 0], [39.0, 1]], above: 2 },
};

/** Score of one parameter (0–3) by the published bands. */
export function news2ParameterScore(metric: News2Metric, value: number): Score {
  // ACVPU coded 0 = Alert, 1 = new Confusion, 2 = Voice, 3 = Pain, 4 = Unresponsive (src/ingest/metrics.ts): anything but Alert scores 3.
  if (metric === 'consciousness') return value === 0 ? 0 : 3;
  const { upTo, above } = BANDS[metric];
  for (const [bound, score] of upTo) if (value <= bound) return score;
  return above;
}

export type News2Risk = 'LOW' | 'LOW_MEDIUM' | 'MEDIUM' | 'HIGH';

export interface News2Result {
  total: number;
  scores: Record<News2Metric, number>;
  /** The highest single parameter score: a 3 alone makes the risk at least LOW_MEDIUM. */
  highestSingle: number;
  risk: News2Risk;
}

/** null until every one of the six parameters has a value. */
export function news2(latest: Partial<Record<News2Metric, number>>): News2Result | null {
  const scores = {} as Record<News2Metric, number>;
  let total = 0;
  let highestSingle = 0;
  for (const metric of NEWS2_METRICS) {
    const value = latest[metric];
    if (value === undefined) return null;
    const score = news2ParameterScore(metric, value);
    scores[metric] = score;
    total += score;
    highestSingle = Math.max(highestSingle, score);
  }
  // Clinical risk thresholds, Royal College of Physicians 2017: 7+ high, 5-6 medium, a 3 in any single parameter low-medium.
  const risk: News2Risk = total >= 7 ? 'HIGH' : total >= 5 ? 'MEDIUM' : highestSingle === 3 ? 'LOW_MEDIUM' : 'LOW';
  return { total, scores, highestSingle, risk };
}

/** The latest reading of each NEWS2 parameter of one patient, by event time. Plain object: survives JSON. */
export type News2Latest = Partial<Record<News2Metric, { time: number; value: number }>>;

/**
 * `latest` with `point` taken in if it is a NEWS2 reading no older than the
 * one held: an out-of-order older reading must not replace a newer one. At
 * an equal time the later-delivered reading wins (the store keeps one
 * reading per source, metric and time, so that is a correction). Returns
 * `latest` itself when nothing changes; never mutates it.
 */
export function withNews2Reading(latest: News2Latest, point: Point): News2Latest {
  if (!isNews2Metric(point.metric)) return latest;
  const held = latest[point.metric];
  if (held !== undefined && held.time > point.time) return latest;
  // -0 does not survive JSON; normalise so a checkpointed state equals the live one.
  return { ...latest, [point.metric]: { time: point.time, value: point.value === 0 ? 0 : point.value } };
}

/**
 * How long a parameter counts after it was measured, by default, behind the newest of the six (NEWS2_MAX_AGE):
 * observations are charted at least every 12 hours at any score (RCP 2017). A consciousness level and a
 * temperature charted days ago scored a patient who has since become confused as LOW, stamped with the monitor's
 * latest pulse.
 */
export const NEWS2_MAX_AGE_MS = 12 * 3_600_000;

/**
 * The values of `latest`, or null until all six parameters have one measured within `maxAgeMs` of the newest of
 * them: a score is made of one set of observations, not of whatever each parameter last was.
 */
export function news2Values(latest: News2Latest, maxAgeMs: number): Record<News2Metric, number> | null {
  const values = {} as Record<News2Metric, number>;
  let newest = -Infinity;
  let oldest = Infinity;
  for (const metric of NEWS2_METRICS) {
    const held = latest[metric];
    if (held === undefined) return null;
    values[metric] = held.value;
    newest = Math.max(newest, held.time);
    oldest = Math.min(oldest, held.time);
  }
  return newest - oldest > maxAgeMs ? null : values;
}

/** A patient's current NEWS2 score. id = sourceId: the latest score supersedes the previous one. */
export interface News2Score extends Output {
  sourceId: string;
  /** Event time of the newest of the six values the score is made of. */
  time: number;
  /** Cursor of the reading that caused this output. */
  cursor: string;
  total: number;
  risk: News2Result['risk'];
  highestSingle: number;
  scores: Record<News2Metric, number>;
  values: Record<News2Metric, number>;
  /** Event time each value was measured (ms). Absent from a score stored, or sent by a node, of an earlier version. */
  times?: Record<News2Metric, number>;
  /** The stay it was scored in (News2State.stay: the readmission's time, ms); null for the patient's first stay. */
  stay: number | null;
}

/** One patient's latest NEWS2 parameters. */
export interface News2State {
  latest: News2Latest;
  /** The readmission (PatientStay.admittedAt) these parameters are of; absent before the first. */
  stay?: number;
}

/** A reading, with the patient's stay and the reading's arrival, which places it in one (stays.ts). */
export type News2Input = Point & { stay?: PatientStay; receivedAt?: number | null };

/**
 * NEWS2 per patient: the runtime keys this processor by sourceId; each stay of a patient is scored from its own
 * vitals (a discharged patient's readings are not scored). After
 * each NEWS2 reading (other metrics are ignored) emits the patient's current
 * score, once all six parameters are known within `maxAgeMs` of each other
 * (none while one is older: the stored score then stays at the time it was
 * last made, until that parameter is measured again); an older out-of-order reading
 * changes nothing but still re-emits the current score, which is harmless
 * since the id is the same.
 */
export function createNews2Processor({ maxAgeMs = NEWS2_MAX_AGE_MS }: { maxAgeMs?: number } = {}): Processor<News2State, News2Input, News2Score> {
  return {
    name: 'news2',
    init: () => ({ latest: {} }),
    onEvent(given, point) {
      if (!isNews2Metric(point.metric)) return { state: given, out: [] };
      // A discharged patient is not scored; a readmitted one is scored from this stay's vitals only.
      let state = given;
      const phase = stayPhase(point.stay, point.receivedAt, state.stay);
      if (phase === 'discharged') return { state: Object.keys(state.latest).length === 0 ? state : { ...state, latest: {} }, out: [] };
      if (phase === 'readmitted') state = { latest: {}, stay: point.stay!.admittedAt! };
      const latest = withNews2Reading(state.latest, point);
      const next = latest === state.latest ? state : { ...state, latest };
      const values = news2Values(latest, maxAgeMs);
      if (values === null) return { state: next, out: [] };
      const result = news2(values)!;
      const times = Object.fromEntries(NEWS2_METRICS.map((metric) => [metric, latest[metric]!.time])) as Record<News2Metric, number>;
      const time = Math.max(...Object.values(times));
      const { sourceId, cursor } = point;
      return { state: next, out: [{ id: sourceId, sourceId, time, cursor, ...result, values, times, stay: next.stay ?? null }] };
    },
    onWatermark: (state) => ({ state, out: [] }),
  };
}
