import type { Database } from '../db/client.js';
import { abandonDeadClaims } from '../db/offsets.js';
import { reasonOf, type Logger } from '../log.js';

export interface ClaimJanitor {
  /** Claims this node abandoned since start. */
  readonly abandoned: number;
  stop(): void;
}

/** How often open cursor claims are checked: a dead writer's claim holds its stream's readers back until then. */
const CLAIM_SWEEP_MS = 1_000;
/**
 * A claim open this long is abandoned even though its backend lives: its
 * writer was cut off without PostgreSQL noticing (TCP keepalive takes
 * minutes). A batch insert takes milliseconds; a writer this slow stores its
 * batch again under the stream's lock (db/offsets.ts storeBatch).
 */
const CLAIM_MAX_AGE_MS = 30_000;

/**
 * With PARALLEL_INGEST on PostgreSQL (`parallel`), abandons cursor claims
 * whose writer died between claiming and storing (db/offsets.ts), so the
 * stream's readers move on: every node sweeps, the DELETE makes each claim go
 * once. Nothing to do otherwise: no writer then leaves a claim open (every
 * node sets PARALLEL_INGEST alike).
 */
export function startClaimJanitor(database: Database, log: Logger, options: { parallel: boolean }): ClaimJanitor {
  let abandoned = 0;
  let failing = false;
  let running: Promise<void> | undefined;
  const sweepOnce = async () => {
    try {
      for (const claim of await abandonDeadClaims(database.db, CLAIM_MAX_AGE_MS)) {
        abandoned++;
        log.warn(
          { stream: claim.stream, from: claim.base.toString(), to: (claim.base + BigInt(claim.count)).toString(), reason: claim.reason },
          'abandoned an open cursor claim: its writer stored nothing under it, readers move past these cursors',
        );
      }
      if (failing) log.info('cursor claim sweep works again');
      failing = false;
    } catch (error) {
      if (!failing) log.warn({ err: reasonOf(error) }, 'cursor claim sweep failed; retrying every second');
      failing = true;
    }
  };
  const sweep = () => (running ??= sweepOnce().finally(() => (running = undefined)));
  const timer = options.parallel && database.driver === 'postgres' ? setInterval(() => void sweep(), CLAIM_SWEEP_MS) : undefined;
  timer?.unref();
  return {
    get abandoned() {
      return abandoned;
    },
    stop: () => clearInterval(timer),
  };
}
