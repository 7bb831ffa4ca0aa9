import { z } from 'zod';
import { QUALITIES, type Quality } from '../db/schema.js';
import { metricDefinition } from './metrics.js';

/** Stable per-item error codes; clients switch on these, so never rename one. */
export const ITEM_ERROR_CODES = [
  'INVALID_SOURCE_ID',
  'UNKNOWN_SOURCE',
  'UNKNOWN_METRIC',
  'INVALID_TIME',
  'TIME_OUT_OF_RANGE',
  'INVALID_VALUE',
  'UNIT_MISMATCH',
  'INVALID_QUALITY',
  'INVALID_ITEM',
] as const;
export type ItemErrorCode = (typeof ITEM_ERROR_CODES)[number];

export interface ItemError {
  index: number;
  field: string | null;
  code: ItemErrorCode;
  message: string;
}

/** Earliest time a reading may carry: monitors whose clock reset to 1970 are caught here. */
export const EARLIEST_READING_TIME = new Date('2000-01-01T00:00:00Z');

export const SOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const ReadingItem = z.object({
  sourceId: z
    .string({ error: 'sourceId must be a string' })
    .regex(SOURCE_ID_PATTERN, 'sourceId must be 1-128 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit'),
  metric: z.string({ error: 'metric must be a string' }).max(64, 'metric is longer than 64 characters'),
  time: z.iso.datetime({ offset: true, error: 'time must be an ISO-8601 timestamp with a time zone, e.g. 2026-01-01T12:00:00Z' }),
  value: z.number({ error: 'value must be a finite number' }).finite('value must be a finite number'),
  unit: z.string().max(32, 'unit is longer than 32 characters').nullish(),
  quality: z.enum(QUALITIES, { error: `quality must be one of ${QUALITIES.join(', ')}` }).nullish(),
});

const FIELD_CODES: Record<string, ItemErrorCode> = {
  sourceId: 'INVALID_SOURCE_ID',
  metric: 'UNKNOWN_METRIC',
  time: 'INVALID_TIME',
  value: 'INVALID_VALUE',
  unit: 'UNIT_MISMATCH',
  quality: 'INVALID_QUALITY',
};

export interface ValidReading {
  sourceId: string;
  metric: string;
  time: Date;
  value: number;
  unit: string;
  quality: Quality;
}

/**
 * Checks one submitted item on its own (not against stored data): shape,
 * catalog metric and unit, time bounds. Out-of-range values are valid and
 * come back flagged SUSPECT; a sender's own SUSPECT or BAD flag is kept.
 */
export function validateReading(
  item: unknown,
  index: number,
  bounds: { latest: Date },
): { ok: true; reading: ValidReading } | { ok: false; errors: ItemError[] } {
  const parsed = ReadingItem.safeParse(item);
  if (!parsed.success) {
    const seen = new Set<string>();
    const errors: ItemError[] = [];
    for (const issue of parsed.error.issues) {
      const field = issue.path.length ? String(issue.path[0]) : null;
      if (seen.has(field ?? '')) continue;
      seen.add(field ?? '');
      const code = (field && FIELD_CODES[field]) || 'INVALID_ITEM';
      errors.push({ index, field, code, message: field ? issue.message : 'item must be an object' });
    }
    return { ok: false, errors };
  }

  const input = parsed.data;
  const errors: ItemError[] = [];
  const definition = metricDefinition(input.metric);
  if (!definition) {
    errors.push({ index, field: 'metric', code: 'UNKNOWN_METRIC', message: `metric "${input.metric}" is not in the catalog (query metrics for the list)` });
  } else if (input.unit && input.unit !== definition.unit) {
    errors.push({ index, field: 'unit', code: 'UNIT_MISMATCH', message: `unit "${input.unit}" does not match ${input.metric}'s unit "${definition.unit}"; send values in ${definition.unit}` });
  }
  const time = new Date(input.time);
  if (time < EARLIEST_READING_TIME || time > bounds.latest) {
    errors.push({
      index,
      field: 'time',
      code: 'TIME_OUT_OF_RANGE',
      message: `time ${input.time} is outside the accepted range ${EARLIEST_READING_TIME.toISOString()} to ${bounds.latest.toISOString()} (check the device clock)`,
    });
  }
  if (errors.length || !definition) return { ok: false, errors };

  const inRange = input.value >= definition.min && input.value <= definition.max;
  const sent = input.quality ?? 'GOOD';
  return {
    ok: true,
    reading: {
      sourceId: input.sourceId,
      metric: input.metric,
      time,
      value: input.value,
      unit: definition.unit,
      quality: sent === 'GOOD' && !inRange ? 'SUSPECT' : sent,
    },
  };
}
