import { z } from 'zod';
import type { Reading } from '../db/readings.js';
import { QUALITIES } from '../db/schema.js';
import type { Trade } from '../db/trades.js';
import type { Transaction } from '../db/transactions.js';

/**
 * What crosses pub/sub for a stream: one message per committed ingest
 * transaction, covering cursors (from, to]. Events inside the range that were
 * duplicates are absent, so ranges chain even when a batch stored nothing
 * new. Serialized once by the writer, parsed once per node.
 */
export interface StreamBatch<E> {
  from: bigint;
  to: bigint;
  events: E[];
  /** Writer's clock (epoch ms) right after commit; absent on batches read back from the database. */
  committedAt?: number;
}

export interface BatchCodec<E> {
  encode(batch: StreamBatch<E>): string;
  /** Throws (ZodError, SyntaxError) on a message this version did not write. */
  decode(message: string): StreamBatch<E>;
}

const Cursor = z.string().regex(/^\d+$/);
const Time = z.iso.datetime();

/** Cursors travel as decimal strings and times as ISO strings; everything else as JSON says it. */
function batchCodec<E extends { cursor: bigint; time: Date }, Shape extends z.ZodRawShape>(fields: Shape): BatchCodec<E> {
  const Batch = z.object({ from: Cursor, to: Cursor, committedAt: z.number().optional(), events: z.array(z.object({ ...fields, cursor: Cursor, time: Time })) });
  return {
    encode: (batch) =>
      JSON.stringify({
        from: batch.from.toString(),
        to: batch.to.toString(),
        committedAt: batch.committedAt,
        events: batch.events.map((e) => ({ ...e, cursor: e.cursor.toString(), time: e.time.toISOString() })),
      }),
    decode: (message) => {
      const wire = Batch.parse(JSON.parse(message));
      const events = wire.events as { cursor: string; time: string }[];
      return {
        from: BigInt(wire.from),
        to: BigInt(wire.to),
        committedAt: wire.committedAt,
        events: events.map((e) => ({ ...e, cursor: BigInt(e.cursor), time: new Date(e.time) }) as unknown as E),
      };
    },
  };
}

export const readingsCodec = batchCodec<Reading, z.ZodRawShape>({
  sourceId: z.string(),
  metric: z.string(),
  value: z.number(),
  unit: z.string(),
  quality: z.enum(QUALITIES),
  tenantId: z.string(),
});

export const tradesCodec = batchCodec<Trade, z.ZodRawShape>({
  symbol: z.string(),
  price: z.number(),
  size: z.number(),
});

export const transactionsCodec = batchCodec<Transaction, z.ZodRawShape>({
  id: z.string(),
  cardId: z.string(),
  amount: z.number(),
  currency: z.string(),
  merchant: z.string(),
  lat: z.number(),
  lon: z.number(),
  ip: z.string(),
  tenantId: z.string(),
});
