/** The vitals a tile shows, in order. Blood pressure is two metrics shown as one. */
export interface VitalSpec {
  key: string;
  label: string;
  name: string;
  unit: string;
  metrics: string[];
  digits: number;
}

export const VITALS: VitalSpec[] = [
  { key: 'heart_rate', label: 'HR', name: 'Heart rate', unit: '/min', metrics: ['heart_rate'], digits: 0 },
  { key: 'spo2', label: 'SpO₂', name: 'Oxygen saturation', unit: '%', metrics: ['spo2'], digits: 0 },
  { key: 'resp_rate', label: 'RR', name: 'Respiratory rate', unit: '/min', metrics: ['resp_rate'], digits: 0 },
  { key: 'bp', label: 'BP', name: 'Blood pressure', unit: 'mmHg', metrics: ['bp_systolic', 'bp_diastolic'], digits: 0 },
  { key: 'temperature', label: 'Temp', name: 'Temperature', unit: '°C', metrics: ['temperature'], digits: 1 },
];

/** The metric a wall tile's sparkline draws: its newest TREND_POINTS values. */
export const TREND_METRIC = 'heart_rate';
export const TREND_POINTS = 60;

export const METRIC_NAMES: Record<string, string> = {
  heart_rate: 'Heart rate',
  spo2: 'SpO₂',
  resp_rate: 'Respiratory rate',
  bp_systolic: 'Systolic BP',
  bp_diastolic: 'Diastolic BP',
  temperature: 'Temperature',
  consciousness: 'Consciousness (ACVPU)',
  etco2: 'EtCO₂',
  glucose: 'Glucose',
};

export const metricName = (metric: string | null | undefined) => (metric ? (METRIC_NAMES[metric] ?? metric) : 'any metric');

export const SEVERITY_ORDER = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityName = (typeof SEVERITY_ORDER)[number];

/** Shape and text for each severity, so colour is never the only sign. */
export const SEVERITY_ICON: Record<string, string> = { LOW: '●', MEDIUM: '◆', HIGH: '▲', CRITICAL: '⬣' };

export function formatValue(value: number | null | undefined, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(digits);
}

/** "5 s", "3 min", "2 h 5 min", "4 d". */
export function formatAge(ms: number) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

export function formatTime(iso: string | number) {
  const d = new Date(iso);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function formatDateTime(iso: string | number) {
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${formatTime(iso)}`;
}
