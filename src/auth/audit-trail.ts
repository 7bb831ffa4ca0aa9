import type { Db } from '../db/client.js';
import { insertAuditEntries, type AuditEntry } from '../db/audit.js';
import { reasonOf, type Logger } from '../log.js';

/**
 * The audit log's writer. Requests only append to a buffer; a timer stores
 * the buffer in one insert every `flushIntervalMs`, so auditing costs the hot
 * path a push. While the database is unreachable entries wait (up to
 * `maxBuffered`; beyond that the oldest are dropped, counted and logged as
 * errors, because an audit gap must be visible).
 */
export class AuditTrail {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  written = 0;
  dropped = 0;

  constructor(private readonly options: { db: Db; log: Logger; flushIntervalMs: number; maxBuffered: number }) {}

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
    return this.buffer.length;
  }

  /** Stores what is buffered now; resolves when stored or, on failure, when the entries are back in the buffer. */
  flush(): Promise<void> {
    // A flush already running holds an older batch: wait for it, then store what came since.
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = insertAuditEntries(this.options.db, batch)
      .then(
        () => {
          this.written += batch.length;
        },
        (error: unknown) => {
          this.options.log.warn({ err: reasonOf(error), entries: batch.length }, 'could not store audit entries; retrying');
          this.buffer = [...batch, ...this.buffer];
        },
      )
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /** Stops the timer and stores what is left (graceful shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
