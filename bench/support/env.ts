/**
 * A benchmark's numeric setting from the environment: `fallback` when unset
 * or empty, else a finite number above zero (or zero itself with `zero`), a
 * whole one with `integer`; anything else stops the run naming the variable.
 */
export function envNumber(name: string, fallback: number, { integer = false, zero = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  const kind = `${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}`;
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n)) || n < 0 || (n === 0 && !zero)) {
    throw new Error(`${name} must be a ${kind}, got ${JSON.stringify(raw)}`);
  }
  return n;
}
