import { desc, lt, sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.js';
import type { Db, Executor } from './client.js';
import { READINGS_STREAM } from './readings.js';
import { deadLetters } from './schema.js';
import { TRADES_STREAM } from './trades.js';
import { TRANSACTIONS_STREAM } from './transactions.js';

/** The ingest streams, whose rejected items are kept as dead letters. */
export const INGEST_STREAMS: readonly string[] = [READINGS_STREAM, TRADES_STREAM, TRANSACTIONS_STREAM];

export interface DeadLetter {
  item: unknown;
  errors: unknown;
}

const DEAD_LETTER_CHUNK = 2_000;

/** Stores rejected items beside the batch that carried them (same transaction). */
export async function recordDeadLetters(
  tx: Executor & Pick<Db, 'insert'>,
  stream: string,
  caller: Principal,
  letters: readonly DeadLetter[],
): Promise<void> {
  if (letters.length === 0) return;
  // A JSON round trip: GraphQL hands over null-prototype objects, and we store exactly what JSON can say.
  // NUL and lone surrogates become U+FFFD: PostgreSQL's text and json cannot hold them, and one hostile item must
  // not fail the batch.
  const storable = (_key: string, v: unknown) => (typeof v === 'string' ? v.replaceAll('\u0000', '\ufffd').toWellFormed() : v);
  const plain = (value: unknown) => JSON.parse(JSON.stringify(value ?? null, storable)) as unknown;
  const rows = letters.map((l) => ({ stream, caller: caller.label, tenantId: caller.tenantId, item: plain(l.item), errors: plain(l.errors) }));
  // Chunked: one statement may carry at most 65,535 parameters, and MAX_BATCH may exceed 16k rows.
  for (let i = 0; i < rows.length; i += DEAD_LETTER_CHUNK) await tx.insert(deadLetters).values(rows.slice(i, i + DEAD_LETTER_CHUNK));
}

/** Newest first, keyset-paged on id. */
export async function listDeadLetters(db: Db, options: { tenantId: string; stream?: string | null; before?: bigint | null; limit: number }) {
  const conditions = [
    sql`${deadLetters.tenantId} = ${options.tenantId}`,
    options.stream ? sql`${deadLetters.stream} = ${options.stream}` : undefined,
    options.before != null ? lt(deadLetters.id, options.before) : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(deadLetters)
    .where(conditions.length ? sql.join(conditions, sql` and `) : undefined)
    .orderBy(desc(deadLetters.id))
    .limit(options.limit);
}

export async function pruneDeadLetters(db: Db, olderThan: Date): Promise<number> {
  const deleted = await db.delete(deadLetters).where(lt(deadLetters.receivedAt, olderThan)).returning({ id: deadLetters.id });
  return deleted.length;
}
