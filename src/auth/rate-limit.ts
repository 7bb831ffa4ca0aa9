import type { Logger } from '../log.js';

/** Counts one operation in the current window of `key`; resolves with the count so far and the ms until the window ends. */
export type WindowCounter = (key: string, windowMs: number) => Promise<{ count: number; resetInMs: number }>;

/** In-process fixed windows: the embedded default, one node. */
export function memoryCounter(): WindowCounter {
  const windows = new Map<string, { count: number; endsAt: number }>();
  return async (key, windowMs) => {
    const now = Date.now();
    let window = windows.get(key);
    if (!window || window.endsAt <= now) {
      if (windows.size > 100_000) for (const [k, w] of windows) if (w.endsAt <= now) windows.delete(k);
      window = { count: 0, endsAt: now + windowMs };
      windows.set(key, window);
    }
    window.count++;
    return { count: window.count, resetInMs: window.endsAt - now };
  };
}

/** While the shared counter fails, how often one operation tries it again. */
const RETRY_MS = 1_000;

/**
 * Per-key operation limit: at most `limit` operations per `windowMs`
 * (fixed windows, counted in Redis when configured so every node shares
 * them). If that counter fails (Redis down), each node counts on its own
 * (`fallback`) until it answers again, logged once each way: the limit
 * must not take ingest down with Redis, and it must not vanish with it
 * either. Meanwhile a key gets up to `limit` on every node it reaches,
 * and the shared counter is tried again at most once a second: a
 * Redis that hangs costs one operation its command timeout each time, not
 * every operation.
 */
export class RateLimiter {
  private failing = false;
  /** While failing: before this (epoch ms), count on the node without trying the shared counter. */
  private retryAt = 0;
  refused = 0;

  constructor(private readonly options: { limit: number; windowMs: number; counter: WindowCounter; fallback: WindowCounter; log: Logger }) {}

  /** Undefined when allowed; otherwise the ms to wait. */
  async take(key: string): Promise<number | undefined> {
    if (this.options.limit === 0) return undefined;
    const { count, resetInMs } = await this.count(key);
    if (count <= this.options.limit) return undefined;
    this.refused++;
    return Math.max(1, resetInMs);
  }

  private async count(key: string): Promise<{ count: number; resetInMs: number }> {
    if (this.failing) {
      if (Date.now() < this.retryAt) return this.options.fallback(key, this.options.windowMs);
      // This call tries the shared counter; the ones meanwhile do not wait on it.
      this.retryAt = Date.now() + RETRY_MS;
    }
    try {
      const counted = await this.options.counter(key, this.options.windowMs);
      if (this.failing) {
        this.failing = false;
        this.options.log.info('rate limit counter reachable again: counting across nodes');
      }
      return counted;
    } catch (error) {
      if (!this.failing) this.options.log.warn({ err: (error as Error).message }, 'rate limit counter unreachable: counting on this node until it returns');
      this.failing = true;
      this.retryAt = Date.now() + RETRY_MS;
      return this.options.fallback(key, this.options.windowMs);
    }
  }

  get limit() {
    return this.options.limit;
  }

  get windowMs() {
    return this.options.windowMs;
  }
}
