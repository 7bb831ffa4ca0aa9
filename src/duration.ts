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
  const ms = Number(amount) * UNITS_MS[unit as keyof typeof UNITS_MS];
  // Hundreds of digits make Infinity, and past 2^53 ms are not whole: neither is a duration.
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export const DURATION_HINT = 'a whole number followed by ms, s, m, h or d (e.g. 30s, 5m, 7d)';

/** Written as a duration (`999999999d` is, though too long to be one), so a message can say what is wrong with it. */
export function looksLikeDuration(text: string): boolean {
  return PATTERN.test(text.trim());
}

/** A PostgreSQL interval literal for a millisecond duration. */
export function toInterval(ms: number): string {
  return `${ms} milliseconds`;
}

/** A window as people write it: `5m` (tumbling) or `5m/1m` (size/hop, size a multiple of hop). */
export function parseWindowSpec(text: string): { sizeMs: number; hopMs: number } | undefined {
  const parts = text.split('/');
  if (parts.length > 2) return undefined;
  const size = parseDuration(parts[0]!);
  const hop = parts.length === 2 ? parseDuration(parts[1]!) : size;
  if (!size || !hop || size % hop !== 0) return undefined;
  return { sizeMs: size, hopMs: hop };
}

/** The inverse of parseWindowSpec, in the largest whole unit: 300000/60000 → "5m/1m". */
export function formatWindowSpec(spec: { sizeMs: number; hopMs: number }): string {
  return spec.sizeMs === spec.hopMs ? formatDuration(spec.sizeMs) : `${formatDuration(spec.sizeMs)}/${formatDuration(spec.hopMs)}`;
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNITS_MS).reverse()) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export const WINDOW_HINT = 'a size such as 5m (tumbling) or size/hop such as 5m/1m (hopping; size a multiple of hop)';
