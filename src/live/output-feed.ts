import type { z } from 'zod';
import { AppError, EventsMissedError, SlowConsumerError, TooManyReplaysError, UnavailableError } from '../errors.js';
import { reasonOf, type Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { Channel, newDeliveryCounters } from './channel.js';
import type { ReplaySlots } from './replay-slots.js';

/**
 * Sent on an output channel by a node whose publish to it failed, once it can publish again: every node's
 * subscribers of the channel may have missed that message (publisher.ts).
 */
export const MISSED_NOTICE = '{"missed":true}';

/**
 * Where a feed's items are stored with a cursor (alerts, fraud signals), in
 * commit order: once an item is visible, every item with a smaller cursor
 * that will ever be visible already is (db/alerts.ts lockAlertTransitions,
 * db/fraud.ts lockFraudSignals).
 */
export interface StoredOutputs<T> {
  cursorOf(item: T): bigint;
  /**
   * Stored items with after < cursor (<= upTo, unless null), in cursor order, at most `limit`; with `scope` (a
   * subscriber's replay: its tenant), only what that scope may see, so a replay pages through no one else's.
   */
  read(after: bigint, upTo: bigint | null, limit: number, scope?: string): Promise<T[]>;
  /** The largest stored cursor (0 if none). */
  last(): Promise<bigint>;
}

const PAGE = 500;

interface Subscriber<T> {
  channel: Channel<T>;
  wanted: (item: T) => boolean;
  /** Stored feeds: where it started (its `after`, else the feed's position then), from which it resumes if it read nothing. */
  start?: bigint;
  /** Live items at or below this cursor are not sent: it resumed after a cursor this node's feed had not reached. */
  floor?: bigint;
  /** Live batches held while its replay runs; undefined once live. */
  held?: T[][];
  heldCount: number;
}

/**
 * Live processor outputs (windows, candles, flags, alerts) for subscribers
 * on this node, each filtered per subscriber into a bounded channel; a
 * subscriber that falls behind is ended with SLOW_CONSUMER.
 *
 * Most outputs carry no cursor. Their feed takes one pub/sub subscription
 * per channel and parses each message once with the schema that describes
 * it; a subscriber whose messages pub/sub may have lost (a connection to
 * Redis down, a node that could not publish) is ended with EVENTS_MISSED,
 * and finds what it missed through the matching query.
 *
 * A feed with `stored` (alerts, fraud signals) reads its items from the database instead,
 * in cursor order, whenever a message says there is something new (and
 * every `pollIntervalMs`, for messages that never came): nothing is missed
 * over a pub/sub outage, and a subscription given a cursor first replays
 * what was stored after it, then goes live with no gap and no duplicate, as
 * readings do.
 */
export class OutputFeed<T> {
  private readonly open = new Set<Subscriber<T>>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopResubscribed: (() => void) | undefined;
  private stopLost: (() => void) | undefined;
  /** Messages waiting for `learn` keep their order behind this. */
  private pending: Promise<void> | undefined;
  /** Stored feeds: every item up to this cursor has been dispatched. */
  private position = 0n;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private readFailures = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  opened = 0;
  /** Subscribers ended with EVENTS_MISSED. */
  missedEnded = 0;
  readonly counters = newDeliveryCounters();
  undecodable = 0;

  constructor(
    private readonly options: {
      pubsub: PubSub;
      channel: string;
      /** A feed without `stored`: the shape each message is parsed with. A stored feed's messages only wake it. */
      schema?: z.ZodType<T[]>;
      noun: string;
      subscriberBuffer: number;
      log: Logger;
      /**
       * Called before items are filtered; a promise holds them and later
       * ones until it settles. Used to learn the owners of sources this
       * node has not seen, so tenant filters (synchronous) can answer.
       */
      learn?: (items: T[]) => Promise<unknown> | undefined;
      stored?: StoredOutputs<T>;
      /** Stored feeds: how often the database is read with no message. */
      pollIntervalMs?: number;
      /** Stored feeds: turns for replays (MAX_CONCURRENT_REPLAYS_PER_KEY); without, replays run at once. */
      replays?: ReplaySlots;
    },
  ) {
    if (!options.stored && !options.schema) throw new Error(`the ${options.noun} feed needs a schema for its messages or a store to read them from`);
  }

  get subscriberCount(): number {
    return this.open.size;
  }

  async start(): Promise<void> {
    const { stored, pubsub, channel } = this.options;
    if (stored) this.position = await stored.last();
    this.unsubscribe = await pubsub.subscribe(channel, (message) => this.onMessage(message));
    // A stored feed re-reads what it may have missed; the others can only say so.
    this.stopResubscribed = pubsub.onResubscribed(() => (stored ? this.catchUp() : this.interrupt('this node lost its connection to pub/sub')));
    // Told as the connection goes, not only once it is back: a screen can say its live values stopped. Told again
    // when it is back, since what was published between never arrives. A stored feed reads it all when back.
    if (!stored) this.stopLost = pubsub.onLost(() => this.interrupt('this node lost its connection to pub/sub; live values stop until it is back'));
    if (stored) {
      // Anything stored between reading the position and subscribing is read now.
      this.catchUp();
      this.pollTimer = setInterval(() => this.catchUp(), this.options.pollIntervalMs ?? 1_000);
      this.pollTimer.unref();
    }
  }

  /**
   * `after` (a stored feed only): first every stored item after that cursor (read within `scope`, then `wanted`), in a
   * replay turn of `holder`'s (auth/principal.ts limitHolder), then live.
   */
  subscribe(wanted: (item: T) => boolean, after: bigint | null = null, scope?: string, holder = ''): AsyncIterableIterator<T[] | Error> {
    const { stored, subscriberBuffer, noun } = this.options;
    if (after !== null && !stored) throw new Error(`live ${noun} cannot resume from a cursor`);
    const handOver = this.position;
    const entry: Subscriber<T> = {
      wanted,
      channel: new Channel<T>(subscriberBuffer, () => this.slowConsumer(entry), () => this.open.delete(entry), this.counters),
      heldCount: 0,
    };
    if (stored) entry.start = after ?? handOver;
    if (after !== null && after > handOver) entry.floor = after;
    this.open.add(entry);
    this.opened++;
    if (after !== null && after < handOver) {
      entry.held = [];
      const { replays } = this.options;
      const replay = () => this.replay(entry, after, handOver, scope);
      const refusal = () => new TooManyReplaysError(replays!.limit, replays!.waitMs, after.toString(), noun);
      void (replays ? replays.run(holder, entry.channel, refusal, replay) : replay())
        .then(() => this.goLive(entry))
        .catch((error: unknown) => {
          if (error instanceof AppError) return entry.channel.fail(error);
          this.options.log.warn({ channel: this.options.channel, err: reasonOf(error) }, `${noun} replay failed`);
          entry.channel.fail(new UnavailableError(`could not read stored ${noun} to replay; resubscribe with the same cursor`));
        });
    }
    return entry.channel;
  }

  /** Completes every open subscription and stops listening (graceful shutdown). */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    this.stopResubscribed?.();
    this.stopLost?.();
    for (const { channel } of this.open) channel.end();
    this.open.clear();
    await this.unsubscribe?.().catch(() => undefined);
    await this.reading;
  }

  /** Its buffer is dropped: a stored feed's subscriber resumes after the last item it read, else where it started. */
  private slowConsumer(entry: Subscriber<T>): SlowConsumerError {
    const { stored, subscriberBuffer, noun } = this.options;
    const last = entry.channel.lastRead;
    const resumeAfter = stored && last !== undefined ? stored.cursorOf(last) : entry.start;
    return new SlowConsumerError(subscriberBuffer, resumeAfter?.toString() ?? null, noun);
  }

  /** Stored items in (after, upTo] for one resuming subscriber, page by page as it drains them. */
  private async replay(entry: Subscriber<T>, after: bigint, upTo: bigint, scope: string | undefined) {
    const { stored, learn } = this.options;
    const pageSize = entry.channel.replayPage(PAGE);
    for (let cursor = after; !entry.channel.closed; ) {
      const page = await stored!.read(cursor, upTo, pageSize, scope);
      if (page.length > 0) await learn?.(page);
      const mine = page.filter(entry.wanted);
      if (mine.length > 0) entry.channel.push(mine);
      if (page.length < pageSize) return;
      cursor = stored!.cursorOf(page.at(-1)!);
      await entry.channel.drained();
    }
  }

  /** The replay is done: what was held goes out, and live items from now on. */
  private goLive(entry: Subscriber<T>) {
    const held = entry.held ?? [];
    entry.held = undefined;
    entry.heldCount = 0;
    for (const batch of held) entry.channel.push(batch);
  }

  /** Reads what was stored after `position` and dispatches it, once at a time; asked again meanwhile, reads again. */
  private catchUp() {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readStored()
      .then(
        () => {
          if (this.readFailures > 0) this.options.log.info({ channel: this.options.channel, failures: this.readFailures }, `stored ${this.options.noun} readable again`);
          this.readFailures = 0;
        },
        (error: unknown) => {
          // The next message or poll tries again from the same position: nothing is skipped.
          if (this.readFailures++ === 0) this.options.log.warn({ channel: this.options.channel, err: reasonOf(error) }, `cannot read stored ${this.options.noun}; retrying at the next message or poll`);
        },
      )
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.catchUp();
        }
      });
  }

  private async readStored() {
    const { stored, learn } = this.options;
    for (;;) {
      this.readAgain = false;
      const page = await stored!.read(this.position, null, PAGE);
      if (page.length === 0) return;
      await learn?.(page);
      // No await from here to the new position: a subscriber joining meanwhile hands over at a consistent cursor.
      this.dispatch(page);
      this.position = stored!.cursorOf(page.at(-1)!);
      if (page.length < PAGE || this.stopped) return;
    }
  }

  /** Ends every open subscription with EVENTS_MISSED, after what it has been sent: pub/sub may have lost messages. */
  private interrupt(why: string) {
    if (this.open.size === 0) return;
    this.options.log.warn(
      { channel: this.options.channel, subscribers: this.open.size, why },
      'live outputs may have been lost; subscribers told to subscribe again and re-read (EVENTS_MISSED)',
    );
    this.missedEnded += this.open.size;
    for (const { channel } of this.open) channel.interrupt(new EventsMissedError(this.options.noun));
  }

  private onMessage(message: string) {
    // A stored feed's message only says there is something new; the database has it, in order.
    const { stored, schema } = this.options;
    if (stored || !schema) return this.catchUp();
    if (message === MISSED_NOTICE) return this.interrupt('a node could not publish to it');
    if (this.open.size === 0) return;
    let items: T[];
    try {
      items = schema.parse(JSON.parse(message));
    } catch (error) {
      if (this.undecodable++ === 0) this.options.log.error({ channel: this.options.channel, err: (error as Error).message }, 'undecodable processor output message dropped');
      return;
    }
    const learning = this.options.learn?.(items);
    if (!learning && !this.pending) return this.dispatch(items);
    const after = this.pending ?? Promise.resolve();
    const done: Promise<void> = after
      .then(() => learning)
      .catch((error: unknown) => this.options.log.warn({ channel: this.options.channel, err: reasonOf(error) }, 'could not look up source owners; tenant-wide subscribers may miss this message'))
      .then(() => this.dispatch(items))
      .finally(() => {
        if (this.pending === done) this.pending = undefined;
      });
    this.pending = done;
  }

  private dispatch(items: T[]) {
    for (const entry of this.open) {
      const { channel, wanted, floor } = entry;
      const mine = floor === undefined ? items.filter(wanted) : items.filter((item) => wanted(item) && this.options.stored!.cursorOf(item) > floor);
      if (mine.length === 0) continue;
      if (!entry.held) {
        channel.push(mine);
        continue;
      }
      entry.held.push(mine);
      entry.heldCount += mine.length;
      if (entry.heldCount > this.options.subscriberBuffer) channel.overflow(entry.heldCount);
    }
  }
}
