import type { SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { recordDeadLetters } from '../db/dead-letters.js';
import { claimAndInsert, retryingDeadlocks, storeBatch, type ClaimedInsert, type ConflictAwareInserts, type OnConflict } from '../db/offsets.js';
import { ValidationError } from '../errors.js';
import type { StreamPublisher } from '../live/publisher.js';
import type { BatchCodec } from '../live/wire.js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { DatabaseClock } from '../db/clock.js';
import { maskCardNumbers } from './card-numbers.js';
import { timeBounds, type ItemCheck, type ItemError, type TimeBounds } from './item-errors.js';
import { asUnavailable } from './unavailable.js';

export interface IngestDeps {
  database: Database;
  publisher: StreamPublisher;
  log: Logger;
  /** The database's clock (db/clock.ts): arrivals are compared with times the database stamps. */
  clock: DatabaseClock;
  maxBatch: number;
  maxFutureSkewMs: number;
  /** Events older than this are refused: the next retention sweep would delete them (RETAIN_FOR). */
  retainForMs: number;
  /** Large batches of a stream insert in parallel on PostgreSQL (PARALLEL_INGEST; db/offsets.ts storeBatch). */
  parallel: boolean;
  /** Whether a batch's INSERT fails on stored rows (and is written again skipping them) or skips them: one per node. */
  inserts: ConflictAwareInserts;
  /** Told about every stored batch (metrics). */
  observe?: (stream: string, result: IngestResult, seconds: number) => void;
  /**
   * Resolves once every cursor of `stream` up to `cursor` is visible in order
   * (this node's stream tail has passed it). With `parallel`, batches of a
   * stream may commit out of cursor order (db/offsets.ts); waiting keeps a
   * returned lastCursor at or below what readers and `after` arguments accept.
   */
  visible?: (stream: string, cursor: bigint) => Promise<void>;
}

/** The request a batch came in: its logger (with its requestId and keyId) and the id itself, for the stream message. */
export interface IngestRequest {
  log: Logger;
  id: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: ItemError[];
  /** Cursor of the last event this batch stored; null when it stored none. */
  lastCursor: bigint | null;
}

/** What differs between streams (readings, trades): the rest of ingest is one pipeline. */
export interface StreamSpec<Valid, Stored extends { cursor: bigint }> {
  stream: string;
  /** Plural noun for messages: "readings", "trades". */
  noun: string;
  validate(item: unknown, index: number, bounds: TimeBounds): ItemCheck<Valid>;
  /** Checks against stored data (e.g. the tenant's sources); returns errors for the items that fail. */
  admit?(candidates: readonly { index: number; value: Valid }[], tenantId: string): Promise<ItemError[]>;
  /** Two items with the same natural key are the same event: the first one stored wins. */
  naturalKey(value: Valid): string;
  /** The INSERT … SELECT for claimAndInsert (db/offsets.ts): rows numbered `claim.base + n` in order, natural-key conflicts failing or skipped, `returning seq`. */
  insertSql: (values: readonly Valid[], tenantId: string, receivedAt: number, onConflict: OnConflict) => SQL;
  /** `receivedAt`: the batch's arrival (epoch ms), stored with each row and carried by each event. */
  toStored(value: Valid, cursor: bigint, tenantId: string, receivedAt: number): Stored;
  codec: BatchCodec<Stored>;
}

/**
 * Validates each item, stores the valid ones and the rejected ones' dead
 * letters in one transaction, and publishes the stored events after commit.
 * Resolves only once the rows are committed. A retried batch stores nothing
 * twice: the natural key is unique, and the first event stored wins.
 */
export async function ingestBatch<Valid, Stored extends { cursor: bigint }>(
  deps: IngestDeps,
  spec: StreamSpec<Valid, Stored>,
  items: readonly unknown[],
  caller: Principal,
  request?: IngestRequest,
): Promise<IngestResult> {
  const log = request?.log ?? deps.log;
  if (items.length > deps.maxBatch) {
    throw new ValidationError(
      `batch of ${items.length} ${spec.noun} exceeds the maximum of ${deps.maxBatch}; split it into smaller batches`,
      { maxBatch: deps.maxBatch, received: items.length },
      'BATCH_TOO_LARGE',
    );
  }
  const began = performance.now();
  // The batch's arrival: the time bounds are reckoned from it, and processors never let a series' clock pass it.
  const receivedAt = deps.clock.now();
  const bounds = timeBounds(receivedAt, deps);
  const errors: ItemError[] = [];
  let candidates: { index: number; value: Valid }[] = [];
  items.forEach((item, index) => {
    const checked = spec.validate(item, index, bounds);
    if (checked.ok) candidates.push({ index, value: checked.value });
    else errors.push(...checked.errors);
  });
  if (spec.admit && candidates.length > 0) {
    const refused = await spec.admit(candidates, caller.tenantId).catch(asUnavailable);
    const refusedIndexes = new Set(refused.map((e) => e.index));
    errors.push(...refused);
    candidates = candidates.filter((c) => !refusedIndexes.has(c.index));
  }

  const seen = new Set<string>();
  const valid: Valid[] = [];
  let duplicates = 0;
  for (const { value } of candidates) {
    const key = spec.naturalKey(value);
    if (seen.has(key)) duplicates++;
    else {
      seen.add(key);
      valid.push(value);
    }
  }
  errors.sort((a, b) => a.index - b.index);
  const rejectedIndexes = [...new Set(errors.map((e) => e.index))];

  // A clean batch is an autocommit write (db/offsets.ts storeBatch): the stream's lock is never held
  // across a round trip. Dead letters share a transaction with the rows.
  const db = deps.database.db;
  let claimed: ClaimedInsert | undefined;
  if (rejectedIndexes.length === 0) {
    if (valid.length > 0) {
      const insert = (onConflict: OnConflict) => spec.insertSql(valid, caller.tenantId, receivedAt, onConflict);
      claimed = await storeBatch(db, spec.stream, valid.length, insert, { parallel: deps.parallel, inserts: deps.inserts }).catch(asUnavailable);
    }
  } else {
    // Retried when PostgreSQL aborts it to break a deadlock, as a clean batch is (db/offsets.ts retryingDeadlocks): a
    // parallel batch (PARALLEL_INGEST) with the same new rows in another order waits for this one's rows as this one
    // waits for its.
    await retryingDeadlocks(() =>
      db.transaction(async (tx) => {
        claimed = undefined;
        if (valid.length > 0) claimed = await claimAndInsert(tx, spec.stream, valid.length, spec.insertSql(valid, caller.tenantId, receivedAt, 'skip'));
        await recordDeadLetters(
          tx,
          spec.stream,
          caller,
          // A refused card number is not stored, not even in the dead letter that shows the client what it sent.
          rejectedIndexes.map((index) => ({ item: maskCardNumbers(items[index] ?? null), errors: errors.filter((e) => e.index === index) })),
        );
      }),
    ).catch(asUnavailable);
  }
  // Taken as the store returns, before the stored events are built, encoded, published or fanned out to this
  // node's own subscribers (a microtask after publishBatch), so delivery latency measured from it includes them.
  const committedAt = Date.now();
  const base = claimed?.base ?? 0n;
  const rows = claimed ? valid.map((v, i) => spec.toStored(v, base + BigInt(i + 1), caller.tenantId, receivedAt)) : [];
  const inserted = claimed?.inserted;
  const stored = inserted ? rows.filter((r) => inserted.has(r.cursor)) : rows;

  if (valid.length > 0) {
    // The request's id travels with the batch, so the processors' lines name it too.
    deps.publisher.publishBatch(spec.stream, { from: base, to: base + BigInt(valid.length), events: stored, committedAt, requestId: request?.id }, spec.codec, log);
    await deps.visible?.(spec.stream, base + BigInt(valid.length));
  }

  const result = {
    accepted: stored.length,
    duplicates: duplicates + (valid.length - stored.length),
    rejected: rejectedIndexes.length,
    errors,
    lastCursor: stored.at(-1)?.cursor ?? null,
  };
  const seconds = (performance.now() - began) / 1_000;
  deps.observe?.(spec.stream, result, seconds);
  log.debug(
    { stream: spec.stream, accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected, from: String(base), to: String(base + BigInt(valid.length)), committedAt: valid.length > 0 ? committedAt : undefined, ms: Math.round(seconds * 1_000) },
    'batch stored',
  );
  return result;
}
