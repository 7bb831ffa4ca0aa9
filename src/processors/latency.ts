/** The last `capacity` samples of a delay, for percentiles a benchmark or /metrics can read. */
export class LatencySamples {
  private readonly samples: number[] = [];
  private next = 0;
  count = 0;
  max = 0;

  constructor(private readonly capacity = 4_096) {}

  add(ms: number): void {
    if (this.samples.length < this.capacity) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** Nearest-rank percentile over the retained samples; null before the first. */
  percentile(p: number): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  }
}
