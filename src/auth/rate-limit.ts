import type { Logger } from '../log.js';

/** Counts one operation in the current window of `key`; resolves with the count so far and the ms until the window ends. */
export type WindowCounter = (key: string, windowMs: number) => Promise<{ count: number; resetInMs: number }>;

/**
 * The fixed window `now` falls in. Windows are aligned to the wall clock
 * (multiples of `windowMs` since the epoch), not to a key's first hit, so
 * every node counts a key in the same window, and a count that reaches Redis
 * late (it hung, then woke) lands in the window the operation was made in.
 */
export function windowAt(windowMs: number, now: number): { index: number; endsAt: number } {
  const index = Math.floor(now / windowMs);
  return { index, endsAt: (index + 1) * windowMs };
}

/** In-process fixed windows: the embedded default, one node, and each node's fallback while Redis fails. */
export function memoryCounter(): WindowCounter {
  const windows = new Map<string, { index: number; count: number }>();
  return async (key, windowMs) => {
    const now = Date.now();
    const { index, endsAt } = windowAt(windowMs, now);
    let window = windows.get(key);
    if (!window || window.index !== index) {
      if (windows.size > 100_000) for (const [k, w] of windows) if (w.index !== index) windows.delete(k);
      window = { index, count: 0 };
      windows.set(key, window);
    }
    window.count++;
    return { count: window.count, resetInMs: endsAt - now };
  };
}

/** While the shared counter fails, how long before one operation tries it again. */
const RETRY_MS = 1_000;
/** How long the shared counter must keep answering those tries before every operation counts there again. */
const SETTLE_MS = 3_000;

/**
 * Per-key operation limit: at most `limit` operations per `windowMs`
 * (fixed windows, counted in Redis when configured so every node shares
 * them). If that counter fails (Redis down or hung), each node counts on its
 * own (`fallback`) until it answers again, logged once each way: the limit
 * must not take ingest down with Redis, and it must not vanish with it
 * either. Meanwhile a key gets up to `limit` on every node it reaches.
 *
 * While failing, one operation at a time tries the shared counter, at most
 * once a second after a failure; every other operation counts on the node at
 * once, so a hung Redis costs one operation its timeout, not every one. The
 * node counts across nodes again only once Redis has answered every try for
 * `SETTLE_MS`: a Redis that flaps (hangs, answers for a moment, hangs again)
 * would otherwise send every operation back to it in each moment it answers,
 * and each would wait out the next hang.
 */
export class RateLimiter {
  private failing = false;
  /** While failing: before this (performance.now() ms), no operation tries the shared counter. */
  private retryAt = 0;
  /** While failing: one operation is trying the shared counter. */
  private trying = false;
  /** While failing: when the shared counter's current run of answers began. */
  private answeringSince: number | undefined;
  refused = 0;

  constructor(
    private readonly options: {
      limit: number;
      windowMs: number;
      counter: WindowCounter;
      fallback: WindowCounter;
      log: Logger;
      retryMs?: number;
      settleMs?: number;
    },
  ) {}

  /** Undefined when allowed; otherwise the ms to wait. */
  async take(key: string): Promise<number | undefined> {
    if (this.options.limit === 0) return undefined;
    const { count, resetInMs } = await this.count(key);
    if (count <= this.options.limit) return undefined;
    this.refused++;
    return Math.max(1, resetInMs);
  }

  private async count(key: string): Promise<{ count: number; resetInMs: number }> {
    const { counter, fallback, windowMs } = this.options;
    // While failing, this operation is the one try, or counts on the node.
    const trying = this.failing;
    if (trying && (this.trying || performance.now() < this.retryAt)) return fallback(key, windowMs);
    if (trying) this.trying = true;
    try {
      const counted = await counter(key, windowMs);
      if (trying) this.answered();
      return counted;
    } catch (error) {
      this.failed(error as Error);
      return fallback(key, windowMs);
    } finally {
      if (trying) this.trying = false;
    }
  }

  private failed(error: Error) {
    if (!this.failing) this.options.log.warn({ err: error.message }, 'rate limit counter unreachable: counting on this node until it returns');
    this.failing = true;
    this.answeringSince = undefined;
    this.retryAt = performance.now() + (this.options.retryMs ?? RETRY_MS);
  }

  private answered() {
    const now = performance.now();
    this.answeringSince ??= now;
    if (now - this.answeringSince < (this.options.settleMs ?? SETTLE_MS)) return;
    this.failing = false;
    this.answeringSince = undefined;
    this.options.log.info('rate limit counter reachable again: counting across nodes');
  }

  get limit() {
    return this.options.limit;
  }

  get windowMs() {
    return this.options.windowMs;
  }
}
