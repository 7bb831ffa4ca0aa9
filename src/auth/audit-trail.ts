import type { Db } from '../db/client.js';
import { insertAuditEntries, type AuditEntry } from '../db/audit.js';
import { outageLog, reasonOf, type Logger } from '../log.js';

/** How long stop() keeps trying to store what is left: shutdown waits for the audit log at most this long. */
const STOP_RETRY_MS = 3_000;
/** Pause between stop()'s attempts, so a refused connection is not retried in a busy loop. */
const STOP_RETRY_PAUSE_MS = 250;

/**
 * The audit log's writer. Requests only append to a buffer; a timer stores
 * the buffer in one insert every `flushIntervalMs`, so auditing costs the hot
 * path a push. While the database is unreachable entries wait (up to
 * `maxBuffered`; beyond that the oldest are dropped, counted and logged as
 * errors, because an audit gap must be visible). At shutdown, entries still
 * unstored after STOP_RETRY_MS of retrying are counted as dropped and logged.
 */
export class AuditTrail {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastError: unknown;
  /** Set once stop() is done retrying: what was unstored then is counted as dropped already. */
  private stopped = false;
  /** The insert still running when stop() gave up, counted in `dropped`. */
  private abandoned: AuditEntry[] | undefined;
  /** Entries of the insert running now: not in the buffer, not yet stored. */
  private current: AuditEntry[] | undefined;
  private readonly outage: ReturnType<typeof outageLog>;
  written = 0;
  dropped = 0;

  constructor(private readonly options: { db: Db; log: Logger; flushIntervalMs: number; maxBuffered: number }) {
    this.outage = outageLog(options.log, 'storing audit entries');
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  record(entry: AuditEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length > this.options.maxBuffered) {
      const excess = this.buffer.length - this.options.maxBuffered;
      this.buffer.splice(0, excess);
      if (this.dropped === 0) this.options.log.error({ maxBuffered: this.options.maxBuffered }, 'audit buffer full (database unreachable?): dropping the oldest entries');
      this.dropped += excess;
    }
  }

  get pending(): number {
    return this.buffer.length + (this.current?.length ?? 0);
  }

  /** Stores what is buffered now; resolves when stored or, on failure, when the entries are back in the buffer. */
  flush(): Promise<void> {
    // A flush already running holds an older batch: wait for it, then store what came since.
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.current = batch;
    this.flushing = insertAuditEntries(this.options.db, batch)
      .then(
        () => {
          this.written += batch.length;
          this.lastError = undefined;
          this.outage.succeeded();
          // In flight at stop()'s deadline, so counted as dropped and said lost; the database answered before it closed.
          if (batch === this.abandoned) {
            this.dropped -= batch.length;
            this.options.log.warn({ entries: batch.length }, 'audit entries said to be lost at shutdown were stored after all');
          }
        },
        (error: unknown) => {
          // After stop() gave up on them they are counted as dropped already, and no retry comes.
          if (this.stopped) return;
          this.lastError = error;
          this.outage.failed(error, { entries: batch.length });
          this.buffer = [...batch, ...this.buffer];
        },
      )
      .finally(() => {
        this.current = undefined;
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /**
   * Stops the timer and stores what is left (graceful shutdown). While the database refuses, it retries for up to
   * STOP_RETRY_MS (shutdown must stay bounded); what is still unstored then is lost with the process, so it is
   * counted in `dropped` and said in one error line, as an audit gap must be.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const startedAt = Date.now();
    const retrying = (async () => {
      await this.flush();
      while (this.pending > 0 && !this.stopped && Date.now() - startedAt < STOP_RETRY_MS) {
        await new Promise((resolve) => setTimeout(resolve, STOP_RETRY_PAUSE_MS));
        await this.flush();
      }
    })();
    // An insert that hangs (a host dropping packets) must not hold shutdown past the deadline either.
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([retrying, new Promise((resolve) => (deadline = setTimeout(resolve, STOP_RETRY_MS)))]);
    clearTimeout(deadline);
    this.stopped = true;
    // An insert still running now is counted too: it is not known to be stored, and the database closes next.
    const unstored = this.pending;
    if (unstored === 0) return;
    this.abandoned = this.current;
    this.buffer = [];
    this.dropped += unstored;
    this.options.log.error(
      { entries: unstored, retriedForMs: Date.now() - startedAt, ...(this.lastError !== undefined && { err: reasonOf(this.lastError) }) },
      'audit entries could not be stored before shutdown and are lost (database unreachable?)',
    );
  }
}
