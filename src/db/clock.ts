import { sql } from 'drizzle-orm';
import { reasonOf, type Logger } from '../log.js';
import { rows, type Db } from './client.js';

/** How far off the database's clock this node's may be before it says so. */
const OFF_WARNING_MS = 1_000;

/**
 * The database's clock as this node reads it: its own plus an offset measured by a round trip (half of it counted
 * each way). A batch's arrival is stamped by it, and compared with times the database stamps itself (a patient's
 * discharge and readmission, by now()): a node whose clock ran a minute behind placed the readings of a patient
 * readmitted within that minute in the stay before, whose alerts were closed, and raised no alarm.
 */
export class DatabaseClock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** Epoch ms by the database's clock. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Measures the offset again; one that fails keeps the last (the node's clock rarely jumps). */
  async sync(): Promise<void> {
    try {
      const sent = Date.now();
      const [row] = await rows<{ ms: number }>(this.db, sql`select extract(epoch from clock_timestamp())::float8 * 1000 as ms`);
      const back = Date.now();
      const offset = Math.round(Number(row!.ms) - (sent + back) / 2);
      const wasOff = Math.abs(this.offsetMs) > OFF_WARNING_MS;
      this.offsetMs = offset;
      if (Math.abs(offset) > OFF_WARNING_MS && !wasOff) {
        this.log.warn({ offsetMs: offset, roundTripMs: back - sent }, "this node's clock is off the database's: arrivals are stamped by the database's (check NTP on this host)");
      } else if (wasOff && Math.abs(offset) <= OFF_WARNING_MS) {
        this.log.info({ offsetMs: offset }, "this node's clock agrees with the database's again");
      }
    } catch (error) {
      this.log.debug({ err: reasonOf(error) }, "reading the database's clock failed; the last offset stands");
    }
  }

  /** Syncs now, then every `intervalMs`. */
  async start(intervalMs: number): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
