import { z } from 'zod';
import { QUALITIES, type Quality } from '../db/schema.js';
import { itemErrorsFromZod, timeBoundsError, TIME_FORMAT_MESSAGE, type ItemCheck, type TimeBounds, type ItemError, type ItemErrorCode } from './item-errors.js';
import { metricDefinition } from './metrics.js';

/** Largest magnitude (1e15) a reading's value, or a trade's price or size, may have. */
export const MAX_MAGNITUDE = 1e15;

export const SOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** What SOURCE_ID_PATTERN allows, in words. */
export const SOURCE_ID_RULE = '1-128 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export const ReadingItem = z.object({
  sourceId: z
    .string({ error: 'sourceId must be a string' })
    .regex(SOURCE_ID_PATTERN, `sourceId must be ${SOURCE_ID_RULE}`),
  metric: z.string({ error: 'metric must be a string' }).max(64, 'metric is longer than 64 characters'),
  time: z.iso.datetime({ offset: true, error: TIME_FORMAT_MESSAGE }),
  // Bounded so sums of squares (SQL avg/stddev, window stddev) stay finite: 1e200 overflows them.
  value: z
    .number({ error: 'value must be a finite number' })
    .finite('value must be a finite number')
    .min(-MAX_MAGNITUDE, 'value must be between -1e15 and 1e15')
    .max(MAX_MAGNITUDE, 'value must be between -1e15 and 1e15'),
  unit: z.string().max(32, 'unit is longer than 32 characters').nullish(),
  quality: z.enum(QUALITIES, { error: `quality must be one of ${QUALITIES.join(', ')}` }).nullish(),
});

const QUALITY_SET = new Set<unknown>(QUALITIES);
/** Date#toISOString's form for years 0-9999. */
const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/**
 * Epoch ms of a time in Date#toISOString's own form that names a real
 * instant, read digit by digit (Date.parse took ~0.2 µs of a reading's
 * ~0.5 µs of checks, and ran twice); NaN for anything else: another form, a
 * 30 February, 24:00, a 60th second, a year before 100 (Date.UTC reads 0-99
 * as 1900-1999). Those go the slow way, through zod and Date.
 */
export function canonicalTimeMs(time: string): number {
  if (!CANONICAL_TIME.test(time)) return Number.NaN;
  const year = digits(time, 0, 4);
  const month = digits(time, 5, 7);
  const day = digits(time, 8, 10);
  const hour = digits(time, 11, 13);
  const minute = digits(time, 14, 16);
  const second = digits(time, 17, 19);
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, digits(time, 20, 23));
}

/**
 * The items a well-behaved sender posts, checked with plain tests (a batch
 * of 1,000 is on ingest's hot path; zod cost ~2 µs an item here). It accepts
 * a subset of what ReadingItem accepts, with the same result: the time only
 * in Date#toISOString's own form. Anything else (undefined) goes through
 * ReadingItem, which accepts the other valid forms and names what is wrong.
 * test/reading-item.test.ts checks the two agree.
 */
export function plainReading(item: unknown): z.infer<typeof ReadingItem> | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const { sourceId, metric, time, value, unit, quality } = item as Record<string, unknown>;
  if (typeof sourceId !== 'string' || !SOURCE_ID_PATTERN.test(sourceId)) return undefined;
  if (typeof metric !== 'string' || metric.length > 64) return undefined;
  // NaN and the infinities fail both comparisons.
  if (typeof value !== 'number' || !(value >= -MAX_MAGNITUDE && value <= MAX_MAGNITUDE)) return undefined;
  if (unit != null && (typeof unit !== 'string' || unit.length > 32)) return undefined;
  if (quality != null && !QUALITY_SET.has(quality)) return undefined;
  if (typeof time !== 'string' || Number.isNaN(canonicalTimeMs(time))) return undefined;
  return { sourceId, metric, time, value, unit: unit as string | null | undefined, quality: quality as Quality | null | undefined };
}

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
  bounds: TimeBounds,
): ItemCheck<ValidReading> {
  let input = plainReading(item);
  let ms: number;
  if (input) ms = canonicalTimeMs(input.time);
  else {
    const parsed = ReadingItem.safeParse(item);
    if (!parsed.success) return { ok: false, errors: itemErrorsFromZod(parsed.error, item, index, FIELD_CODES, ['sourceId', 'time']) };
    input = parsed.data;
    ms = Date.parse(input.time);
  }
  const errors: ItemError[] = [];
  const definition = metricDefinition(input.metric);
  if (!definition) {
    errors.push({ index, field: 'metric', code: 'UNKNOWN_METRIC', message: `metric "${input.metric}" is not in the catalog (query metrics for the list)` });
  } else if (definition.retired) {
    errors.push({ index, field: 'metric', code: 'UNKNOWN_METRIC', message: `metric "${input.metric}" is no longer taken in readings: ${definition.retired}` });
  } else if (input.unit && input.unit !== definition.unit) {
    errors.push({ index, field: 'unit', code: 'UNIT_MISMATCH', message: `unit "${input.unit}" does not match ${input.metric}'s unit "${definition.unit}"; send values in ${definition.unit}` });
  }
  const time = new Date(ms);
  const outOfRange = timeBoundsError(index, input.time, time, bounds);
  if (outOfRange) errors.push(outOfRange);
  if (errors.length || !definition) return { ok: false, errors };

  const inRange = input.value >= definition.min && input.value <= definition.max && (!definition.integer || Number.isInteger(input.value));
  const sent = input.quality ?? 'GOOD';
  return {
    ok: true,
    value: {
      sourceId: input.sourceId,
      metric: input.metric,
      time,
      value: input.value,
      unit: definition.unit,
      quality: sent === 'GOOD' && !inRange ? 'SUSPECT' : sent,
    },
  };
}
