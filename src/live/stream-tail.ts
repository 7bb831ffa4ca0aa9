import { reasonOf, type Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import type { StreamBatch } from './wire.js';

export interface TailSource<E> {
  /** Last cursor whose transaction committed. */
  committed(): Promise<bigint>;
  /** Events with after < cursor <= upTo in cursor order, at most `limit`. */
  after(after: bigint, upTo: bigint, limit: number): Promise<E[]>;
}

export interface StreamTailOptions<E> {
  channel: string;
  pubsub: PubSub;
  source: TailSource<E>;
  decode(message: string): StreamBatch<E>;
  /** How this node's own messages begin: they are skipped undecoded, their batches came through `accept` (live/publisher.ts). */
  ownPrefix?: string;
  /** How long an out-of-order batch waits for the one before it before the gap is read from the database. */
  gapTimeoutMs: number;
  /** How often the committed cursor is checked, to notice batches whose message never came (broker down). */
  pollIntervalMs: number;
  log: Logger;
}

const REPAIR_PAGE = 1_000;

/**
 * Receives events in cursor order. `committedAt` (the writer's commit time) and `requestId` (its ingest request)
 * come with a batch a writer published (wire.ts StreamBatch), not with one read back from the database.
 */
export type TailListener<E> = (events: E[], committedAt?: number, requestId?: string) => void;

/**
 * One per stream per node: turns at-most-once, possibly reordered pub/sub
 * batches into an exactly-once stream in cursor order. `position` is the
 * highest cursor up to which every event has been handed to listeners.
 * Batches chain by cursor range; a missing range is read from the database,
 * where committed cursors are final (db/offsets.ts).
 */
export class StreamTail<E extends { cursor: bigint }> {
  position = 0n;
  /** batches: received over pub/sub; local: this node's own, handed over in process. */
  readonly stats = { batches: 0, local: 0, repairs: 0, repairedEvents: 0, undecodable: 0, failures: 0 };
  private readonly listeners = new Set<TailListener<E>>();
  private readonly pending = new Map<bigint, StreamBatch<E>>();
  private gapTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private repairing: Promise<void> | undefined;
  private committedAtLastPoll = 0n;
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopped = false;
  /** Database reads that failed in a row (poll or repair): one warning per outage, one line when it ends. */
  private failures = 0;
  /** reached() callers waiting for `position` to pass their cursor. */
  private waiters: { cursor: bigint; resolve: (reached: boolean) => void }[] = [];

  constructor(private readonly options: StreamTailOptions<E>) {}

  /** The stream it follows: its channel, and the name its cursors are counted under (stream_offsets). */
  get stream(): string {
    return this.options.channel;
  }

  async start(): Promise<void> {
    this.position = await this.options.source.committed();
    this.committedAtLastPoll = this.position;
    this.unsubscribe = await this.options.pubsub.subscribe(this.options.channel, (message) => this.onMessage(message), { skipPrefix: this.options.ownPrefix });
    // Anything committed between reading the position and subscribing arrives as a gap and is repaired.
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.gapTimer);
    await this.unsubscribe?.().catch(() => undefined);
    await this.repairing;
    this.listeners.clear();
    this.settleWaiters(true);
  }

  /**
   * Resolves true once `position` has reached `cursor` (every event up to it
   * handed to listeners), false if `timeoutMs` passes first; true at once
   * after stop().
   */
  reached(cursor: bigint, timeoutMs: number): Promise<boolean> {
    if (this.position >= cursor || this.stopped) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const waiter = {
        cursor,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private settleWaiters(all = false) {
    if (this.waiters.length === 0) return;
    const waiting: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (all || waiter.cursor <= this.position) waiter.resolve(true);
      else waiting.push(waiter);
    }
    this.waiters = waiting;
  }

  /** `listener` gets every event after the current `position`, in cursor order, exactly once. */
  addListener(listener: TailListener<E>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Catches up with everything committed now; resolves once it has been handed to listeners. */
  async catchUp(): Promise<void> {
    await this.repair();
  }

  /** A batch this node committed, in process (StreamPublisher.deliverLocally). */
  accept(batch: StreamBatch<E>): void {
    if (this.stopped) return;
    this.stats.local++;
    this.take(batch);
  }

  private onMessage(message: string) {
    let batch: StreamBatch<E>;
    try {
      batch = this.options.decode(message);
    } catch (error) {
      this.stats.undecodable++;
      this.options.log.error({ channel: this.options.channel, err: (error as Error).message }, 'undecodable stream message; repairing from the database');
      void this.repair();
      return;
    }
    this.stats.batches++;
    this.take(batch);
  }

  private take(batch: StreamBatch<E>) {
    if (batch.to <= this.position) return;
    if (batch.from > this.position) {
      this.pending.set(batch.from, batch);
      this.gapTimer ??= setTimeout(() => {
        this.gapTimer = undefined;
        void this.repair();
      }, this.options.gapTimeoutMs);
      return;
    }
    this.deliver(batch.events, batch.to, batch.committedAt, batch.requestId);
    this.drainPending();
  }

  private deliver(events: readonly E[], to: bigint, committedAt?: number, requestId?: string) {
    const from = this.position;
    if (to <= from) return;
    this.position = to;
    const fresh = events.filter((e) => e.cursor > from);
    for (const listener of fresh.length > 0 ? this.listeners : []) {
      try {
        listener(fresh, committedAt, requestId);
      } catch (error) {
        this.options.log.error({ err: error }, 'stream listener threw');
      }
    }
    this.settleWaiters();
  }

  private drainPending() {
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const [from, batch] of this.pending) {
        if (from > this.position) continue;
        this.pending.delete(from);
        this.deliver(batch.events, batch.to, batch.committedAt, batch.requestId);
        progressed = true;
      }
    }
    if (this.pending.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  private repair(): Promise<void> {
    this.repairing ??= this.readCommitted().finally(() => {
      this.repairing = undefined;
    });
    return this.repairing;
  }

  private async readCommitted() {
    if (this.stopped) return;
    try {
      const committed = await this.options.source.committed();
      const startedAt = this.position;
      while (this.position < committed && !this.stopped) {
        const events = await this.options.source.after(this.position, committed, REPAIR_PAGE);
        this.stats.repairedEvents += events.filter((e) => e.cursor > this.position).length;
        this.deliver(events, events.length < REPAIR_PAGE ? committed : events.at(-1)!.cursor);
      }
      if (this.position > startedAt) {
        this.stats.repairs++;
        this.options.log.debug({ channel: this.options.channel, from: startedAt.toString(), to: this.position.toString() }, 'stream gap repaired from the database');
      }
      this.drainPending();
      this.succeeded();
    } catch (error) {
      this.failed(error, 'stream repair failed; retrying at the next poll');
    }
  }

  private async poll() {
    if (this.stopped || this.repairing) return;
    try {
      const committed = await this.options.source.committed();
      // Committed a whole poll interval ago and still not delivered: its message is not coming.
      this.succeeded();
      if (this.position < this.committedAtLastPoll) await this.repair();
      this.committedAtLastPoll = committed;
    } catch (error) {
      this.failed(error, 'stream poll failed; retrying at the next poll');
    }
  }

  private failed(error: unknown, message: string) {
    this.stats.failures++;
    const details = { channel: this.options.channel, err: reasonOf(error), failuresInARow: this.failures + 1 };
    if (this.failures++ === 0) this.options.log.warn(details, `${message} (further failures are logged at debug until it recovers)`);
    else this.options.log.debug(details, message);
  }

  private succeeded() {
    if (this.failures === 0) return;
    this.options.log.info({ channel: this.options.channel, failedReads: this.failures, position: this.position.toString() }, 'stream tail reads the database again');
    this.failures = 0;
  }
}
