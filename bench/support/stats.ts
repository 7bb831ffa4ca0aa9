export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: Float64Array): Percentiles {
  const count = values.length;
  if (count === 0) return { count, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  values.sort();
  const at = (p: number) => values[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))]!;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += values[i]!;
  return { count, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: values[count - 1]!, mean: sum / count };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A Float64Array that grows by doubling, up to `cap` values (further values are counted, not kept). */
export class Samples {
  private data: Float64Array;
  length = 0;
  dropped = 0;

  constructor(
    initial = 1 << 16,
    private readonly cap = 1 << 25,
  ) {
    this.data = new Float64Array(initial);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      if (this.length >= this.cap) {
        this.dropped++;
        return;
      }
      const grown = new Float64Array(Math.min(this.cap, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  at(index: number): number {
    return this.data[index]!;
  }

  clear(): void {
    this.length = 0;
    this.dropped = 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
