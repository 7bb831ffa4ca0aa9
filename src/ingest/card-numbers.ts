/**
 * Card numbers (PANs) must not be stored. A transaction whose id, card id or
 * merchant holds one is refused at ingest (transaction-item.ts), and a refused
 * item is kept as a dead letter with every such number masked to its last four
 * digits.
 *
 * A PAN here is 13–19 digits, grouped or not by spaces, dots, colons,
 * underscores or dashes, made of whole groups of a run of them (so
 * `20261206-4111111111111111` and `4111111111111111-01` hold one), that could
 * be issued: it passes the Luhn check (a random reference fails it nine times in
 * ten) and has an issuer prefix cards have. Among those starting 0, 1 or 2,
 * where dates (2026…) and epoch milliseconds (17…) do, only UATP's 15 digits
 * from 1 and Mastercard's 2221–2720 are.
 */
/** Groups of digits joined by one separator each. */
const DIGIT_RUN = /\d+(?:[\s.:_-]\d+)*/g;
const GROUP = /\d+/g;

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

/**
 * `value` with each card number in it passed to `replace` (its digits alone). In a run of groups, the longest
 * card number starting at each group is taken, left to right.
 */
function replacePans(value: string, replace: (digits: string) => string): string {
  return value.replace(DIGIT_RUN, (run) => {
    const groups = [...run.matchAll(GROUP)].map((m) => ({ start: m.index, end: m.index + m[0].length, digits: m[0] }));
    let out = '';
    let copied = 0;
    for (let i = 0; i < groups.length; ) {
      let found: { end: number; digits: string; last: number } | undefined;
      for (let j = i, digits = ''; j < groups.length && (digits += groups[j]!.digits).length <= 19; j++) {
        if (digits.length >= 13 && couldBeIssued(digits) && passesLuhn(digits)) found = { end: groups[j]!.end, digits, last: j };
      }
      if (!found) {
        i++;
        continue;
      }
      out += run.slice(copied, groups[i]!.start) + replace(found.digits);
      copied = found.end;
      i = found.last + 1;
    }
    return out + run.slice(copied);
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
