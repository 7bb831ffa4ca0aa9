/**
 * Card numbers (PANs) must not be stored. References that look like one are
 * refused at ingest (transaction-item.ts), and a refused item is kept as a
 * dead letter with every such value masked to its last four digits.
 */
const LOOKS_LIKE_PAN = /^\d{13,19}$/;
const SEPARATORS = /[\s.:_-]/g;

/** 13–19 digits once spaces, dots, colons, underscores and dashes are taken out. */
export const looksLikePan = (value: string): boolean => LOOKS_LIKE_PAN.test(value.replace(SEPARATORS, ''));

/** `value` with every string that looks like a card number replaced by "•••• " and its last four digits; a copy. */
export function maskCardNumbers(value: unknown): unknown {
  if (typeof value === 'string') return looksLikePan(value) ? `•••• ${value.replace(SEPARATORS, '').slice(-4)}` : value;
  if (Array.isArray(value)) return value.map(maskCardNumbers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, maskCardNumbers(v)]));
  }
  return value;
}
