import { HolderCounts } from '../auth/holder-counts.js';

/** What waiting for a turn came to: the turn (release it when the replay ends), or why there is none. */
export type Turn = { release(): void } | 'gone' | 'timed out';

interface Waiter {
  /** The subscriber went away meanwhile: it is passed over, not given a turn. */
  gone(): boolean;
  settle(turn: Turn): void;
}

const NO_LIMIT = { release: () => undefined };

/**
 * Turns to replay stored rows (a subscription resuming `after` a cursor), at most `perKey` at once for one key, or
 * client address on an open server (MAX_CONCURRENT_REPLAYS_PER_KEY; 0: no limit), on this node. A further replay
 * waits its turn, first come first served, for at most `waitMs` (REPLAY_WAIT): a fleet of screens reconnecting
 * after a restart replays a few at a time instead of retrying in a storm, and one key's replays occupy at most
 * `perKey` of the database's connections, whatever it asks.
 */
export class ReplaySlots {
  /** Replays running now, by holder. */
  private readonly running = new HolderCounts();
  /** Replays waiting for a turn, by holder, oldest first. */
  private readonly queues = new Map<string, Waiter[]>();
  /** Since start: replays that had to wait for a turn, and those whose wait ran out (vigil_live_replay_waits_total). */
  waited = 0;
  timedOut = 0;

  constructor(private readonly options: { perKey: number; waitMs: number }) {}

  get limit(): number {
    return this.options.perKey;
  }

  get waitMs(): number {
    return this.options.waitMs;
  }

  /** Replays reading stored rows now, on this node. */
  get runningCount(): number {
    return this.running.total;
  }

  /** Replays waiting for a turn now (subscribers that left meanwhile included, until their turn or wait comes). */
  get waitingCount(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** Resolves with a turn for `holder`'s replay once it has fewer than `perKey` running, or why it gets none. */
  take(holder: string, gone: () => boolean): Promise<Turn> {
    const { perKey, waitMs } = this.options;
    if (perKey === 0) return Promise.resolve(NO_LIMIT);
    if (this.running.of(holder) < perKey) return Promise.resolve(this.grant(holder));
    this.waited++;
    return new Promise<Turn>((resolve) => {
      const waiter: Waiter = {
        gone,
        settle: (turn) => {
          clearTimeout(timer);
          resolve(turn);
        },
      };
      const timer = setTimeout(() => {
        this.leaveQueue(holder, waiter);
        if (gone()) return resolve('gone');
        this.timedOut++;
        resolve('timed out');
      }, waitMs);
      const queue = this.queues.get(holder);
      if (queue) queue.push(waiter);
      else this.queues.set(holder, [waiter]);
    });
  }

  /**
   * Runs `replay` in a turn of `holder`'s, released however it ends. Nothing runs if the subscriber (its channel)
   * closed while waiting; `refusal()` is thrown if no turn came within the wait.
   */
  async run(holder: string, subscriber: { readonly closed: boolean }, refusal: () => Error, replay: () => Promise<void>): Promise<void> {
    const turn = await this.take(holder, () => subscriber.closed);
    if (turn === 'gone') return;
    if (turn === 'timed out') throw refusal();
    try {
      await replay();
    } finally {
      turn.release();
    }
  }

  private grant(holder: string): { release(): void } {
    this.running.add(holder);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running.remove(holder);
        this.next(holder);
      },
    };
  }

  /** A turn of `holder` freed: its first waiter still there takes it; those that left are told so on the way. */
  private next(holder: string) {
    const queue = this.queues.get(holder);
    while (queue && queue.length > 0) {
      const waiter = queue.shift()!;
      if (queue.length === 0) this.queues.delete(holder);
      if (waiter.gone()) {
        waiter.settle('gone');
        continue;
      }
      waiter.settle(this.grant(holder));
      return;
    }
  }

  private leaveQueue(holder: string, waiter: Waiter) {
    const queue = this.queues.get(holder) ?? [];
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.queues.delete(holder);
  }
}
