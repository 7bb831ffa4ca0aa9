/**
 * What the tests' stand-in runtimes check on every processor step: states
 * survive a JSON checkpoint unchanged, and a processor never mutates the
 * state it is given.
 */

/** Where `value` holds something JSON would not give back unchanged, or null. */
export function notJson(value: unknown): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? null : `: ${Object.is(value, -0) ? '-0' : value}`;
  if (typeof value !== 'object' || (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)) return `: ${String(value)}`;
  for (const [key, item] of Object.entries(value)) {
    const problem = notJson(item);
    if (problem !== null) return `.${key}${problem}`;
  }
  return null;
}

/** Frozen all the way down: a processor that mutates the state it is given then throws (modules are strict). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
