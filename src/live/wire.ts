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
  /** `origin` names the writing node, first in the message, so that node can skip its own message unparsed. */
  encode(batch: StreamBatch<E>, origin?: string): string;
  /** Throws (WireError, SyntaxError) on a message this version did not write. */
  decode(message: string): StreamBatch<E>;
}

/** A message that is JSON but not a batch this version writes; names the first field that is wrong. */
export class WireError extends Error {
  override name = 'WireError';
}

/** A field's type on the wire: a JSON string or number, or one of a fixed set of strings. */
type FieldType = 'string' | 'number' | readonly string[];

const CURSOR = /^\d+$/;
// What Date#toISOString writes (the encoder's only output); anything else is not ours.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Cursors travel as decimal strings and times as ISO strings; everything else
 * as JSON says it. Decoding checks every field of every event with plain type
 * tests: a batch of 1,000 readings is checked on every node for every
 * commit, so this is on the ingest path's hot loop (a schema library cost
 * ~7% of a server's CPU here).
 */
function batchCodec<E extends { cursor: bigint; time: Date }>(fields: Record<string, FieldType>): BatchCodec<E> {
  const checks = Object.entries(fields).map(([name, type]) => {
    const allowed = typeof type === 'string' ? undefined : new Set(type);
    return { name, type: typeof type === 'string' ? type : 'string', allowed };
  });
  const fail = (where: string, what: string): never => {
    throw new WireError(`stream batch message: ${where} must be ${what}`);
  };
  const checkEvent = (e: Record<string, unknown>, i: number) => {
    if (typeof e !== 'object' || e === null) fail(`events[${i}]`, 'an object');
    if (typeof e.cursor !== 'string' || !CURSOR.test(e.cursor)) fail(`events[${i}].cursor`, 'a decimal string');
    if (typeof e.time !== 'string' || !ISO_TIME.test(e.time)) fail(`events[${i}].time`, 'an ISO-8601 UTC time');
    for (const { name, type, allowed } of checks) {
      const value = e[name];
      if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) fail(`events[${i}].${name}`, `a ${type}`);
      if (allowed && !allowed.has(value as string)) fail(`events[${i}].${name}`, `one of ${[...allowed].join(', ')}`);
    }
  };
  return {
    encode: (batch, origin) =>
      JSON.stringify({
        origin,
        from: batch.from.toString(),
        to: batch.to.toString(),
        committedAt: batch.committedAt,
        events: batch.events.map((e) => ({ ...e, cursor: e.cursor.toString(), time: e.time.toISOString() })),
      }),
    decode: (message) => {
      const wire = JSON.parse(message) as { from?: unknown; to?: unknown; committedAt?: unknown; events?: unknown };
      if (typeof wire !== 'object' || wire === null) fail('the message', 'an object');
      if (typeof wire.from !== 'string' || !CURSOR.test(wire.from)) fail('from', 'a decimal string');
      if (typeof wire.to !== 'string' || !CURSOR.test(wire.to)) fail('to', 'a decimal string');
      if (wire.committedAt !== undefined && typeof wire.committedAt !== 'number') fail('committedAt', 'a number');
      if (!Array.isArray(wire.events)) fail('events', 'an array');
      const events = wire.events as Record<string, unknown>[];
      const decoded = new Array<E>(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        checkEvent(e, i);
        // Only the fields this version knows, as the writer's objects had them.
        const event: Record<string, unknown> = { cursor: BigInt(e.cursor as string), time: new Date(e.time as string) };
        for (const { name } of checks) event[name] = e[name];
        decoded[i] = event as E;
      }
      return { from: BigInt(wire.from as string), to: BigInt(wire.to as string), committedAt: wire.committedAt as number | undefined, events: decoded };
    },
  };
}

export const readingsCodec = batchCodec<Reading>({
  sourceId: 'string',
  metric: 'string',
  value: 'number',
  unit: 'string',
  quality: QUALITIES,
  tenantId: 'string',
});

export const tradesCodec = batchCodec<Trade>({
  symbol: 'string',
  price: 'number',
  size: 'number',
});

export const transactionsCodec = batchCodec<Transaction>({
  id: 'string',
  cardId: 'string',
  amount: 'number',
  currency: 'string',
  merchant: 'string',
  lat: 'number',
  lon: 'number',
  ip: 'string',
  tenantId: 'string',
});
