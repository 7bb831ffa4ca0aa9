import type { AlertRuleInput, TransactionInput } from './generated/graphql.js';

/**
 * What `npm run simulate -- --scenario …` adds to the steady traffic, so the
 * alerting and fraud paths can be watched end to end: a deteriorating
 * patient, a monitor that drops out, a card in two cities minutes apart, a
 * burst of high-value purchases from one IP.
 */
export const SCENARIOS = ['deteriorating', 'dropout', 'travel', 'burst'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  /** Patient ids in order; the first deteriorates, the last drops out. */
  patients: string[];
  deteriorateOverSeconds: number;
  dropoutAfterSeconds: number;
  dropoutForSeconds: number;
  /** Seconds between the two cities of the travel scenario. */
  travelGapSeconds: number;
  /** NO_DATA rule interval, seconds. */
  silenceSeconds: number;
}

/** Where a deteriorating patient ends up: NEWS2 well above 7. */
const DETERIORATED: Record<string, number> = { heart_rate: 132, resp_rate: 28, spo2: 87, temperature: 38.8, bp_systolic: 92, consciousness: 1 };

const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

export function scenarioPlan(selected: readonly Scenario[], o: ScenarioOptions, rand: () => number) {
  const has = (s: Scenario) => selected.includes(s);
  const deteriorating = o.patients[0]!;
  const droppingOut = o.patients.at(-1)!;
  const cardTraffic = has('travel') || has('burst');
  let txSeq = 0;
  const runId = Math.floor(rand() * 1e9).toString(36);
  const transaction = (time: number, over: Partial<TransactionInput> = {}): TransactionInput => ({
    id: `sim-${runId}-${++txSeq}`,
    cardId: `card-${1 + Math.floor(rand() * 40)}`,
    time: new Date(time).toISOString(),
    amount: Math.round((5 + rand() * 80) * 100) / 100,
    currency: 'EUR',
    merchant: ['Grocer', 'Pharmacy', 'Cafe', 'Books', 'Transit'][Math.floor(rand() * 5)]!,
    location: { lat: LONDON.lat + (rand() - 0.5) * 0.1, lon: LONDON.lon + (rand() - 0.5) * 0.1 },
    ip: `198.51.100.${1 + Math.floor(rand() * 200)}`,
    ...over,
  });

  return {
    /** The level a vital drifts towards at `second`: the patient's baseline, or for the deteriorating patient a worsening one. */
    target(sourceId: string, metric: string, baseline: number, second: number): { mean: number; pull: number } {
      if (!has('deteriorating') || sourceId !== deteriorating || !(metric in DETERIORATED)) return { mean: baseline, pull: 0.05 };
      const progress = Math.min(1, second / o.deteriorateOverSeconds);
      return { mean: baseline + (DETERIORATED[metric]! - baseline) * progress, pull: 0.25 };
    },
    /** Whether a source's monitor is sending at `second`. */
    sends(sourceId: string, second: number): boolean {
      return !(has('dropout') && sourceId === droppingOut && second >= o.dropoutAfterSeconds && second < o.dropoutAfterSeconds + o.dropoutForSeconds);
    },
    /** Card transactions for the second starting at `start` (epoch ms). */
    transactions(second: number, start: number): TransactionInput[] {
      if (!cardTraffic) return [];
      const out = Array.from({ length: 3 }, (_, k) => transaction(start + k * 300));
      if (has('travel') && second === 1) out.push(transaction(start + 500, { cardId: 'card-traveller', location: LONDON, merchant: 'Heathrow Duty Free', amount: 120 }));
      if (has('travel') && second === 1 + o.travelGapSeconds) {
        out.push(transaction(start + 500, { cardId: 'card-traveller', location: NEW_YORK, merchant: 'Times Square Electronics', amount: 340 }));
      }
      if (has('burst') && second === 2) {
        for (let k = 0; k < 5; k++) out.push(transaction(start + 100 + k * 150, { ip: '203.0.113.66', amount: 900 + k * 150, merchant: 'Electronics Online' }));
      }
      return out.sort((a, b) => a.time.localeCompare(b.time));
    },
    /** Rules the scenarios are watched by, on the simulated patients only. */
    rules(): AlertRuleInput[] {
      const rules: AlertRuleInput[] = [
        { name: 'NEWS2 early warning', kind: 'NEWS2' },
        { name: 'Tachycardia: avg heart rate over 5m > 100 for 2m', kind: 'THRESHOLD', metric: 'heart_rate', aggregate: 'AVG', window: '5m', above: 100, for: '2m', clear: 95, severity: 'HIGH' },
        { name: 'Hypoxia: SpO2 < 90 for 1m', kind: 'THRESHOLD', metric: 'spo2', below: 90, for: '1m', clear: 92, severity: 'CRITICAL' },
        { name: `Monitor silent > ${o.silenceSeconds}s`, kind: 'NO_DATA', expectedInterval: `${o.silenceSeconds}s`, severity: 'HIGH' },
      ];
      return rules.map((rule) => ({ ...rule, sourceIds: o.patients }));
    },
  };
}
