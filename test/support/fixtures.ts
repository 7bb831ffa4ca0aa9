import type { ReadingInput } from '../../src/generated/graphql.js';

/** Readings at whole seconds from a fixed instant, so tests control event time. */
export const T0 = Date.parse('2026-11-20T08:00:00Z');

export const at = (secondsAfterT0: number) => new Date(T0 + secondsAfterT0 * 1000).toISOString();

export const heartRate = (sourceId: string, value: number, second = 0): ReadingInput => ({
  sourceId,
  metric: 'heart_rate',
  time: at(second),
  value,
});

export const reading = (sourceId: string, metric: string, value: number, second: number): ReadingInput => ({
  sourceId,
  metric,
  time: at(second),
  value,
});

export const patients = (...ids: string[]) => ids.map((id) => ({ id, kind: 'PATIENT' as const, name: `Patient ${id}` }));
