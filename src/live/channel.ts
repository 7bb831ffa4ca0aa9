/**
 * An async iterator fed by pushes, with a bound on buffered items. The
 * producer never blocks: when the consumer lags past `limit` items, the
 * channel fails with the error `onOverflow` builds. A failure is delivered
 * as the last value (an Error), not thrown, so the transport can send the
 * client a typed error event before completing.
 */
/** What a feed's channels did, for metrics: items handed to subscribers, and those dropped with a slow consumer. */
export interface DeliveryCounters {
  delivered: number;
  dropped: number;
  slowConsumers: number;
}

export const newDeliveryCounters = (): DeliveryCounters => ({ delivered: 0, dropped: 0, slowConsumers: 0 });

export class Channel<T> implements AsyncIterableIterator<T[] | Error> {
  private readonly buffer: (T[] | Error)[] = [];
  private buffered = 0;
  private waiting: ((result: IteratorResult<T[] | Error>) => void) | undefined;
  private ended = false;
  /** The last item the consumer has actually read (not merely buffered). */
  lastRead: T | undefined;

  constructor(
    private readonly limit: number,
    private readonly onOverflow: () => Error,
    private readonly onClose: () => void,
    private readonly counters: DeliveryCounters = newDeliveryCounters(),
  ) {}

  /** Items buffered and not yet read. */
  get size(): number {
    return this.buffered;
  }

  get closed(): boolean {
    return this.ended;
  }

  push(items: T[]): void {
    if (this.ended || items.length === 0) return;
    if (this.waiting) {
      this.lastRead = items.at(-1);
      this.counters.delivered += items.length;
      this.resolveWaiting({ value: items, done: false });
      return;
    }
    if (this.buffered + items.length > this.limit) return this.overflow(items.length);
    this.counters.delivered += items.length;
    this.buffer.push(items);
    this.buffered += items.length;
  }

  /**
   * Ends it as a slow consumer, counted as one, with `pending` items it will never get besides those buffered: the
   * live items that would not fit, or those held for it while a replay ran.
   */
  overflow(pending: number): void {
    if (this.ended) return;
    this.counters.dropped += this.buffered + pending;
    this.counters.slowConsumers++;
    this.fail(this.onOverflow());
  }

  /**
   * A replay's page size for this channel: half its limit (at most `max`), so it reads a page while the consumer
   * drains the one before; `drained()` paces it.
   */
  replayPage(max: number): number {
    return Math.max(1, Math.min(max, Math.floor(this.limit / 2)));
  }

  /** Resolves once at most half the limit is buffered, or the channel has ended: a long replay stays within it. */
  async drained(): Promise<void> {
    while (this.buffered > this.limit / 2 && !this.ended) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Ends once the buffered items are read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose();
    if (this.waiting) this.resolveWaiting({ value: undefined, done: true });
  }

  /** Drops the buffer; the next read yields `error`, the one after ends. */
  fail(error: Error): void {
    if (this.ended) return;
    this.buffer.length = 0;
    this.buffered = 0;
    this.interrupt(error);
  }

  /** Ends after the buffered items and then `error` are read. */
  interrupt(error: Error): void {
    if (this.ended) return;
    if (this.waiting) this.resolveWaiting({ value: error, done: false });
    else this.buffer.push(error);
    this.end();
  }

  next(): Promise<IteratorResult<T[] | Error>> {
    const items = this.buffer.shift();
    if (items) {
      if (!(items instanceof Error)) {
        this.buffered -= items.length;
        this.lastRead = items.at(-1);
      }
      return Promise.resolve({ value: items, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The consumer is gone (unsubscribe, disconnect): release everything at once. */
  return(): Promise<IteratorResult<T[] | Error>> {
    this.buffer.length = 0;
    this.buffered = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private resolveWaiting(result: IteratorResult<T[] | Error>) {
    const resolve = this.waiting!;
    this.waiting = undefined;
    resolve(result);
  }
}
