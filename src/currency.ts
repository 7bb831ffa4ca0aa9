/**
 * Amounts as a card statement shows them: with their currency's minor digits (ISO 4217 minor unit, as this
 * Node.js's ICU lists it): 0 for JPY, 2 for EUR, 3 for BHD. Amounts are stored as sent (a float in the currency);
 * only their text is rounded to these digits.
 */
const DIGITS_BY_CURRENCY = new Map<string, number>();
const FORMAT_BY_CURRENCY = new Map<string, Intl.NumberFormat>();

/** The currency's minor digits: 0 (JPY), 2 (EUR) or 3 (BHD); ICU says 2 for a code it does not know. */
export function minorDigits(currency: string): number {
  let digits = DIGITS_BY_CURRENCY.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    DIGITS_BY_CURRENCY.set(currency, digits);
  }
  return digits;
}

/** An amount with its currency's minor digits, en-US so it reads the same on every host: 5,200 JPY, 1.235 BHD, 42.50 EUR. */
export function formatMoney(amount: number, currency: string): string {
  let format = FORMAT_BY_CURRENCY.get(currency);
  if (!format) {
    const digits = minorDigits(currency);
    format = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    FORMAT_BY_CURRENCY.set(currency, format);
  }
  return `${format.format(amount)} ${currency}`;
}
