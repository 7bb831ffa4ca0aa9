import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../db/client.js';
import { acquireLease, holdLease, LeaseLostError, loadCheckpoint, recordLateEvents, releaseLease, saveCheckpoints, type LateEvent, type SeriesCheckpoint } from '../db/processor-state.js';
import type { StreamPublisher } from '../live/publisher.js';
import type { StreamTail } from '../live/stream-tail.js';
import { outageLog, reasonOf, type Logger } from '../log.js';
import { LatencySamples } from './latency.js';
import { partitionOf } from './partitions.js';
import type { Output, Processor, Step } from './processor.js';

/** How long a failed database step waits before its next try: 100 ms, doubling, at most 5 s. */
const retryDelayMs = (attempt: number) => Math.min(5_000, 100 * 2 ** attempt);

/**
 * Where a stage's outputs go: persisted (idempotently, by output id) before
 * they are published on `channel`. A sink that returns a list publishes that
 * instead (e.g. only the alert transitions not stored before).
 */
export interface OutputSink<Out extends Output, Published = Out> {
  channel: string;
  /** `retry`: an earlier try of this batch failed (and may have committed unanswered); see `publishesOnRetry`. */
  persist(tx: Db, outputs: Out[], options?: { retry: boolean }): Promise<Published[] | void>;
  encode(items: Published[]): string;
  /**
   * What `persist` returns on a retry is complete: every output's published form, stored by this try or an earlier
   * one. For a sink whose published items are not its outputs (alert transitions are published as alert events), so
   * a retry never publishes the raw outputs, which no subscriber could decode.
   */
  publishesOnRetry?: boolean;
  /**
   * True for an output that a later one with the same id replaces (a forming
   * window or candle). Such outputs are published at once but stored at most
   * every `provisionalFlushMs`, latest version only, and always before a
   * checkpoint: a forming window touched by every reading is then written
   * once per interval instead of once per batch.
   */
  provisional?(output: Out): boolean;
}

/** One processor in a pipeline, with how a stream event becomes its input and where its outputs go. */
export interface Stage<E> {
  readonly name: string;
  readonly processor: Processor<unknown, unknown, Output>;
  input(event: E): unknown;
  readonly sink: OutputSink<Output, unknown>;
}

export function stage<E, S, I, O extends Output, P = O>(processor: Processor<S, I, O>, input: (event: E) => I, sink: OutputSink<O, P>): Stage<E> {
  return { name: processor.name, processor: processor as never, input, sink: sink as never };
}

/** What the runtime reads of every event: its cursor, and when its batch arrived (absent on events stored before that was kept). */
export interface StreamEvent {
  cursor: bigint;
  receivedAt?: number;
}

/** A stream and the processors that consume it. */
export interface PipelineSpec<E extends StreamEvent> {
  name: string;
  tail: StreamTail<E>;
  /** Stored events after `after` in cursor order, at most `limit`: the catch-up path after a restart. */
  readAfter(after: bigint, limit: number): Promise<E[]>;
  /** The series an event belongs to: its state key and, hashed, its partition. */
  seriesOf(event: E): string;
  /** Event time, epoch ms. */
  timeOf(event: E): number;
  /** The events the stages see, when not all: the others are skipped (no clock, no state, no output). */
  include?(event: E): boolean;
  /**
   * Its processors take events in any order, however late (each keeps the newest value per parameter, or places an
   * event by its own time): none is dropped as late. A nurse's charted temperature arrives minutes after the
   * monitor's pulse of the same patient, and must still count.
   */
  takesLateEvents?: boolean;
  /**
   * Series → the end of its latest closed output (a window, a candle) stored before `storedBefore`, epoch ms: a
   * checkpoint written then had a watermark at least that. Seeds the watermark of series checkpointed before
   * watermarks were kept, so a lateness raised in the same deploy cannot open a closed output again with only the
   * events the old watermark left out.
   */
  closedThrough?(storedBefore: Date): Promise<Map<string, number>>;
  stages: Stage<E>[];
}

export interface RuntimeOptions {
  db: Db;
  publisher: StreamPublisher;
  log: Logger;
  /** Number of partitions series are hashed into; fixed for the life of the checkpoints. */
  partitions: number;
  /** Watermark = max event time seen in a series minus this. Older events are recorded, and left out of what had closed. */
  latenessMs: number;
  /** How often state is checkpointed; a restart replays at most this much of the stream. */
  checkpointIntervalMs: number;
  /** How long the lease on the pipeline lasts; a node that dies is replaced after at most this. */
  leaseMs: number;
  /** Provisional outputs (see OutputSink) are stored at most this often; 0 stores every batch's. */
  provisionalFlushMs: number;
  /**
   * Live events held waiting for the batch in hand to be stored. Past this they are dropped and read back from the
   * database once storing catches up: the stream is stored before it is published, so memory need not hold it.
   */
  queueLimit: number;
}

/**
 * One partition's state. Watermarks are per series: a device whose clock runs
 * ahead moves only its own event time, so it cannot make the other series of
 * its partition late (and drop them from windows, scores and alerts).
 */
interface PartitionState {
  /** series key → the latest event time it has seen (its watermark is this minus the lateness). */
  clocks: Record<string, number>;
  /**
   * series key → the watermark last applied to it (windows ending at or before it are closed). A watermark never
   * goes back: with ALLOWED_LATENESS raised, or a node with a larger one taking over, clock − lateness would,
   * and events between would open closed windows again, fresh, and store them with only those events.
   */
  watermarks: Record<string, number>;
  /** series key → stage name → processor state */
  series: Record<string, Record<string, unknown>>;
}

/**
 * A partition's state from a checkpoint header written before series rows
 * existed, which held it whole; null for a header of series rows (`{}`).
 * The oldest such headers had one clock per partition (`maxEventTime`) and
 * none per series: each of its series starts from that clock.
 */
function wholePartition(pipeline: string, header: unknown): PartitionState | null {
  const state = (header ?? {}) as Partial<PartitionState> & { maxEventTime?: number | null };
  if (Object.keys(state).length === 0) return null;
  const clocks = { ...state.clocks };
  const series = state.series ?? {};
  for (const key of Object.keys(series)) {
    if (clocks[key] !== undefined) continue;
    if (typeof state.maxEventTime !== 'number') {
      throw new Error(`pipeline ${pipeline}: the checkpoint holds state for series ${key} but no event time; delete its processor_checkpoints rows to rebuild from the stored stream`);
    }
    clocks[key] = state.maxEventTime;
  }
  return { clocks, watermarks: {}, series };
}

/** Whether `stage` takes an event at `time` that came behind the watermark `behind`: one of its outputs holding it is open. */
function takesBehind<E>(stage: Stage<E>, time: number, behind: number): boolean {
  const { openUntil } = stage.processor;
  return openUntil !== undefined && openUntil(time) > behind;
}

/** A series' watermark: its clock minus the lateness, or the one already applied (`applied`) if that is later. */
function watermarkOf(clock: number, latenessMs: number, applied: number | undefined): number {
  return applied !== undefined && applied > clock - latenessMs ? applied : clock - latenessMs;
}

const CATCH_UP_PAGE = 5_000;
const MAX_LIVE_BATCH = 10_000;
const PUBLISH_CHUNK = 1_000;

/**
 * Feeds a stream's committed events, in cursor order, through its
 * processors. Owns what processors must not: series keys and partitions,
 * event-time watermarks per partition, late-event policy, persistence before
 * publishing, checkpoints and the lease that makes one node the owner.
 *
 * Deterministic given the stream: a restart loads the last checkpoint and
 * replays the stored events after it, regenerating the same outputs, which
 * overwrite themselves by id. So a crash never counts a window twice or
 * misses one.
 */
export class ProcessorRuntime<E extends StreamEvent> {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  role: 'starting' | 'owner' | 'standby' | 'stopped' = 'starting';
  /** When this node's lease runs out by its own clock: reckoned from before the renewal was sent, so never late. */
  private leaseEndsAt = 0;
  /** Last cursor whose event has been processed (outputs persisted and published). */
  position = 0n;
  checkpointedAt: { cursor: bigint; at: Date } | null = null;
  /** The stream its events come from, whose cursors its late events carry. */
  get stream(): string {
    return this.spec.tail.stream;
  }
  /** queueDrops: times the live queue passed queueLimit and was read back from the database instead. */
  readonly stats = { eventsIn: 0, lateDropped: 0, batches: 0, processingMs: 0, queueDrops: 0, outputs: {} as Record<string, number> };
  readonly delay = new LatencySamples();
  private partitions: PartitionState[] = [];
  /** Series whose state or clock changed since the last checkpoint: the next one writes only these. */
  private dirty = new Set<string>();
  /** The next checkpoint writes every series and drops any other stored row (see restore). */
  private rewriteAll = false;
  private queue: { events: E[]; committedAt?: number; receivedAt: number; requestId?: string }[] = [];
  /**
   * When the oldest live event not yet processed was committed (received, if the tail did not say), and the last
   * cursor received live: `waitingMs` grows while the pipeline stalls, where `delay` moves only when a batch completes.
   */
  private waitingSince: number | undefined;
  private receivedUpTo = 0n;
  /** The last cursor of the live queue when it was last dropped: until the catch-up passes it, older events wait. */
  private droppedUpTo = 0n;
  /** Events in `queue`. */
  private queued = 0;
  /** The queue was dropped (over queueLimit): what it held is read back from the database before the queue is taken again. */
  private behind = false;
  private wake: (() => void) | undefined;
  private detach: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastCheckpoint = 0;
  private readonly leaseOutage: ReturnType<typeof outageLog>;
  /** Ends untilRead's wait before its next try (stop, or the lease lost). */
  private interruptBackoff: (() => void) | undefined;
  private stopping = false;
  /** Bumped each time this node leaves ownership; a run started under another is stale and ends (see active()). */
  private epoch = 0;
  /** The epoch the current (or last) run started in. */
  private runEpoch = -1;
  /** Caught up with the stored stream and consuming the tail. */
  private live = false;
  /** A batch is being processed or stored. */
  private busy = false;
  /** Per stage: provisional outputs published but not yet stored, by id (latest version). */
  private readonly deferred: Map<string, Output>[];
  private lastFlush = 0;
  /** Stores run one at a time, so an older version of an output never lands after a newer one. */
  private storing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly spec: PipelineSpec<E>,
    private readonly options: RuntimeOptions,
  ) {
    for (const s of spec.stages) this.stats.outputs[s.name] = 0;
    this.deferred = spec.stages.map(() => new Map());
    // A standby node holds no lease: its check only looks for one to take over.
    this.leaseOutage = outageLog(options.log.child({ pipeline: spec.name }), 'processor lease check (renew it, or take it over when free)');
  }

  get name() {
    return this.spec.name;
  }

  /** The lowest series watermark: windows ending at or before it are final everywhere. */
  get watermark(): number | null {
    const { oldest } = this.seriesClocks();
    return oldest === null ? null : oldest - this.options.latenessMs;
  }

  /**
   * The series this node holds state for, and the latest event time of the
   * most and the least recently heard of them (null with none). One pass
   * over every series: for scrapes and queries, not per event.
   */
  seriesClocks(): { count: number; newest: number | null; oldest: number | null } {
    let count = 0;
    let newest: number | null = null;
    let oldest: number | null = null;
    for (const p of this.partitions) {
      for (const series in p.clocks) {
        const clock = p.clocks[series]!;
        count++;
        if (newest === null || clock > newest) newest = clock;
        if (oldest === null || clock < oldest) oldest = clock;
      }
    }
    return { count, newest, oldest };
  }

  get latenessMs(): number {
    return this.options.latenessMs;
  }

  async start(): Promise<void> {
    await this.tryLease();
    if (this.stopping) return;
    this.leaseTimer = setInterval(() => void this.tryLease(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.leaseTimer.unref();
    // Forming outputs wait for the next batch to be stored; a stream that goes quiet must not leave the stored ones
    // behind what subscribers were sent (a candle's volume, a window's count) until it speaks again.
    const flushMs = this.options.provisionalFlushMs;
    if (flushMs > 0) {
      this.flushTimer = setInterval(() => {
        if (this.role !== 'owner' || this.stopping || Date.now() - this.lastFlush < flushMs) return;
        this.flushProvisional().catch((error: unknown) => {
          if (error instanceof LeaseLostError) return this.standBy('processor lease lost to another node (found storing forming outputs); standing by');
          this.options.log.warn({ pipeline: this.name, err: reasonOf(error) }, 'storing forming outputs failed; retrying at the next batch or flush');
        });
      }, flushMs);
      this.flushTimer.unref();
    }
  }

  /** Resolves once every event committed so far has been processed (tests, benchmarks). */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // The tail hands every committed event to the listener before catchUp resolves.
    await this.spec.tail.catchUp();
    while (!this.live || this.busy || this.queue.length > 0 || this.behind) {
      if (this.role !== 'owner' && this.role !== 'starting') throw new Error(`pipeline ${this.name} is ${this.role} on this node`);
      if (Date.now() > deadline) throw new Error(`pipeline ${this.name} did not settle (at cursor ${this.position}, ${this.queue.length} batches queued)`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Nothing queued may also mean the lease went at the last batch's checkpoint.
    if (this.role !== 'owner') throw new Error(`pipeline ${this.name} is ${this.role} on this node`);
    await this.flushProvisional();
  }

  /** Stops after the batch in hand, checkpoints, and hands the lease back. */
  async stop(): Promise<void> {
    if (this.role === 'stopped') return;
    this.stopping = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.flushTimer);
    this.wake?.();
    this.interruptBackoff?.();
    await this.loop;
    const wasOwner = this.role === 'owner';
    this.role = 'stopped';
    this.detach?.();
    if (!wasOwner) return;
    try {
      await this.checkpoint();
      await releaseLease(this.options.db, this.name, this.owner);
    } catch (error) {
      this.options.log.warn({ pipeline: this.name, err: reasonOf(error) }, 'final checkpoint failed; the next owner replays from the previous one');
    }
  }

  /**
   * The role as this node can vouch for it: an owner whose renewals have not reached the database for a whole
   * lease (a partition) reads `lapsed`, since another node may hold the pipeline by now. It keeps its state and
   * goes on once a renewal succeeds, or stands by if another node took over.
   */
  get reportedRole(): 'starting' | 'owner' | 'lapsed' | 'standby' | 'stopped' {
    return this.role === 'owner' && Date.now() > this.leaseEndsAt ? 'lapsed' : this.role;
  }

  private async tryLease() {
    if (this.stopping) return;
    let held: boolean;
    const sentAt = Date.now();
    try {
      held = await acquireLease(this.options.db, this.name, this.owner, this.options.leaseMs);
    } catch (error) {
      // One warning per database outage; the renewal is retried every leaseMs/3.
      this.leaseOutage.failed(error);
      return;
    }
    this.leaseOutage.succeeded();
    if (held) this.leaseEndsAt = sentAt + this.options.leaseMs;
    if (this.stopping) return;
    if (held && this.role !== 'owner') {
      this.role = 'owner';
      // A loop from an earlier ownership may still be finishing its batch: one loop at a time.
      this.loop = (this.loop ?? Promise.resolve()).then(() => this.run()).catch(async (error: unknown) => {
        if (error instanceof LeaseLostError) return this.standBy('processor lease lost to another node (found storing outputs); standing by');
        // The node stood by while this run was busy (and may own the pipeline again, in a new run): that was logged.
        if (this.role !== 'owner' || this.runEpoch !== this.epoch) {
          this.options.log.debug({ pipeline: this.name, err: reasonOf(error) }, 'an earlier processor run ended');
          return;
        }
        const stopping = this.stopping;
        if (stopping) {
          // Its state is ahead of what is stored: no final checkpoint is written from it (stop() finds no owner).
          this.options.log.warn(
            { pipeline: this.name, err: reasonOf(error), cursor: this.position.toString() },
            'processors stopped before the batch in hand could be stored; the next owner replays it from the last checkpoint',
          );
        } else this.options.log.error({ pipeline: this.name, err: error }, 'processor runtime failed; giving up the lease');
        this.leaveOwnership();
        const released = releaseLease(this.options.db, this.name, this.owner).catch(() => undefined);
        if (stopping) await released;
      });
    } else if (!held && this.role === 'owner') {
      this.standBy('processor lease lost to another node; standing by');
    } else if (!held && this.role === 'starting') {
      this.role = 'standby';
      this.options.log.info({ pipeline: this.name }, 'processors run on another node; standing by');
    }
  }

  /** Stops processing after the batch in hand; the lease is another node's. */
  private standBy(message: string) {
    if (this.role !== 'owner') return;
    this.options.log.error({ pipeline: this.name }, message);
    this.leaveOwnership();
  }

  private leaveOwnership() {
    this.role = 'standby';
    this.epoch++;
    this.detach?.();
    this.wake?.();
    this.interruptBackoff?.();
    // Taking the lease back restores from the checkpoint: until then this state is only memory (~800 B of heap a
    // card with three transactions: 80 MB for 100,000 cards). The batch in hand, if any, is past the code that reads it.
    this.partitions = [];
    this.dirty = new Set();
    for (const deferred of this.deferred) deferred.clear();
    this.dropQueue();
    this.waitingSince = undefined;
    this.behind = false;
  }

  get queuedEvents(): number {
    return this.queued;
  }

  /**
   * How long the oldest live event this node has received and not yet processed has waited since its commit; 0
   * when it has processed everything it received. After the live queue was dropped, since the oldest dropped one
   * (until the catch-up passes the last of them), so it may read high then, never low.
   */
  get waitingMs(): number {
    return this.waitingSince === undefined ? 0 : Math.max(0, Date.now() - this.waitingSince);
  }

  private dropQueue() {
    this.queue = [];
    this.queued = 0;
  }

  /** After a batch: nothing waits once the position has reached what was received; else the next queued batch does. */
  private noteProgress() {
    if (this.waitingSince === undefined) return;
    if (this.position >= this.receivedUpTo) this.waitingSince = undefined;
    else if (!this.behind && this.position >= this.droppedUpTo) {
      const next = this.queue.find((q) => q.events.at(-1)!.cursor > this.position);
      if (next) this.waitingSince = next.committedAt ?? next.receivedAt;
    }
  }

  private async run(): Promise<void> {
    this.runEpoch = this.epoch;
    this.live = false;
    if (!(await this.restore())) return;
    this.dropQueue();
    this.behind = false;
    const { queueLimit } = this.options;
    this.waitingSince = undefined;
    this.detach = this.spec.tail.addListener((events, committedAt, requestId) => {
      const last = events.at(-1)!.cursor;
      if (last > this.position) {
        if (last > this.receivedUpTo) this.receivedUpTo = last;
        this.waitingSince ??= committedAt ?? Date.now();
      }
      if (this.queued + events.length > queueLimit) {
        // Storing is behind the stream (the database slow or unreachable, a burst larger than the processors take):
        // what is queued is stored already, and is read back once storing catches up.
        // While catching up after taking the pipeline, the stored stream is being read anyway: nothing to say.
        if (!this.behind && this.live) {
          this.stats.queueDrops++;
          this.options.log.warn(
            { pipeline: this.name, queued: this.queued + events.length, queueLimit, cursor: this.position.toString() },
            'processors are behind the live stream by more than PROCESSOR_QUEUE_LIMIT events; dropping them from memory to read them back from the database',
          );
        }
        this.dropQueue();
        this.behind = true;
        this.droppedUpTo = this.receivedUpTo;
      } else {
        this.queue.push({ events, committedAt, receivedAt: Date.now(), requestId });
        this.queued += events.length;
      }
      this.wake?.();
    });
    if (!(await this.catchUp('processors caught up; processing live'))) return;
    this.live = true;
    while (this.active()) {
      if (this.behind) {
        this.behind = false;
        if (!(await this.catchUp('processors caught up with the events dropped from the live queue'))) return;
        continue;
      }
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const taken: E[] = [];
      let committedAt: number | undefined;
      const requests = new Requests();
      this.busy = true;
      while (this.queue.length > 0 && taken.length < MAX_LIVE_BATCH) {
        const next = this.queue.shift()!;
        this.queued -= next.events.length;
        taken.push(...next.events);
        if (next.committedAt !== undefined) committedAt = Math.min(committedAt ?? next.committedAt, next.committedAt);
        // Events at or below the position were processed already (catch-up); their request is not this batch's.
        if (next.events.at(-1)!.cursor > this.position) requests.add(next.requestId);
      }
      try {
        await this.process(taken, committedAt, requests.fields());
      } finally {
        this.busy = false;
      }
      this.noteProgress();
    }
  }

  /**
   * Processes the stored stream after the position, page by page, until a page comes back empty: on taking the
   * pipeline, and after the live queue was dropped. The tail's listener queues meanwhile; what it queues that a page
   * already held is skipped by its cursor. False once the node no longer owns the pipeline or is stopping.
   */
  private async catchUp(done: string): Promise<boolean> {
    const committedAtStart = this.spec.tail.position;
    const from = this.position;
    const started = Date.now();
    let lastProgress = started;
    this.busy = true;
    try {
      while (this.active()) {
        const page = await this.untilRead('reading the stored stream to catch up', () => this.spec.readAfter(this.position, CATCH_UP_PAGE));
        if (page === undefined) return false;
        if (page.length === 0) {
          this.options.log.info(
            { pipeline: this.name, from: from.toString(), cursor: this.position.toString(), ms: Date.now() - started, partitions: this.options.partitions },
            done,
          );
          return true;
        }
        await this.process(page);
        this.noteProgress();
        // Let requests, timers and the lease renewal run between pages.
        await new Promise((resolve) => setImmediate(resolve));
        if (Date.now() - lastProgress > 5_000) {
          lastProgress = Date.now();
          this.options.log.info({ pipeline: this.name, at: this.position.toString(), of: committedAtStart.toString() }, 'processors catching up with the stored stream');
        }
      }
      return false;
    } finally {
      this.busy = false;
    }
  }

  private active() {
    // A run from before the node last stood by ends even if it owns the pipeline again: the new run restores.
    return this.role === 'owner' && !this.stopping && this.runEpoch === this.epoch;
  }

  /**
   * `read`, tried again with backoff while this node owns the pipeline: a database that is briefly unreachable
   * as the pipeline starts or catches up delays it, as it delays storing outputs (persistNow), instead of ending
   * the run and giving up the lease. Undefined once the node no longer owns the pipeline or is stopping.
   */
  private async untilRead<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; this.active(); attempt++) {
      try {
        const value = await read();
        if (attempt > 0) this.options.log.info({ pipeline: this.name, attempts: attempt + 1 }, `processors: ${what} succeeded after retrying`);
        return value;
      } catch (error) {
        const details = { pipeline: this.name, err: reasonOf(error), attempt: attempt + 1 };
        if (attempt === 0) this.options.log.warn(details, `processors: ${what} failed; retrying (further failures at debug)`);
        else this.options.log.debug(details, `processors: ${what} failed; retrying`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retryDelayMs(attempt));
          this.interruptBackoff = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.interruptBackoff = undefined;
      }
    }
    return undefined;
  }

  /** Loads the last checkpoint; false if the node stopped owning the pipeline before it could. */
  private async restore(): Promise<boolean> {
    const checkpoint = await this.untilRead('loading the checkpoint', () => loadCheckpoint(this.options.db, this.name));
    if (!checkpoint) return false;
    const { headers: saved, series: rows } = checkpoint;
    const { partitions } = this.options;
    if (saved.length > 0 && saved[0]!.partitions !== partitions) {
      throw new Error(
        `pipeline ${this.name} was checkpointed with ${saved[0]!.partitions} partitions but PROCESSOR_PARTITIONS is ${partitions}; set it back, or delete its processor_checkpoints rows to rebuild from the stored stream`,
      );
    }
    // A header of the format before series rows holds its partition's whole state. It was written last, so any
    // series rows beside it (left by a later version, then downgraded) are older or newer, never its state.
    const whole = saved.map((c) => wholePartition(this.name, c.state));
    const legacy = whole.some((w) => w !== null);
    this.partitions = Array.from({ length: partitions }, (_, i) => whole[i] ?? { clocks: {}, watermarks: {}, series: {} });
    // Series rows count only under a checkpoint: without one (none yet, or deleted to rebuild) the pipeline
    // starts from the beginning of the stream, and its first checkpoint replaces whatever rows are left.
    if (saved.length > 0 && !legacy) {
      for (const row of rows) {
        const partition = this.partitions[row.partition];
        if (!partition) throw new Error(`pipeline ${this.name}: series ${row.series} is stored in partition ${row.partition} of ${partitions}`);
        partition.clocks[row.series] = row.clock;
        if (row.watermark !== null) partition.watermarks[row.series] = row.watermark;
        partition.series[row.series] = row.state as Record<string, unknown>;
      }
    }
    this.dirty = new Set();
    this.rewriteAll = saved.length === 0 || legacy;
    if (saved.length > 0 && !(await this.seedWatermarks(saved[0]!.writtenAt))) return false;
    this.position = saved[0]?.cursor ?? 0n;
    this.checkpointedAt = saved[0] ? { cursor: saved[0].cursor, at: new Date() } : null;
    this.options.log.info(
      { pipeline: this.name, cursor: this.position.toString(), owner: this.owner, ...(legacy ? { format: 'whole partitions' } : {}) },
      saved.length ? 'processors resume from checkpoint' : 'processors start from the beginning of the stream',
    );
    return true;
  }

  /** Watermarks for restored series without one (seeded from closedThrough); false if the node stopped owning the pipeline. */
  private async seedWatermarks(checkpointedAt: Date): Promise<boolean> {
    const { closedThrough } = this.spec;
    const missing = this.partitions.flatMap((p) => Object.keys(p.clocks).filter((series) => p.watermarks[series] === undefined).map((series) => ({ p, series })));
    if (!closedThrough || missing.length === 0) return true;
    const began = performance.now();
    const ends = await this.untilRead('reading closed outputs to seed watermarks', () => closedThrough(checkpointedAt));
    if (!ends) return false;
    let seeded = 0;
    for (const { p, series } of missing) {
      const end = ends.get(series);
      if (end !== undefined) seeded++;
      // Every one gets a watermark, as its next event would apply it, and the next checkpoint keeps it: a series
      // left without one sent every later start (a lease moving, a restart) through this scan again.
      p.watermarks[series] = watermarkOf(p.clocks[series]!, this.options.latenessMs, end);
      this.dirty.add(series);
    }
    this.options.log.info(
      { pipeline: this.name, series: missing.length, seeded, ms: Math.round(performance.now() - began) },
      'processors: series checkpointed without a watermark take the end of their latest closed output',
    );
    return true;
  }

  /** `requests`: the ingest requests whose batches these events came in (Requests.fields), for the log lines. */
  private async process(events: readonly E[], committedAt?: number, requests?: RequestFields) {
    const began = performance.now();
    const unseen = events.filter((e) => e.cursor > this.position);
    if (unseen.length === 0) return;
    // Events the processors do not take (a reading that is not GOOD) only move the position.
    const { include } = this.spec;
    const fresh = include ? unseen.filter(include) : unseen;
    const { stages } = this.spec;
    const outputs = stages.map(() => new Map<string, Output>());
    const late: LateEvent[] = [];
    const advanced = new Map<string, PartitionState>();
    const lateness = this.options.latenessMs;
    const now = Date.now();

    // Event by event, in stream order: lateness, clocks, and the stages that take one event at a time (their
    // outputs stay in stream order). Stages whose processor has onEvents then get each series' kept events
    // together (series are independent, and within one the order is kept): they copy their state once per
    // series and batch, and emit what they touched once, series by series.
    const grouped = stages.some((s) => s.processor.onEvents);
    // Per series seen in this batch: its partition, its stage states and its kept events (found once, not per event).
    // `behind`, per kept event: the watermark it came behind (undefined: on time), for the stages that still take it.
    const seen = new Map<string, { partition: PartitionState; states: Record<string, unknown>; events: E[]; behind: (number | undefined)[] }>();
    for (const event of fresh) {
      const series = this.spec.seriesOf(event);
      let entry = seen.get(series);
      if (!entry) {
        const partition = this.partitions[partitionOf(series, this.options.partitions)]!;
        seen.set(series, (entry = { partition, states: (partition.series[series] ??= {}), events: [], behind: [] }));
      }
      const { partition, states } = entry;
      const time = this.spec.timeOf(event);
      const clock = partition.clocks[series];
      const watermark = clock === undefined || this.spec.takesLateEvents ? undefined : watermarkOf(clock, lateness, partition.watermarks[series]);
      const behind = watermark !== undefined && time < watermark ? watermark : undefined;
      if (behind !== undefined) {
        // Late: left out of every output closed by now. A stage whose outputs holding it are not all closed (an hour's
        // candle still forming) takes it still, into those.
        late.push({ cursor: event.cursor, series, eventTime: new Date(time), watermark: new Date(behind) });
        if (!stages.some((s) => takesBehind(s, time, behind))) continue;
      }
      for (let i = 0; i < stages.length; i++) {
        const stage = stages[i]!;
        const { processor, name, input } = stage;
        if (processor.onEvents) continue;
        if (behind !== undefined && !takesBehind(stage, time, behind)) continue;
        const step = processor.onEvent(states[name] ?? processor.init(series), input(event), behind);
        states[name] = step.state;
        for (const out of step.out) outputs[i]!.set(out.id, out);
      }
      if (grouped) {
        entry.events.push(event);
        entry.behind.push(behind);
      }
      // The clock goes no further than when the event arrived: ingest accepts times up to MAX_FUTURE_SKEW
      // ahead, and one such reading would otherwise make the series' on-time readings late for that long
      // (a patient's alerts silent, a candle closed early). Its own window closes once later arrivals get
      // there. The arrival is stored with the event, so a replay after a restart decides as the live run did;
      // this node's clock, which a replay reads later, made on-time events late in the replay only. Events
      // stored before arrivals were (migration 0012) fall back to that clock.
      const reached = Math.min(time, event.receivedAt ?? now);
      if (clock === undefined || reached > clock) {
        partition.clocks[series] = reached;
        advanced.set(series, partition);
      }
    }
    for (const [series, { states, events, behind }] of seen) {
      this.dirty.add(series);
      if (events.length === 0) continue;
      const anyBehind = behind.some((b) => b !== undefined);
      for (let i = 0; i < stages.length; i++) {
        const stage = stages[i]!;
        const { processor, name, input } = stage;
        if (!processor.onEvents) continue;
        let step: Step<unknown, Output>;
        if (!anyBehind) step = processor.onEvents(states[name] ?? processor.init(series), events.map(input));
        else {
          const taken = events.flatMap((event, e) => (behind[e] === undefined || takesBehind(stage, this.spec.timeOf(event), behind[e]) ? [e] : []));
          step = processor.onEvents(states[name] ?? processor.init(series), taken.map((e) => input(events[e]!)), taken.map((e) => behind[e]));
        }
        states[name] = step.state;
        for (const out of step.out) outputs[i]!.set(out.id, out);
      }
    }
    // Closing at the end of the batch gives the same results as closing per event: an event that reached a
    // processor is never older than its series' watermark, or joined only the outputs ending after the watermark it
    // came behind, so it never belongs to a window that should be closed.
    for (const [series, partition] of advanced) {
      const states = partition.series[series]!;
      const watermark = watermarkOf(partition.clocks[series]!, lateness, partition.watermarks[series]);
      partition.watermarks[series] = watermark;
      stages.forEach((s, i) => {
        if (!(s.name in states)) return;
        const step = s.processor.onWatermark(states[s.name], watermark);
        states[s.name] = step.state;
        for (const out of step.out) outputs[i]!.set(out.id, out);
      });
    }
    this.stats.processingMs += performance.now() - began;

    const lists = outputs.map((m) => [...m.values()]);
    const published = await this.persist(this.storeNow(lists), lists, late, requests);
    // A failed publish names the requests whose events these outputs came from.
    const log = requests ? this.options.log.child(requests) : this.options.log;
    stages.forEach((s, i) => {
      const list = published[i]!;
      for (let from = 0; from < list.length; from += PUBLISH_CHUNK) this.options.publisher.publish(s.sink.channel, s.sink.encode(list.slice(from, from + PUBLISH_CHUNK)), log);
      this.stats.outputs[s.name]! += lists[i]!.length;
    });
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { pipeline: this.name, events: fresh.length, outputs: lists.reduce((n, list) => n + list.length, 0), late: late.length, ms: Math.round(performance.now() - began) },
        'processor batch done',
      );
    }
    if (committedAt !== undefined) this.delay.add(Date.now() - committedAt);
    this.position = unseen.at(-1)!.cursor;
    this.stats.eventsIn += unseen.length;
    this.stats.batches++;
    if (late.length > 0) {
      this.stats.lateDropped += late.length;
      log.warn(
        { pipeline: this.name, count: late.length, first: late[0]!.cursor.toString(), latenessMs: this.options.latenessMs },
        'events behind the watermark, left out of the outputs this pipeline closed by then (windows, candles, fraud checks; stored, and listed by lateEvents)',
      );
    }
    if (this.role === 'owner' && Date.now() - this.lastCheckpoint >= this.options.checkpointIntervalMs) {
      // A checkpoint only shortens the replay after a restart: one that fails (database unreachable)
      // is retried after the interval instead of stopping the pipeline, whose outputs are stored.
      await this.checkpoint().catch((error: unknown) => {
        this.lastCheckpoint = Date.now();
        if (error instanceof LeaseLostError) return this.standBy('processor lease lost to another node (found at a checkpoint); standing by');
        this.options.log.warn({ pipeline: this.name, err: reasonOf(error), cursor: this.position.toString() }, 'processor checkpoint failed; retrying after the checkpoint interval');
      });
    }
  }

  /**
   * What of a batch's outputs to store now: everything but provisional
   * outputs, which wait in `deferred` (a final output drops its provisional
   * versions); all of those too once the flush interval has passed.
   */
  private storeNow(lists: Output[][]): Output[][] {
    const flushMs = this.options.provisionalFlushMs;
    const now = lists.map((list, i) => {
      const { provisional } = this.spec.stages[i]!.sink;
      if (!provisional || flushMs <= 0) return list;
      const deferred = this.deferred[i]!;
      const final: Output[] = [];
      for (const output of list) {
        if (provisional(output)) deferred.set(output.id, output);
        else {
          deferred.delete(output.id);
          final.push(output);
        }
      }
      return final;
    });
    if (Date.now() - this.lastFlush >= flushMs) return now.map((list, i) => [...list, ...this.takeDeferred(i)]);
    return now;
  }

  private takeDeferred(stage: number): Output[] {
    this.lastFlush = Date.now();
    const taken = [...this.deferred[stage]!.values()];
    this.deferred[stage]!.clear();
    return taken;
  }

  /** Stores every provisional output still waiting (before a checkpoint, and when settling). */
  private async flushProvisional(): Promise<void> {
    if (this.deferred.every((d) => d.size === 0)) return;
    const lists = this.deferred.map((_, i) => this.takeDeferred(i));
    await this.persist(lists, lists, []);
  }

  /**
   * Stores `store` (retrying until stored: the batch's state has already advanced, so its outputs must not be
   * lost) and answers what to publish per stage: what the sink returned, else everything in `all`.
   */
  private persist(store: Output[][], all: Output[][], late: LateEvent[], requests?: RequestFields): Promise<unknown[][]> {
    const stored = this.storing.then(() => this.persistNow(store, all, late, requests));
    this.storing = stored.catch(() => undefined);
    return stored;
  }

  private async persistNow(lists: Output[][], all: Output[][], late: LateEvent[], requests?: RequestFields): Promise<unknown[][]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const published = await this.options.db.transaction(async (tx) => {
          await holdLease(tx as unknown as Db, this.name, this.owner);
          const toPublish: unknown[][] = [];
          for (const [i, s] of this.spec.stages.entries()) {
            const stored = lists[i]!.length > 0 ? await s.sink.persist(tx as unknown as Db, lists[i]!, { retry: attempt > 0 }) : undefined;
            // On a retry, what the store says it wrote misses what a try whose commit was not answered did write,
            // unless the sink says otherwise (publishesOnRetry).
            toPublish.push(attempt > 0 && !s.sink.publishesOnRetry ? all[i]! : (stored ?? all[i]!));
          }
          await recordLateEvents(tx, this.name, late);
          return toPublish;
        });
        if (attempt > 0) this.options.log.info({ pipeline: this.name, attempts: attempt + 1 }, 'processor outputs stored after retrying');
        return published;
      } catch (error) {
        // A node that lost its lease must not write a stale batch over the new owner's, which replays it.
        if (error instanceof LeaseLostError || (this.stopping && attempt >= 3) || this.role !== 'owner') throw error;
        if (attempt === 0) this.options.log.warn({ pipeline: this.name, err: reasonOf(error), ...requests }, 'storing processor outputs failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt)));
      }
    }
  }

  private async checkpoint() {
    if (this.partitions.length === 0) return;
    const cursor = this.position;
    // A restart replays only what follows the checkpoint, so what precedes it must be stored.
    await this.flushProvisional();
    // Serialized now, so the stored state is exactly the state at `cursor`; only the series that changed since
    // the last checkpoint (all of them once, after a start without series rows). Writing every series each time
    // took ~0.9 s of the event loop for 100,000 cards (34 MB of JSON), every CHECKPOINT_INTERVAL.
    const began = performance.now();
    const replace = this.rewriteAll;
    const { partitions } = this.options;
    const keys = replace ? this.partitions.flatMap((p) => Object.keys(p.clocks)) : [...this.dirty];
    const series: SeriesCheckpoint[] = [];
    for (const key of keys) {
      const partition = partitionOf(key, partitions);
      const clock = this.partitions[partition]!.clocks[key];
      // NaN or ±Infinity would not be JSON: fail loudly here, not with a parse error from the database.
      if (clock !== undefined && !Number.isFinite(clock)) throw new Error(`pipeline ${this.name}: series ${key} has event time ${clock}; checkpoint not written`);
      const watermark = this.partitions[partition]!.watermarks[key] ?? null;
      if (clock !== undefined) series.push({ partition, series: key, clock, watermark, state: JSON.stringify(this.partitions[partition]!.series[key] ?? {}) });
    }
    const serialised = performance.now();
    // What changes from here on goes to the next checkpoint; a failed one leaves its series to it as well.
    this.dirty = new Set();
    try {
      await saveCheckpoints(this.options.db, this.name, this.owner, cursor, partitions, series, { replace });
    } catch (error) {
      for (const key of keys) this.dirty.add(key);
      throw error;
    }
    this.rewriteAll = false;
    this.lastCheckpoint = Date.now();
    this.checkpointedAt = { cursor, at: new Date() };
    this.options.log.debug(
      { pipeline: this.name, cursor: cursor.toString(), series: series.length, bytes: series.reduce((n, s) => n + s.state.length, 0), replace, serialiseMs: Math.round(serialised - began), ms: Math.round(performance.now() - began) },
      'processor checkpoint written',
    );
  }
}

/** What a processor batch's log lines say about the requests it came from: at most this many ids, and how many there were. */
const REQUEST_IDS_LOGGED = 20;

type RequestFields = { requestIds: string[]; requests: number };

/** The distinct ingest requests of the batches merged into one processor batch, in arrival order. */
class Requests {
  private readonly ids = new Set<string>();

  add(requestId: string | undefined) {
    if (requestId !== undefined) this.ids.add(requestId);
  }

  /** Undefined when none is known (batches read back from the database carry none). */
  fields(): RequestFields | undefined {
    if (this.ids.size === 0) return undefined;
    return { requestIds: [...this.ids].slice(0, REQUEST_IDS_LOGGED), requests: this.ids.size };
  }
}
