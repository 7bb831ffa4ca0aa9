/**
 * Durations as people write them in config and queries: `250ms`, `30s`,
 * `5m`, `1h`, `7d`. One grammar for env vars and GraphQL arguments.
 */
const UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+)\s*(ms|s|m|h|d)$/;

export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * UNITS_MS[unit as keyof typeof UNITS_MS];
}

export const DURATION_HINT = 'a whole number followed by ms, s, m, h or d (e.g. 30s, 5m, 7d)';

/** A PostgreSQL interval literal for a millisecond duration. */
export function toInterval(ms: number): string {
  return `${ms} milliseconds`;
}
