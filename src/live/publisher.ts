import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { MISSED_NOTICE } from './output-feed.js';
import type { BatchCodec, StreamBatch } from './wire.js';

/** How often a node whose publish failed tries to send the channel's MISSED_NOTICE. */
const NOTICE_RETRY_MS = 1_000;
/** How long stop() keeps trying to send the notices due: once this node is gone, no one sends them. */
const STOP_NOTICES_MS = 2_000;
/** Pause between stop()'s attempts, while the broker connection comes back. */
const STOP_RETRY_PAUSE_MS = 100;

/**
 * Publishes committed batches without making the writer wait: the rows are
 * already committed, and every node's stream tail repairs a lost message
 * from the database, as every node's alerts feed does. Other outputs have no
 * tail: for a channel whose message could not be published, the channel's
 * MISSED_NOTICE follows as soon as it can be sent, and every node ends its
 * subscribers of that channel with EVENTS_MISSED, so they re-read. While the broker is down it logs the first
 * failure and, on recovery, how many messages were not sent, instead of one
 * line each.
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
  /** Output channels with a message not sent since their last MISSED_NOTICE, and how many such failures there were. */
  private readonly missed = new Map<string, number>();
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Publishes not yet answered: one may still fail, and leave a notice due. */
  private readonly inFlight = new Set<Promise<void>>();

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
    if (!accept || this.pubsub.driver !== 'memory') this.publish(channel, codec.encode(batch, accept ? this.origin : undefined), log, { repaired: true });
    // After the caller's synchronous work, as a broker's delivery would be.
    if (accept) queueMicrotask(() => accept(batch));
  }

  /**
   * `log` names the request that produced the message (its requestId) in a failure line. `repaired`: a stream
   * batch or alert events, which every node reads from the database if the message is lost.
   */
  publish(channel: string, message: string, log: Logger = this.log, { repaired = false } = {}): void {
    const sent = this.pubsub.publish(channel, message).then(
      () => {
        if (this.failing === 0) return;
        this.log.info(
          { unsent: this.failing, since: this.firstFailureAt, outputChannels: [...this.missed.keys()] },
          'publishing recovered; stream batches not sent were delivered from the database, and subscribers of the output channels are told to re-read',
        );
        this.failing = 0;
        this.firstFailureAt = undefined;
        void this.sendNotices();
      },
      (error: unknown) => {
        this.failures++;
        if (!repaired) this.missed.set(channel, (this.missed.get(channel) ?? 0) + 1);
        if (this.failing++ === 0) {
          this.firstFailureAt = new Date();
          log.warn(
            { channel, err: (error as Error).message },
            'publish failed; stream subscribers catch up from the database until the broker is back, output subscribers are told to re-read then',
          );
        }
        this.scheduleNotices();
      },
    );
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }

  /** Output channels whose MISSED_NOTICE is still to be sent. */
  get noticesDue(): number {
    return this.missed.size;
  }

  /**
   * Sends the notices still due, trying for up to STOP_NOTICES_MS (a publish still on its way is waited for: it may
   * fail yet), then stops sending them (graceful shutdown, after the processors' last publishes). A notice not sent
   * by then is said in one warning: those subscribers learn of their loss only if their node loses pub/sub.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.noticeTimer);
    const deadline = Date.now() + STOP_NOTICES_MS;
    const until = (work: Promise<unknown>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      return Promise.race([work, late]).finally(() => clearTimeout(timer));
    };
    await until(Promise.allSettled([...this.inFlight]));
    while (this.missed.size > 0 && Date.now() < deadline) {
      await until(this.sendNotices());
      if (this.missed.size > 0) await until(new Promise((resolve) => setTimeout(resolve, STOP_RETRY_PAUSE_MS)));
    }
    if (this.missed.size > 0) {
      this.log.warn(
        { outputChannels: [...this.missed.keys()], triedForMs: STOP_NOTICES_MS },
        'stopping before other nodes could be told that output messages were lost: their subscribers of these outputs are not told to re-read',
      );
    }
  }

  private scheduleNotices() {
    if (this.noticeTimer || this.stopped || this.missed.size === 0) return;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = undefined;
      void this.sendNotices();
    }, NOTICE_RETRY_MS);
    this.noticeTimer.unref();
  }

  /** Resolves once every notice due has been sent or has failed (a failure schedules the next try). */
  private async sendNotices(): Promise<void> {
    await Promise.all(
      [...this.missed].map(([channel, failures]) =>
        this.pubsub.publish(channel, MISSED_NOTICE).then(
          // A message that failed while this notice was on its way may be one its readers re-read too early for.
          () => this.missed.get(channel) === failures && this.missed.delete(channel),
          () => this.scheduleNotices(),
        ),
      ),
    );
  }
}
