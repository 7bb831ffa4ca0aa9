import type { Executor } from '../db/client.js';
import { readingsAfter, type Reading } from '../db/readings.js';
import { SlowConsumerError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { Channel, newDeliveryCounters } from './channel.js';
import type { StreamTail } from './stream-tail.js';

export interface ReadingsSubscription {
  /** Only this tenant's readings. */
  tenantId: string;
  sourceIds?: readonly string[] | null;
  metrics?: readonly string[] | null;
  /** Resume: replay stored readings with a larger cursor first. Null: live only. */
  after?: bigint | null;
}

const REPLAY_PAGE = 500;

/**
 * Live readings for subscribers: stored readings after the subscriber's
 * cursor, then the node's stream tail, with no gap and no duplicate at the
 * hand-over. The tail's listener is attached before the replay is read, and
 * the replay stops at the tail's position at that instant.
 */
export class ReadingsFeed {
  private readonly open = new Set<Channel<Reading>>();
  /** Subscriptions ever opened; monotonic, so a waiter is not fooled by one closing meanwhile. */
  opened = 0;
  readonly counters = newDeliveryCounters();

  constructor(
    private readonly tail: StreamTail<Reading>,
    private readonly db: Executor,
    private readonly options: { subscriberBuffer: number; log: Logger },
  ) {}

  get subscriberCount(): number {
    return this.open.size;
  }

  subscribe(request: ReadingsSubscription): AsyncIterableIterator<Reading[] | Error> {
    const sources = request.sourceIds?.length ? new Set(request.sourceIds) : undefined;
    const metrics = request.metrics?.length ? new Set(request.metrics) : undefined;
    const wanted = (r: Reading) => r.tenantId === request.tenantId && (!sources || sources.has(r.sourceId)) && (!metrics || metrics.has(r.metric));

    const handOver = this.tail.position;
    // Resume advice must name what the client has read, not what sat in the dropped buffer.
    const resumeAfter = () => (channel.lastRead?.cursor ?? request.after ?? null)?.toString() ?? null;
    const floor = request.after !== null && request.after !== undefined && request.after > handOver ? request.after : handOver;
    let held: Reading[][] | undefined = request.after != null && request.after < handOver ? [] : undefined;

    const channel: Channel<Reading> = new Channel<Reading>(
      this.options.subscriberBuffer,
      () => new SlowConsumerError(this.options.subscriberBuffer, resumeAfter()),
      () => {
        detach();
        this.open.delete(channel);
      },
      this.counters,
    );
    const send = (readings: Reading[]) => {
      if (readings.length === 0) return;
      channel.push(readings);
    };
    const detach = this.tail.addListener((events) => {
      const fresh = events.filter((r) => r.cursor > floor && wanted(r));
      if (fresh.length === 0) return;
      if (held) {
        held.push(fresh);
        if (held.reduce((n, b) => n + b.length, 0) > this.options.subscriberBuffer) {
          channel.fail(new SlowConsumerError(this.options.subscriberBuffer, resumeAfter()));
        }
        return;
      }
      send(fresh);
    });
    this.open.add(channel);
    this.opened++;

    if (held) {
      void this.replay(request.after!, handOver, request, channel, send)
        .then(() => {
          for (const batch of held ?? []) send(batch);
          held = undefined;
        })
        .catch((error: unknown) => {
          this.options.log.warn({ err: (error as Error).message }, 'readings replay failed');
          channel.fail(new UnavailableError('could not read stored readings to replay; resubscribe with the same cursor'));
        });
    }
    return channel;
  }

  private async replay(
    after: bigint,
    upTo: bigint,
    request: ReadingsSubscription,
    channel: Channel<Reading>,
    send: (readings: Reading[]) => void,
  ) {
    const pageSize = Math.max(1, Math.min(REPLAY_PAGE, Math.floor(this.options.subscriberBuffer / 2)));
    let cursor = after;
    while (!channel.closed) {
      const page = await readingsAfter(this.db, cursor, {
        upTo,
        limit: pageSize,
        filter: { tenantId: request.tenantId, sourceIds: request.sourceIds, metrics: request.metrics },
      });
      send(page);
      if (page.length < pageSize) return;
      cursor = page.at(-1)!.cursor;
      // Let the consumer drain before the next page, so a long replay stays within the buffer.
      while (channel.size > this.options.subscriberBuffer / 2 && !channel.closed) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  /** Completes every open subscription (graceful shutdown). */
  close(): void {
    for (const channel of this.open) channel.end();
    this.open.clear();
  }
}
