/**
 * The metric catalog: each known metric's unit and the range a real
 * measurement can plausibly take (whole numbers only for a code such as
 * ACVPU). Values outside it are stored, flagged
 * SUSPECT (a clinician may still want to see a sensor gone wrong), never
 * dropped. Ranges are physiological plausibility limits, not alarm limits:
 * a SUSPECT value is left out of NEWS2 and alert rules, so a value a patient
 * can really have (a pulse of 0 in arrest, a systolic of 45 in shock, a
 * respiratory rate of 3) must stay GOOD and be scored.
 */
export interface MetricDefinition {
  name: string;
  description: string;
  unit: string;
  min: number;
  max: number;
  /** A code, not a measurement: only whole numbers are plausible. */
  integer?: boolean;
  /**
   * No longer taken in readings, and why (what to send instead). Its stored readings stay readable, and rules on it
   * stay stored (a new rule, or a change, naming it is refused: it would watch nothing): nothing accepted is lost.
   */
  retired?: string;
}

const CATALOG: readonly MetricDefinition[] = [
  { name: 'heart_rate', description: 'Heart (pulse) rate', unit: '/min', min: 0, max: 300 },
  { name: 'spo2', description: 'Peripheral oxygen saturation', unit: '%', min: 0, max: 100 },
  { name: 'resp_rate', description: 'Respiratory rate', unit: '/min', min: 0, max: 60 },
  // Severe accidental hypothermia reaches the mid-20s, a hypertensive crisis a systolic near 300: such a reading must
  // be scored (GOOD), not skipped as SUSPECT with the patient's last normal value scored in its place.
  { name: 'temperature', description: 'Body temperature', unit: '°C', min: 25, max: 45 },
  { name: 'bp_systolic', description: 'Systolic blood pressure', unit: 'mmHg', min: 0, max: 300 },
  { name: 'bp_diastolic', description: 'Diastolic blood pressure', unit: 'mmHg', min: 0, max: 200 },
  { name: 'etco2', description: 'End-tidal carbon dioxide', unit: 'mmHg', min: 0, max: 100 },
  { name: 'glucose', description: 'Blood glucose', unit: 'mmol/L', min: 1, max: 40 },
  // ACVPU as a number: 0 alert, 1 new confusion, 2 voice, 3 pain, 4 unresponsive (NEWS2).
  { name: 'consciousness', description: 'Level of consciousness, ACVPU as 0-4', unit: 'ACVPU', min: 0, max: 4, integer: true },
  // From before trades had a mutation of their own.
  { name: 'price', description: 'Instrument price', unit: 'price', min: 0, max: 1e12, retired: 'prices are trades, sent with ingestTrades for an INSTRUMENT source' },
];
const CURRENT = CATALOG.filter((m) => !m.retired);

const BY_NAME = new Map(CATALOG.map((m) => [m.name, m]));

/** Any metric readings have been stored under, retired ones included. */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/** The metrics readings are taken in now (the `metrics` query). */
export function metricCatalog(): readonly MetricDefinition[] {
  return CURRENT;
}

/** Every metric readings may be stored under, retired ones included: a source's latest values are of these. */
export function metricNames(): string[] {
  return CATALOG.map((m) => m.name);
}
