/**
 * Card numbers (PANs) must not be stored. A transaction whose id, card id or
 * merchant holds one is refused at ingest (transaction-item.ts), and a refused
 * item is kept as a dead letter with every such number masked to its last four
 * digits.
 *
 * A PAN here is 13–19 digits (of any script: a fullwidth `４１１１` typed
 * through an East Asian input method is the same number), grouped or not by
 * up to three spaces, dots, colons, underscores, commas, slashes or dashes
 * (`4111  1111`, `4111 - 1111`, `4111/1111`, `4111–1111`, as numbers are
 * copied from forms and receipts): a run of such groups whole, or its first or last
 * groups grouped as cards are (so `20261206-4111111111111111` and
 * `4111111111111111-01` hold one), that could be issued: it passes the Luhn check (a random reference fails it nine times in
 * ten) and has an issuer prefix cards have. Among those starting 0, 1 or 2,
 * where dates (2026…) and epoch milliseconds (17…) do, only UATP's 15 digits
 * from 1 and Mastercard's 2221–2720 are.
 */
/** What may stand between two groups of a card number's digits: up to three of them. */
const SEPARATOR = String.raw`[\s.:_,/\-\u2010-\u2015\u2212]`;
/** Groups of digits joined by separators. */
const DIGIT_RUN = new RegExp(String.raw`\p{Nd}+(?:${SEPARATOR}{1,3}\p{Nd}+)*`, 'gu');
/** A run of 13 or more digits, for strings too long to be a field (maskString). */
const LONG_DIGIT_RUN = new RegExp(String.raw`\p{Nd}(?:${SEPARATOR}{0,3}\p{Nd}){12,}`, 'gu');
const DIGIT_GROUP = /\p{Nd}+/gu;
const NOT_DIGIT = /\P{Nd}/gu;
const ASCII_DIGITS = /^[0-9]*$/;

/**
 * `digits` (decimal digits of any script) as ASCII digits. Unicode puts each script's ten digits in a row, zero
 * first, and rows that touch (the mathematical digits) are whole rows of ten: a digit's value is its distance from
 * the start of its row, modulo ten.
 */
function asciiDigits(digits: string): string {
  if (ASCII_DIGITS.test(digits)) return digits;
  let ascii = '';
  for (const digit of digits) {
    const point = digit.codePointAt(0)!;
    let start = point;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
    ascii += String((point - start) % 10);
  }
  return ascii;
}

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

/** Longer strings are never a field that may hold a reference (ids 64, merchants 128): checked coarsely, in one pass. */
const PRECISE_UP_TO = 256;
/** Groups a card number is written in at most (4-4-4-4-3). */
const MAX_CARD_GROUPS = 5;

/** How card numbers are written in groups: one, fours (the last may be shorter), or American Express's 4-6-5 and Diners' 4-6-4. */
function groupedAsCards(lengths: number[]): boolean {
  if (lengths.length === 1) return true;
  if (lengths.slice(0, -1).every((n) => n === 4) && lengths.at(-1)! <= 4) return true;
  return lengths.length === 3 && lengths[0] === 4 && lengths[1] === 6 && (lengths[2] === 5 || lengths[2] === 4);
}

/**
 * The PAN a run of digit groups holds, if any: the run whole, or its first or last groups when they are grouped as
 * card numbers are (a reference with a date or a sequence number beside the card number). Any other windows
 * doubled the references refused by chance (an invoice number of 6-4-4-3 digits: 14% against 7%).
 */
function panIn(run: string): string | undefined {
  const groups = run.match(DIGIT_GROUP)!.map(asciiDigits);
  const isPan = (digits: string) => digits.length >= 13 && digits.length <= 19 && couldBeIssued(digits) && passesLuhn(digits);
  const whole = groups.join('');
  if (isPan(whole)) return whole;
  for (let n = 1; n < groups.length && n <= MAX_CARD_GROUPS; n++) {
    for (const window of [groups.slice(0, n), groups.slice(groups.length - n)]) {
      const digits = window.join('');
      if (groupedAsCards(window.map((g) => g.length)) && isPan(digits)) return digits;
    }
  }
  return undefined;
}

/** Holds a card number anywhere in it: `4111 1111 1111 1111`, `tok_4111111111111111`, `20261206-4111111111111111`. */
export function containsPan(value: string): boolean {
  // Longer than any field that is checked: refused for its length already.
  if (value.length > PRECISE_UP_TO) return false;
  for (const [run] of value.matchAll(DIGIT_RUN)) if (panIn(run)) return true;
  return false;
}

/**
 * `value` with each run of digit groups that holds a card number replaced by "•••• " and the number's last four
 * digits: the whole run, so no digits of the number are left beside it. In a string too long to be a field, every
 * run of 13 or more digits is masked so, card number or not.
 */
function maskString(value: string): string {
  if (value.length > PRECISE_UP_TO) {
    return value.replace(LONG_DIGIT_RUN, (run) => `•••• ${asciiDigits(run.replace(NOT_DIGIT, '')).slice(-4)}`);
  }
  return value.replace(DIGIT_RUN, (run) => {
    const pan = panIn(run);
    return pan ? `•••• ${pan.slice(-4)}` : run;
  });
}

/**
 * A number sent where a string or a small number belongs (a card number mapped into `amount`) is refused, and its
 * dead letter would keep it: one that holds a card number becomes "•••• " and its last four digits. Beyond 2^53 a
 * number's last digits are no longer those sent and the Luhn check says nothing, so a whole number of 16-19 digits
 * there is masked card number or not.
 */
function maskNumber(value: number): number | string {
  if (!Number.isInteger(value)) return value;
  const digits = String(Math.abs(value));
  if (!/^\d{13,19}$/.test(digits)) return value;
  return Number.isSafeInteger(value) && !panIn(digits) ? value : `•••• ${digits.slice(-4)}`;
}

/** `value` with every card number in its strings and numbers replaced by "•••• " and its last four digits; a copy. */
export function maskCardNumbers(value: unknown): unknown {
  if (typeof value === 'string') return maskString(value);
  if (typeof value === 'number') return maskNumber(value);
  if (Array.isArray(value)) return value.map(maskCardNumbers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, maskCardNumbers(v)]));
  }
  return value;
}
