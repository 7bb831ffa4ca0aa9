import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import type { BatchCodec, StreamBatch } from './wire.js';

/**
 * Publishes committed batches without making the writer wait: the rows are
 * already committed, and every node's stream tail repairs a lost message
 * from the database. While the broker is down it logs the first failure and,
 * on recovery, how many messages were not sent, instead of one line each.
 */
export class StreamPublisher {
  private failing = 0;
  /** Messages that could not be published since start. */
  failures = 0;
  private firstFailureAt: Date | undefined;

  /** Names this node in the stream batches it publishes. */
  readonly origin = randomBytes(6).toString('base64url');
  /** How every stream message this node publishes begins (wire.ts puts `origin` first). */
  readonly ownPrefix = `{"origin":"${this.origin}"`;
  private readonly local = new Map<string, (batch: StreamBatch<unknown>) => void>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

  /**
   * Hands this node's own batches of `channel` to `accept` in process (its
   * stream tail), as socket.io's Redis adapter and Phoenix.PubSub serve
   * local subscribers: no broker round trip and no decode of what this node
   * just encoded. Other nodes still get every batch through pub/sub.
   */
  deliverLocally<E>(channel: string, accept: (batch: StreamBatch<E>) => void): void {
    this.local.set(channel, accept as (batch: StreamBatch<unknown>) => void);
  }

  /**
   * Publishes a committed stream batch to the other nodes and gives it to
   * this node's tail. With the in-process driver there are no other nodes,
   * so nothing is encoded.
   */
  publishBatch<E>(channel: string, batch: StreamBatch<E>, codec: BatchCodec<E>, log: Logger = this.log): void {
    const accept = this.local.get(channel);
    if (!accept || this.pubsub.driver !== 'memory') this.publish(channel, codec.encode(batch, accept ? this.origin : undefined), log);
    // After the caller's synchronous work, as a broker's delivery would be.
    if (accept) queueMicrotask(() => accept(batch));
  }

  /** `log` names the request that produced the message (its requestId) in a failure line. */
  publish(channel: string, message: string, log: Logger = this.log): void {
    this.pubsub.publish(channel, message).then(
      () => {
        if (this.failing === 0) return;
        this.log.info({ unsent: this.failing, since: this.firstFailureAt }, 'publishing recovered; unsent batches were delivered from the database');
        this.failing = 0;
        this.firstFailureAt = undefined;
      },
      (error: unknown) => {
        this.failures++;
        if (this.failing++ === 0) {
          this.firstFailureAt = new Date();
          log.warn({ channel, err: (error as Error).message }, 'publish failed; subscribers catch up from the database until the broker is back');
        }
      },
    );
  }
}
