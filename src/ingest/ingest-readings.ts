import type { Database } from '../db/client.js';
import { recordDeadLetters } from '../db/dead-letters.js';
import { claimOffsets } from '../db/offsets.js';
import { insertReadings, type Reading } from '../db/readings.js';
import { ValidationError } from '../errors.js';
import type { Logger } from '../log.js';
import { encodeReadingsBatch } from '../live/wire.js';
import type { StreamPublisher } from '../live/publisher.js';
import { asUnavailable } from './unavailable.js';
import { validateReading, type ItemError, type ValidReading } from './reading-item.js';
import type { SourceRegistry } from './source-registry.js';

export const READINGS_STREAM = 'readings';

export interface IngestDeps {
  database: Database;
  publisher: StreamPublisher;
  registry: SourceRegistry;
  log: Logger;
  maxBatch: number;
  maxFutureSkewMs: number;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: ItemError[];
  /** Cursor of the last reading this batch stored; null when it stored none. */
  lastCursor: bigint | null;
}

/**
 * Validates each item, stores the valid ones and the rejected ones' dead
 * letters in one transaction, and publishes the stored readings after commit.
 * Resolves only once the rows are committed. A retried batch stores nothing
 * twice: (source, metric, time) is unique, and the first value stored wins.
 */
export async function ingestReadings(deps: IngestDeps, items: readonly unknown[], caller: string): Promise<IngestResult> {
  if (items.length > deps.maxBatch) {
    throw new ValidationError(
      `batch of ${items.length} readings exceeds the maximum of ${deps.maxBatch}; split it into smaller batches`,
      { maxBatch: deps.maxBatch, received: items.length },
      'BATCH_TOO_LARGE',
    );
  }
  const latest = new Date(Date.now() + deps.maxFutureSkewMs);
  const errors: ItemError[] = [];
  const candidates: { index: number; reading: ValidReading }[] = [];
  items.forEach((item, index) => {
    const checked = validateReading(item, index, { latest });
    if (checked.ok) candidates.push({ index, reading: checked.reading });
    else errors.push(...checked.errors);
  });

  const known = await deps.registry.filterKnown(candidates.map((c) => c.reading.sourceId)).catch(asUnavailable);
  const seen = new Set<string>();
  const valid: ValidReading[] = [];
  let duplicates = 0;
  for (const { index, reading } of candidates) {
    if (!known.has(reading.sourceId)) {
      errors.push({ index, field: 'sourceId', code: 'UNKNOWN_SOURCE', message: `source "${reading.sourceId}" is not registered (registerSources first)` });
      continue;
    }
    const key = `${reading.sourceId}\u0000${reading.metric}\u0000${reading.time.getTime()}`;
    if (seen.has(key)) duplicates++;
    else {
      seen.add(key);
      valid.push(reading);
    }
  }
  errors.sort((a, b) => a.index - b.index);
  const rejectedIndexes = [...new Set(errors.map((e) => e.index))];

  let base = 0n;
  let stored: Reading[] = [];
  await deps.database.db
    .transaction(async (tx) => {
      if (valid.length > 0) {
        base = await claimOffsets(tx, READINGS_STREAM, valid.length);
        const rows = valid.map((r, i) => ({ ...r, cursor: base + BigInt(i + 1) }));
        const inserted = await insertReadings(tx, rows);
        stored = rows.filter((r) => inserted.has(r.cursor));
      }
      await recordDeadLetters(
        tx,
        READINGS_STREAM,
        caller,
        rejectedIndexes.map((index) => ({ item: items[index] ?? null, errors: errors.filter((e) => e.index === index) })),
      );
    })
    .catch(asUnavailable);

  if (valid.length > 0) {
    deps.publisher.publish(READINGS_STREAM, encodeReadingsBatch({ from: base, to: base + BigInt(valid.length), events: stored }));
  }

  return {
    accepted: stored.length,
    duplicates: duplicates + (valid.length - stored.length),
    rejected: rejectedIndexes.length,
    errors,
    lastCursor: stored.at(-1)?.cursor ?? null,
  };
}
