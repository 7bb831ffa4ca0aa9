/**
 * Card numbers (PANs) must not be stored. A transaction whose id, card id or
 * merchant holds one is refused at ingest (transaction-item.ts), and a refused
 * item is kept as a dead letter with every such number masked to its last four
 * digits.
 *
 * A PAN here is 13–19 digits, grouped or not by spaces, dots, colons,
 * underscores or dashes, not part of a longer run of digits, that could be
 * issued: it passes the Luhn check (a random reference fails it nine times in
 * ten) and has an issuer prefix cards have. Among those starting 0, 1 or 2,
 * where dates (2026…) and epoch milliseconds (17…) do, only UATP's 15 digits
 * from 1 and Mastercard's 2221–2720 are.
 */
const SEPARATOR = '[\\s.:_-]';
const DIGIT_RUN = new RegExp(`(?<!\\d${SEPARATOR}?)\\d(?:${SEPARATOR}?\\d){12,18}(?!${SEPARATOR}?\\d)`, 'g');
const SEPARATORS = new RegExp(SEPARATOR, 'g');

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let digit = digits.charCodeAt(i) - 48;
    if (double && (digit *= 2) > 9) digit -= 9;
    sum += digit;
  }
  return sum % 10 === 0;
}

function couldBeIssued(digits: string): boolean {
  switch (digits[0]) {
    case '0':
      return false;
    case '1':
      return digits.length === 15;
    case '2': {
      const prefix = Number(digits.slice(0, 4));
      return prefix >= 2221 && prefix <= 2720;
    }
    default:
      return true;
  }
}

/** `value` with each card number in it passed to `replace` (its digits alone). */
function replacePans(value: string, replace: (digits: string) => string): string {
  return value.replace(DIGIT_RUN, (run) => {
    const digits = run.replace(SEPARATORS, '');
    return couldBeIssued(digits) && passesLuhn(digits) ? replace(digits) : run;
  });
}

/** Holds a card number anywhere in it: `4111 1111 1111 1111`, `tok_4111111111111111`. */
export function containsPan(value: string): boolean {
  let found = false;
  replacePans(value, (digits) => ((found = true), digits));
  return found;
}

/** `value` with every card number in its strings replaced by "•••• " and its last four digits; a copy. */
export function maskCardNumbers(value: unknown): unknown {
  if (typeof value === 'string') return replacePans(value, (digits) => `•••• ${digits.slice(-4)}`);
  if (Array.isArray(value)) return value.map(maskCardNumbers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, maskCardNumbers(v)]));
  }
  return value;
}
