import type { z } from 'zod';

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
  'INVALID_SYMBOL',
  'INVALID_PRICE',
  'INVALID_SIZE',
  'INVALID_TRADE_ID',
  'INVALID_ID',
  'INVALID_CARD',
  'INVALID_AMOUNT',
  'INVALID_CURRENCY',
  'INVALID_MERCHANT',
  'INVALID_LOCATION',
  'INVALID_IP',
  'INVALID_ITEM',
] as const;
export type ItemErrorCode = (typeof ITEM_ERROR_CODES)[number];

export interface ItemError {
  index: number;
  field: string | null;
  code: ItemErrorCode;
  message: string;
}

export type ItemCheck<T> = { ok: true; value: T } | { ok: false; errors: ItemError[] };

/** Earliest event time an item may carry: monitors and feeds whose clock reset to 1970 are caught here. */
export const EARLIEST_EVENT_TIME = new Date('2000-01-01T00:00:00Z');

/** Ingest takes times in one form (RFC 3339): seconds and an offset written with its colon, no 24:00. */
export const TIME_FORMAT_MESSAGE = 'time must be an ISO-8601 timestamp with seconds and a time zone (Z or ±hh:mm), e.g. 2026-01-01T12:00:00Z or 2026-01-01T13:00:00.250+01:00';

/**
 * One error per offending field, coded by `fieldCodes`; a non-object item is INVALID_ITEM. The fields in `quoted`
 * (ids and times: never a measurement, a card number or anything else a log or a dead letter must not hold) end
 * their message with what was sent, so a client finds the bad one among a thousand.
 */
export function itemErrorsFromZod(
  error: z.ZodError,
  item: unknown,
  index: number,
  fieldCodes: Record<string, ItemErrorCode>,
  quoted: readonly string[] = [],
): ItemError[] {
  const seen = new Set<string>();
  const errors: ItemError[] = [];
  for (const issue of error.issues) {
    const field = issue.path.length ? String(issue.path[0]) : null;
    if (seen.has(field ?? '')) continue;
    seen.add(field ?? '');
    const code = (field && fieldCodes[field]) || 'INVALID_ITEM';
    const sent = field !== null && quoted.includes(field) ? sentValue((item as Record<string, unknown>)[field]) : '';
    errors.push({ index, field, code, message: field ? `${issue.message}${sent}` : 'item must be an object' });
  }
  return errors;
}

/** `; got "…"` for a string or number sent, at most 80 characters of it; nothing for a missing field. */
function sentValue(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number') return '';
  const text = JSON.stringify(value);
  return `; got ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`;
}

/**
 * The event times a batch accepts: from EARLIEST_EVENT_TIME, or RETAIN_FOR ago if that is later (an older
 * event would be accepted and then deleted by the next retention sweep), to MAX_FUTURE_SKEW ahead.
 */
export interface TimeBounds {
  earliest: Date;
  latest: Date;
}

export function timeBounds(now: number, options: { maxFutureSkewMs: number; retainForMs: number }): TimeBounds {
  return { earliest: new Date(Math.max(EARLIEST_EVENT_TIME.getTime(), now - options.retainForMs)), latest: new Date(now + options.maxFutureSkewMs) };
}

/** TIME_OUT_OF_RANGE unless earliest <= time <= latest. */
export function timeBoundsError(index: number, sent: string, time: Date, { earliest, latest }: TimeBounds): ItemError | undefined {
  const ms = time.getTime();
  if (ms >= earliest.getTime() && ms <= latest.getTime()) return undefined;
  const why = ms < earliest.getTime() && earliest > EARLIEST_EVENT_TIME ? 'older than RETAIN_FOR keeps data' : "check the sender's clock";
  return {
    index,
    field: 'time',
    code: 'TIME_OUT_OF_RANGE',
    message: `time ${sent} is outside the accepted range ${earliest.toISOString()} to ${latest.toISOString()} (${why})`,
  };
}
