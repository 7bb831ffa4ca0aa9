import type { Config } from '../config.js';
import type { WindowCounter } from '../auth/rate-limit.js';
import { redactUrl, type Logger } from '../log.js';
import { MemoryPubSub } from './memory.js';
import { RedisPubSubDriver } from './redis.js';

export interface SubscribeOptions {
  /** Messages beginning with this ASCII text are not delivered. */
  skipPrefix?: string;
}

/** A deployment, as its nodes hold their channel prefix on the broker (pubsub/redis.ts). */
export interface PrefixOwner {
  /** The database's deployment id (db/deployment.ts): the same on every node of the deployment. */
  id: string;
  /** Where its database is, for the message another deployment is refused with. */
  database: string;
  /** The host of the node that last renewed the hold. */
  host: string;
}

/** Another deployment holds this node's channel prefix. */
export class PrefixInUse extends Error {
  override name = 'PrefixInUse';
}

/**
 * Fan-out of already-serialized messages between nodes. Delivery is at most
 * once (Redis pub/sub keeps nothing): the stream tail (live/stream-tail.ts)
 * repairs gaps from the database, so a lost message delays, never loses.
 */
export interface PubSub {
  readonly driver: 'memory' | 'redis';
  /** Sends `message` to every node's subscribers of `channel`. Rejects if the broker refuses. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `onMessage` for each message on `channel` until the returned function is called. Messages that begin
   * with `skipPrefix` (a node's own publishes, which it already has) are dropped before they are decoded.
   */
  subscribe(channel: string, onMessage: (message: string) => void, options?: SubscribeOptions): Promise<() => Promise<void>>;
  /** Counts one event in a fixed window shared by every node (rate limits); rejects when the broker is unreachable. */
  countInWindow: WindowCounter;
  /**
   * Calls `listener` each time this node's subscriptions are in place again after its connection to the broker
   * was lost: what was published meanwhile never arrives. Returns a function that stops it.
   */
  onResubscribed(listener: () => void): () => void;
  /** Calls `listener` each time this node's connection for receiving is lost (messages stop arriving until onResubscribed). */
  onLost(listener: () => void): () => void;
  /** Times the connection to the broker was re-established after a loss. */
  readonly reconnects: number;
  /**
   * Holds the channel prefix for `owner`'s deployment while this node runs, and renews the hold. Rejects with a
   * PrefixInUse naming the holder when another deployment's nodes hold it: two deployments on one prefix receive
   * each other's readings, trades and transactions. In-process pub/sub is the node's alone.
   */
  claim(owner: PrefixOwner): Promise<void>;
  /**
   * Resolves when the broker answers; rejects when it is unreachable, or with a PrefixInUse when another deployment
   * took this node's channel prefix (a Redis that restarted empty while this deployment was away from it).
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openPubSub(config: Config['pubsub'], log: Logger): Promise<PubSub> {
  if (config.driver === 'memory') {
    log.info({ driver: 'memory' }, 'pub/sub ready: in-process (single node)');
    return new MemoryPubSub();
  }
  const pubsub = await RedisPubSubDriver.connect(config.url, config.prefix, log);
  log.info({ driver: 'redis', url: redactUrl(config.url) }, 'pub/sub ready: Redis');
  return pubsub;
}
