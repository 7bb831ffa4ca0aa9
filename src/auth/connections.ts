import type { Db } from '../db/client.js';
import { deadKeys } from '../db/api-keys.js';
import { outageLog, type Logger } from '../log.js';
import type { Principal } from './principal.js';

/** graphql-ws close code for a connection whose key was revoked or expired (graphql-ws's "Unauthorized"). */
export const KEY_WITHDRAWN = 4401;

interface Open {
  principal: Principal;
  /** Ends the connection: a WebSocket closes with `code`; an SSE response is ended. */
  close(code: number, reason: string): void;
}

// One function for every connection that is not tracked, rather than a new one each held for a connection's life.
const untracked = () => undefined;

/**
 * Long-lived connections (graphql-ws sockets, SSE streams) by the key that
 * opened them. Every `checkIntervalMs` it asks the database which of those
 * keys were revoked (on any node) or have expired, and closes their
 * connections: a revoked key's live streams stop within one interval.
 */
export class OpenConnections {
  private readonly open = new Set<Open>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  closedForRevocation = 0;
  closedForExpiry = 0;
  // Checked every checkIntervalMs (500 ms by default): through an outage, a line at its start and one at its end.
  private readonly outage: ReturnType<typeof outageLog>;

  constructor(private readonly options: { db: Db; log: Logger; checkIntervalMs: number }) {
    this.outage = outageLog(options.log, "checking open connections' keys (revoked or expired)");
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Connections being watched now. */
  get tracked(): number {
    return this.open.size;
  }

  /** Tracks a connection until the returned function is called. Open (keyless) principals are not tracked. */
  add(principal: Principal, close: Open['close']): () => void {
    if (principal.keyId === null) return untracked;
    const entry: Open = { principal, close };
    this.open.add(entry);
    return () => this.open.delete(entry);
  }

  /** Closes the connections of `keyId` now (revoked on this node). */
  withdraw(keyId: string, reason: 'revoked' | 'expired'): void {
    for (const entry of [...this.open]) {
      if (entry.principal.keyId !== keyId) continue;
      this.open.delete(entry);
      if (reason === 'revoked') this.closedForRevocation++;
      else this.closedForExpiry++;
      this.options.log.info({ keyId, reason }, 'closing a connection: its API key was withdrawn');
      try {
        entry.close(KEY_WITHDRAWN, `API key ${reason}`);
      } catch (error) {
        this.options.log.warn({ err: (error as Error).message }, 'could not close a connection');
      }
    }
  }

  private async check(): Promise<void> {
    if (this.checking || this.open.size === 0) return;
    this.checking = true;
    try {
      const now = new Date();
      for (const entry of this.open) {
        if (entry.principal.expiresAt && entry.principal.expiresAt <= now) this.withdraw(entry.principal.keyId!, 'expired');
      }
      const ids = [...new Set([...this.open].map((e) => e.principal.keyId!))];
      const dead = await deadKeys(this.options.db, ids, now);
      this.outage.succeeded();
      for (const key of dead) this.withdraw(key.id, key.reason);
    } catch (error) {
      this.outage.failed(error);
    } finally {
      this.checking = false;
    }
  }
}
