import { z } from 'zod';
import type { Reading } from '../db/readings.js';
import { QUALITIES } from '../db/schema.js';

/**
 * What crosses pub/sub for the readings stream: one message per committed
 * ingest transaction, covering cursors (from, to]. Readings inside the range
 * that were duplicates are absent, so ranges chain even when a batch stored
 * nothing new. Serialized once by the writer, parsed once per node.
 */
const Cursor = z.string().regex(/^\d+$/);
const ReadingWire = z.object({
  cursor: Cursor,
  sourceId: z.string(),
  metric: z.string(),
  time: z.iso.datetime(),
  value: z.number(),
  unit: z.string(),
  quality: z.enum(QUALITIES),
});
const ReadingsBatchWire = z.object({ from: Cursor, to: Cursor, readings: z.array(ReadingWire) });

export interface StreamBatch<E> {
  from: bigint;
  to: bigint;
  events: E[];
}

export function encodeReadingsBatch(batch: StreamBatch<Reading>): string {
  const wire: z.input<typeof ReadingsBatchWire> = {
    from: batch.from.toString(),
    to: batch.to.toString(),
    readings: batch.events.map((r) => ({ ...r, cursor: r.cursor.toString(), time: r.time.toISOString() })),
  };
  return JSON.stringify(wire);
}

/** Throws (ZodError, SyntaxError) on a message this version did not write. */
export function decodeReadingsBatch(message: string): StreamBatch<Reading> {
  const wire = ReadingsBatchWire.parse(JSON.parse(message));
  return {
    from: BigInt(wire.from),
    to: BigInt(wire.to),
    events: wire.readings.map((r) => ({ ...r, cursor: BigInt(r.cursor), time: new Date(r.time) })),
  };
}
