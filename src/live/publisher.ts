import type { Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';

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

  constructor(
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

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
