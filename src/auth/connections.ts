import type { Db } from '../db/client.js';
import { deadKeys } from '../db/api-keys.js';
import { TooManyConnectionsError } from '../errors.js';
import { outageLog, type Logger } from '../log.js';
import { HolderCounts } from './holder-counts.js';
import { limitHolder, type Principal } from './principal.js';

/** graphql-ws close code for a connection whose key was revoked or expired (graphql-ws's "Unauthorized"). */
export const KEY_WITHDRAWN = 4401;

interface Open {
  principal: Principal;
  /** Ends the connection: a WebSocket closes with `code`; an SSE response is ended. */
  close(code: number, reason: string): void;
}

export type Transport = 'websocket' | 'sse';

/**
 * Long-lived connections (graphql-ws sockets, SSE streams) by the key that
 * opened them. Every `checkIntervalMs` it asks the database which of those
 * keys were revoked (on any node) or have expired, and closes their
 * connections: a revoked key's live streams stop within one interval.
 *
 * It also caps them: at most `perKey` (MAX_CONNECTIONS_PER_KEY; 0: no limit) per key, or per client address on an
 * open server, counted on this node only: a connection costs no round trip to Redis, and a node that dies takes its
 * counts with it rather than leaving them held in a shared store.
 */
export class OpenConnections {
  /** Keyed connections, watched for revocation and expiry; keyless ones are only counted. */
  private readonly open = new Set<Open>();
  /** Connections held now, by limitHolder (a key's id, or `open:<address>`). */
  private readonly held = new HolderCounts();
  /** Holders refused since they last closed a connection: logged once a spell, not once a retry. */
  private readonly refusing = new Set<string>();
  /** Connections refused for MAX_CONNECTIONS_PER_KEY since start (vigil_connections_refused_total). */
  readonly refused: Record<Transport, number> = { websocket: 0, sse: 0 };
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  closedForRevocation = 0;
  closedForExpiry = 0;
  // Checked every checkIntervalMs (500 ms by default): through an outage, a line at its start and one at its end.
  private readonly outage: ReturnType<typeof outageLog>;

  constructor(private readonly options: { db: Db; log: Logger; checkIntervalMs: number; perKey: number }) {
    this.outage = outageLog(options.log, "checking open connections' keys (revoked or expired)");
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Keyed connections being watched now. */
  get tracked(): number {
    return this.open.size;
  }

  /** Connections held now, keyed and keyless. */
  get count(): number {
    return this.held.total;
  }

  /**
   * Counts a connection, and watches it for its key, until the returned function is called (once or more). Throws
   * TooManyConnectionsError, counting nothing, when its key (or address) already holds `perKey` on this node.
   */
  add(principal: Principal, transport: Transport, close: Open['close']): () => void {
    const holder = limitHolder(principal);
    const held = this.held.of(holder);
    const { perKey } = this.options;
    if (perKey > 0 && held >= perKey) {
      this.refused[transport]++;
      if (!this.refusing.has(holder)) {
        this.refusing.add(holder);
        this.options.log.warn({ caller: principal.label, transport, limit: perKey }, 'refusing connections: MAX_CONNECTIONS_PER_KEY reached (logged again after one of its connections closes)');
      }
      throw new TooManyConnectionsError(perKey, held, principal.keyId === null ? 'address' : 'key');
    }
    this.held.add(holder);
    const entry: Open | undefined = principal.keyId === null ? undefined : { principal, close };
    if (entry) this.open.add(entry);
    let counted = true;
    return () => {
      if (entry) this.open.delete(entry);
      if (!counted) return;
      counted = false;
      this.refusing.delete(holder);
      this.held.remove(holder);
    };
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
