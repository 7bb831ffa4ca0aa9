/**
 * Frame timing measured in the page: every requestAnimationFrame interval is
 * recorded (a ring of the last 8192), so tests and people can see whether the
 * page keeps up. Exposed as window.__frameStats.
 */
export interface FrameSummary {
  frames: number;
  durationMs: number;
  fps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Intervals longer than 1.5 frames at 60 Hz (25 ms): at least one frame was dropped. */
  over25ms: number;
  /** Long tasks (main thread busy over 50 ms) seen since reset, where the browser reports them. */
  longTasks: number;
}

const CAPACITY = 8192;
const deltas = new Float64Array(CAPACITY);
const stamps = new Float64Array(CAPACITY);
let count = 0;
let last = 0;
let longTasks = 0;

function tick(now: number) {
  if (last > 0) {
    deltas[count % CAPACITY] = now - last;
    stamps[count % CAPACITY] = now;
    count++;
  }
  last = now;
  requestAnimationFrame(tick);
}

function percentile(sorted: Float64Array, p: number) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Summary of the frames since reset, or of the last `windowMs` only. */
export function frameSummary(windowMs?: number): FrameSummary {
  const n = Math.min(count, CAPACITY);
  const since = windowMs === undefined ? -Infinity : performance.now() - windowMs;
  const picked: number[] = [];
  for (let i = count - n; i < count; i++) if (stamps[i % CAPACITY]! >= since) picked.push(deltas[i % CAPACITY]!);
  const sorted = Float64Array.from(picked).sort();
  const durationMs = picked.reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    frames: picked.length,
    durationMs: Math.round(durationMs),
    fps: durationMs > 0 ? round((picked.length * 1000) / durationMs) : 0,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1]! : 0),
    over25ms: picked.filter((d) => d > 25).length,
    longTasks,
  };
}

export function startFrameStats() {
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => (longTasks += list.getEntries().length)).observe({ type: 'longtask', buffered: false });
  } catch {
    // Not every browser reports long tasks.
  }
  const api = {
    reset() {
      count = 0;
      last = 0;
      longTasks = 0;
    },
    summary: (windowMs?: number) => frameSummary(windowMs),
  };
  (window as unknown as { __frameStats: typeof api }).__frameStats = api;
}
