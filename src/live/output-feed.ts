import type { z } from 'zod';
import { EventsMissedError, SlowConsumerError } from '../errors.js';
import { reasonOf, type Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { Channel, newDeliveryCounters } from './channel.js';

/**
 * Sent on an output channel by a node whose publish to it failed, once it can publish again: every node's
 * subscribers of the channel may have missed that message (publisher.ts).
 */
export const MISSED_NOTICE = '{"missed":true}';

/**
 * Live processor outputs (windows, candles, flags) for subscribers on this
 * node: one pub/sub subscription per channel, each message parsed once with
 * the schema that describes it, then filtered per subscriber into a bounded
 * channel. Outputs carry no cursor: a subscriber that falls behind, or
 * whose messages pub/sub may have lost (a connection to Redis down, a node
 * that could not publish), is ended with an error (SLOW_CONSUMER,
 * EVENTS_MISSED) and finds what it missed through the matching query.
 */
export class OutputFeed<T> {
  private readonly open = new Set<{ channel: Channel<T>; wanted: (item: T) => boolean }>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopResubscribed: (() => void) | undefined;
  /** Messages waiting for `learn` keep their order behind this. */
  private pending: Promise<void> | undefined;
  opened = 0;
  /** Subscribers ended with EVENTS_MISSED. */
  missedEnded = 0;
  readonly counters = newDeliveryCounters();
  undecodable = 0;

  constructor(
    private readonly options: {
      pubsub: PubSub;
      channel: string;
      schema: z.ZodType<T[]>;
      noun: string;
      subscriberBuffer: number;
      log: Logger;
      /**
       * Called before a message is filtered; a promise holds this and later
       * messages until it settles. Used to learn the owners of sources this
       * node has not seen, so tenant filters (synchronous) can answer.
       */
      learn?: (items: T[]) => Promise<unknown> | undefined;
    },
  ) {}

  get subscriberCount(): number {
    return this.open.size;
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.options.pubsub.subscribe(this.options.channel, (message) => this.onMessage(message));
    this.stopResubscribed = this.options.pubsub.onResubscribed(() => this.interrupt('this node lost its connection to pub/sub'));
  }

  subscribe(wanted: (item: T) => boolean): AsyncIterableIterator<T[] | Error> {
    const entry = {
      wanted,
      channel: new Channel<T>(
        this.options.subscriberBuffer,
        () => new SlowConsumerError(this.options.subscriberBuffer, null, this.options.noun),
        () => this.open.delete(entry),
        this.counters,
      ),
    };
    this.open.add(entry);
    this.opened++;
    return entry.channel;
  }

  /** Completes every open subscription and stops listening (graceful shutdown). */
  async close(): Promise<void> {
    this.stopResubscribed?.();
    for (const { channel } of this.open) channel.end();
    this.open.clear();
    await this.unsubscribe?.().catch(() => undefined);
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
    if (message === MISSED_NOTICE) return this.interrupt('a node could not publish to it');
    if (this.open.size === 0) return;
    let items: T[];
    try {
      items = this.options.schema.parse(JSON.parse(message));
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
    for (const { channel, wanted } of this.open) {
      const mine = items.filter(wanted);
      if (mine.length > 0) channel.push(mine);
    }
  }
}
