import { AppError, SlowConsumerError, TooManyReplaysError, UnavailableError } from '../errors.js';
import { reasonOf, type Logger } from '../log.js';
import { Channel, newDeliveryCounters, type DeliveryCounters } from './channel.js';
import type { ReplaySlots } from './replay-slots.js';
import type { StreamTail } from './stream-tail.js';

/** An event of a committed stream (readings, trades): its cursor and its tenant. */
export interface StreamEvent {
  cursor: bigint;
  tenantId: string;
}

export interface StreamSubscription {
  /** Only this tenant's events. */
  tenantId: string;
  /** Only events of these sources (readings' sources, trades' symbols); all of the tenant's when omitted. */
  sourceIds?: readonly string[] | null;
  /** Only these metrics (readings; a stream without metrics has no `metricOf` and takes none). */
  metrics?: readonly string[] | null;
  /** Resume: replay stored events with a larger cursor first. Null: live only. */
  after?: bigint | null;
  /** Whose replay turns a replay takes (auth/principal.ts limitHolder): its key's, or its address's when open. */
  holder: string;
}

/** What the feed needs to know of its stream. */
export interface FeedSource<E> {
  /** What the stream holds, for log lines and errors ("readings", "trades"). */
  noun: string;
  /** The source (or symbol) an event belongs to: how it is routed. */
  sourceOf(event: E): string;
  /** An event's metric, for streams whose subscribers may filter on one. */
  metricOf?(event: E): string;
  /** Stored events with after < cursor <= upTo that `request` takes, in cursor order, at most `limit`: the replay. */
  read(after: bigint, upTo: bigint, limit: number, request: StreamSubscription): Promise<E[]>;
}

const REPLAY_PAGE = 500;

/**
 * One subscriber: its channel and where its live part starts. A class, so its
 * behaviour lives on the prototype: thousands of idle subscribers hold no
 * closures of their own beyond the channel's two callbacks.
 */
class Member<E extends StreamEvent> {
  readonly channel: Channel<E>;
  /** Events in `held`. */
  private heldCount = 0;

  constructor(
    /** Live events at or below this cursor were (or will be) replayed, or came before the resume point. */
    private readonly floor: bigint,
    /** Live batches held while the replay runs; undefined once live. */
    private held: E[][] | undefined,
    private readonly after: bigint | null,
    private readonly buffer: number,
    onClose: (member: Member<E>) => void,
    counters: DeliveryCounters,
  ) {
    this.channel = new Channel<E>(buffer, () => this.slowConsumer(), () => onClose(this), counters);
  }

  /**
   * Resume advice names what the client has read, not what sat in the dropped buffer; before it read anything,
   * where it started: its `after`, or for a live-only subscriber the hand-over (null would resume live from now,
   * losing what it was never sent).
   */
  slowConsumer(): SlowConsumerError {
    return new SlowConsumerError(this.buffer, (this.channel.lastRead?.cursor ?? this.after ?? this.floor).toString());
  }

  get replaying(): boolean {
    return this.held !== undefined;
  }

  send(events: E[]): void {
    if (events.length > 0) this.channel.push(events);
  }

  /** A live batch: the part after `floor`, sent, or held while the replay runs (failing past the buffer). */
  receive(batch: E[]): void {
    const mine = batch[0]!.cursor <= this.floor ? batch.filter((e) => e.cursor > this.floor) : batch;
    if (!this.held) return this.send(mine);
    if (mine.length === 0) return;
    this.held.push(mine);
    this.heldCount += mine.length;
    if (this.heldCount > this.buffer) this.channel.overflow(this.heldCount);
  }

  /** The replay is done: what was held goes out, and live batches from now on. */
  goLive(): void {
    for (const batch of this.held ?? []) this.send(batch);
    this.held = undefined;
    this.heldCount = 0;
  }
}

/** Subscribers with the same tenant and filters: one filtered batch, shared, for all of them. */
interface Group<E extends StreamEvent> {
  key: string;
  tenantId: string;
  sources: readonly string[] | undefined;
  metrics: Set<string> | undefined;
  members: Set<Member<E>>;
  /** Events of the batch being dispatched. */
  pending: E[];
}

/** Where a tenant's groups are found by an event's source. */
interface TenantIndex<E extends StreamEvent> {
  everySource: Set<Group<E>>;
  bySource: Map<string, Set<Group<E>>>;
}

/**
 * Live events of a committed stream (readings, trades) for subscribers: stored
 * events after the subscriber's cursor, then the node's stream tail, with no
 * gap and no duplicate at the hand-over. A subscriber joins the feed before the replay is read, and the
 * replay stops at the tail's position at that instant.
 *
 * Fan-out is indexed, not per subscriber: subscribers with the same tenant
 * and filters form a group, each event is routed to the groups of its
 * (tenant, source), and every member of a group receives the same batch
 * object, so the transport can execute and serialise it once per group
 * (transport/shared-events.ts).
 */
export class StreamFeed<E extends StreamEvent> {
  private readonly groups = new Map<string, Group<E>>();
  private readonly tenants = new Map<string, TenantIndex<E>>();
  private members = 0;
  /** Subscriptions ever opened; monotonic, so a waiter is not fooled by one closing meanwhile. */
  opened = 0;
  readonly counters = newDeliveryCounters();

  constructor(
    private readonly tail: StreamTail<E>,
    private readonly source: FeedSource<E>,
    private readonly options: { subscriberBuffer: number; log: Logger; replays: ReplaySlots },
  ) {
    // Attached for the feed's life: the tail clears its listeners when it stops.
    this.tail.addListener((events) => this.dispatch(events));
  }

  get subscriberCount(): number {
    return this.members;
  }

  /** Distinct (tenant, filters) among open subscriptions. */
  get groupCount(): number {
    return this.groups.size;
  }

  subscribe(request: StreamSubscription): AsyncIterableIterator<E[] | Error> {
    const handOver = this.tail.position;
    const after = request.after ?? null;
    const group = this.join(request);
    const member = new Member<E>(
      after !== null && after > handOver ? after : handOver,
      after !== null && after < handOver ? [] : undefined,
      after,
      this.options.subscriberBuffer,
      (m) => this.leave(group, m),
      this.counters,
    );
    group.members.add(member);
    this.members++;
    this.opened++;

    if (member.replaying) {
      const { replays } = this.options;
      const refusal = () => new TooManyReplaysError(replays.limit, replays.waitMs, after!.toString(), this.source.noun);
      void replays
        .run(request.holder, member.channel, refusal, () => this.replay(after!, handOver, request, member))
        .then(() => member.goLive())
        .catch((error: unknown) => {
          if (error instanceof AppError) return member.channel.fail(error);
          const { noun } = this.source;
          this.options.log.warn({ err: reasonOf(error) }, `${noun} replay failed`);
          member.channel.fail(new UnavailableError(`could not read stored ${noun} to replay; resubscribe with the same cursor`));
        });
    }
    return member.channel;
  }

  /** Completes every open subscription (graceful shutdown). */
  close(): void {
    for (const group of [...this.groups.values()]) for (const member of [...group.members]) member.channel.end();
  }

  private dispatch(events: E[]) {
    if (this.members === 0) return;
    const touched: Group<E>[] = [];
    const { sourceOf, metricOf } = this.source;
    const route = (groups: Set<Group<E>> | undefined, event: E) => {
      if (!groups) return;
      for (const group of groups) {
        if (group.metrics && !group.metrics.has(metricOf!(event))) continue;
        if (group.pending.length === 0) touched.push(group);
        group.pending.push(event);
      }
    };
    for (const event of events) {
      const index = this.tenants.get(event.tenantId);
      if (!index) continue;
      route(index.everySource, event);
      route(index.bySource.get(sourceOf(event)), event);
    }
    // Each event reaches a group at most once (it has one source), in the tail's cursor order.
    for (const group of touched) {
      const batch = group.pending;
      group.pending = [];
      for (const member of group.members) member.receive(batch);
    }
  }

  private join(request: StreamSubscription): Group<E> {
    const sources = request.sourceIds?.length ? [...new Set(request.sourceIds)].sort() : undefined;
    const metrics = request.metrics?.length && this.source.metricOf ? [...new Set(request.metrics)].sort() : undefined;
    const key = JSON.stringify([request.tenantId, sources ?? null, metrics ?? null]);
    const existing = this.groups.get(key);
    if (existing) return existing;
    const group: Group<E> = { key, tenantId: request.tenantId, sources, metrics: metrics && new Set(metrics), members: new Set(), pending: [] };
    this.groups.set(key, group);
    let index = this.tenants.get(request.tenantId);
    if (!index) this.tenants.set(request.tenantId, (index = { everySource: new Set(), bySource: new Map() }));
    if (!sources) index.everySource.add(group);
    else
      for (const id of sources) {
        let set = index.bySource.get(id);
        if (!set) index.bySource.set(id, (set = new Set()));
        set.add(group);
      }
    return group;
  }

  private leave(group: Group<E>, member: Member<E>) {
    if (!group.members.delete(member)) return;
    this.members--;
    if (group.members.size > 0) return;
    this.groups.delete(group.key);
    const index = this.tenants.get(group.tenantId)!;
    index.everySource.delete(group);
    for (const id of group.sources ?? []) {
      const set = index.bySource.get(id);
      set?.delete(group);
      if (set?.size === 0) index.bySource.delete(id);
    }
    if (index.everySource.size === 0 && index.bySource.size === 0) this.tenants.delete(group.tenantId);
  }

  private async replay(after: bigint, upTo: bigint, request: StreamSubscription, member: Member<E>) {
    const { channel } = member;
    const pageSize = channel.replayPage(REPLAY_PAGE);
    let cursor = after;
    while (!channel.closed) {
      const page = await this.source.read(cursor, upTo, pageSize, request);
      member.send(page);
      if (page.length < pageSize) return;
      cursor = page.at(-1)!.cursor;
      await channel.drained();
    }
  }
}
