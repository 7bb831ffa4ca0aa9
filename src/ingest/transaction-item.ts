import { isIP } from 'node:net';
import { z } from 'zod';
import type { Transaction } from '../db/transactions.js';
import { containsPan } from './card-numbers.js';
import { itemErrorsFromZod, timeBoundsError, TIME_FORMAT_MESSAGE, type ItemCheck, type TimeBounds, type ItemErrorCode } from './item-errors.js';

/** Partner transaction and card references: opaque tokens, never card numbers (card-numbers.ts). */
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const CARD_NUMBER_MESSAGE = (field: string) =>
  `${field} holds what looks like a card number (13-19 digits that pass the Luhn check); card numbers must not be stored: send a token instead`;

/**
 * ISO 4217 codes of the currencies in use, as this Node.js's ICU lists them (about 160; not the funds and metals
 * codes, X..): a code of three capitals that names no currency (ZZZ, a transposed CFH) is a feed's mistake, and its
 * amounts would count beside real ones in velocity and amount checks.
 */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

const reference = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .regex(REFERENCE, `${field} must be 1-64 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit`)
    .refine((v) => !containsPan(v), CARD_NUMBER_MESSAGE(field));

/**
 * What keeps `value` from being a transaction id or card id that ingest would store: its shape, or a card number in
 * it (null: none). For lookups, which must name which argument is wrong without quoting a card number back.
 */
export function referenceProblem(value: string): 'shape' | 'card number' | null {
  if (!REFERENCE.test(value)) return 'shape';
  return containsPan(value) ? 'card number' : null;
}

const TransactionItem = z.object({
  id: reference('id'),
  cardId: reference('cardId'),
  time: z.iso.datetime({ offset: true, error: TIME_FORMAT_MESSAGE }),
  amount: z
    .number({ error: 'amount must be a finite number' })
    .finite('amount must be a finite number')
    .positive('amount must be greater than 0')
    .max(1e12, 'amount must be at most 1e12 (implausibly large)'),
  currency: z
    .string({ error: 'currency must be a string' })
    .regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR')
    .refine((code) => !/^[A-Z]{3}$/.test(code) || CURRENCIES.has(code), 'currency must be the ISO 4217 code of a currency in use, such as EUR: this one names none'),
  merchant: z
    .string({ error: 'merchant must be a string' })
    .trim()
    .min(1, 'merchant must not be empty')
    .max(128, 'merchant is longer than 128 characters')
    .refine((v) => !v.includes('\u0000'), 'merchant must not contain NUL characters')
    .refine((v) => v.isWellFormed(), 'merchant must not contain a lone UTF-16 surrogate (such as \\ud800)')
    .refine((v) => !containsPan(v), CARD_NUMBER_MESSAGE('merchant')),
  location: z.object(
    {
      lat: z.number({ error: 'location.lat must be a number' }).min(-90, 'location.lat must be between -90 and 90').max(90, 'location.lat must be between -90 and 90'),
      lon: z.number({ error: 'location.lon must be a number' }).min(-180, 'location.lon must be between -180 and 180').max(180, 'location.lon must be between -180 and 180'),
    },
    { error: 'location must be { lat, lon }' },
  ),
  ip: z.union([z.ipv4(), z.ipv6()], { error: 'ip must be an IPv4 or IPv6 address' }),
});

const FIELD_CODES: Record<string, ItemErrorCode> = {
  id: 'INVALID_ID',
  cardId: 'INVALID_CARD',
  time: 'INVALID_TIME',
  amount: 'INVALID_AMOUNT',
  currency: 'INVALID_CURRENCY',
  merchant: 'INVALID_MERCHANT',
  location: 'INVALID_LOCATION',
  ip: 'INVALID_IP',
};

/** A checked transaction, before it has a cursor. */
export type ValidTransaction = Omit<Transaction, 'cursor' | 'tenantId'>;

/** Checks one submitted card transaction on its own: shape, amount, currency, location, IP, time bounds. */
export function validateTransaction(item: unknown, index: number, bounds: TimeBounds): ItemCheck<ValidTransaction> {
  const parsed = TransactionItem.safeParse(item);
  if (!parsed.success) return { ok: false, errors: itemErrorsFromZod(parsed.error, item, index, FIELD_CODES) };
  const input = parsed.data;
  const time = new Date(input.time);
  const outOfRange = timeBoundsError(index, input.time, time, bounds);
  if (outOfRange) return { ok: false, errors: [outOfRange] };
  const { location, ...rest } = input;
  return { ok: true, value: { ...rest, ip: canonicalIp(input.ip), time, lat: location.lat, lon: location.lon } };
}

/**
 * One spelling per address, so IP velocity counts 2001:DB8::1 and 2001:db8:0:0::1 as one buyer, and an IPv4
 * address as dual-stack servers report it (::ffff:9.9.9.9) as the same buyer as 9.9.9.9.
 */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  const canonical = new URL(`http://[${ip}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * Signal subjects to filter by: each as given and, for an IP address, as ingest stores it, so `2001:DB8::1` finds the
 * signals of `2001:db8::1`. Both, since a card id may also read as an IPv6 address.
 */
export function subjectsAsStored(subjects: readonly string[] | null | undefined): string[] | null | undefined {
  return subjects && [...new Set(subjects.flatMap((s) => (isIP(s) ? [s, canonicalIp(s)] : [s])))];
}
