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
  /** The ingest request that committed it (its log lines' requestId); absent on batches read back from the database. */
  requestId?: string;
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
/** A request id as ingest makes them: a client's token, optionally after a graphql-ws socket id and `/`. */
const REQUEST_ID = /^[A-Za-z0-9._:/-]{1,80}$/;

/**
 * A batch travels as columns: `cursor` holds each event's offset from
 * `from` (1 for the first cursor of the range), `time` epoch milliseconds,
 * and every other field its own array, in event order. A message of 1,000
 * readings is then a few arrays of primitives: no key repeated per event,
 * no ISO strings to format and parse, about half the bytes of one object
 * per event, and JSON.stringify/JSON.parse run over flat arrays. Encoded once
 * by the writer; decoded once per other node, whose decoder checks every
 * value with plain type tests (this is on the ingest path's hot loop: a
 * schema library cost ~7% of a server's CPU here) and names the first one
 * that is wrong.
 */
function batchCodec<E extends { cursor: bigint; time: Date; receivedAt?: number }>(fields: Record<string, FieldType>): BatchCodec<E> {
  const checks = Object.entries(fields).map(([name, type]) => {
    const allowed = typeof type === 'string' ? undefined : new Set(type);
    return { name, type: typeof type === 'string' ? type : 'string', allowed };
  });
  const fail = (where: string, what: string): never => {
    throw new WireError(`stream batch message: ${where} must be ${what}`);
  };
  const column = (wire: Record<string, unknown>, name: string, length: number): unknown[] => {
    const values = wire[name];
    if (!Array.isArray(values) || values.length !== length) fail(name, `an array of ${length} values (one per cursor)`);
    return values as unknown[];
  };
  return {
    encode: (batch, origin) => {
      const { events } = batch;
      const n = events.length;
      const cursor = new Array<number>(n);
      const time = new Array<number>(n);
      const columns = checks.map(() => new Array<unknown>(n));
      for (let i = 0; i < n; i++) {
        const e = events[i]! as unknown as Record<string, unknown> & E;
        cursor[i] = Number(e.cursor - batch.from);
        time[i] = e.time.getTime();
        for (let c = 0; c < checks.length; c++) columns[c]![i] = e[checks[c]!.name];
      }
      // One ingest batch's events share their arrival: it travels once, for the batch.
      const receivedAt = events[0]?.receivedAt;
      const wire: Record<string, unknown> = { origin, from: batch.from.toString(), to: batch.to.toString(), committedAt: batch.committedAt, requestId: batch.requestId, receivedAt, cursor, time };
      for (let c = 0; c < checks.length; c++) wire[checks[c]!.name] = columns[c];
      return JSON.stringify(wire);
    },
    decode: (message) => {
      const wire = JSON.parse(message) as Record<string, unknown>;
      if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) fail('the message', 'an object');
      if (typeof wire.from !== 'string' || !CURSOR.test(wire.from)) fail('from', 'a decimal string');
      if (typeof wire.to !== 'string' || !CURSOR.test(wire.to)) fail('to', 'a decimal string');
      if (wire.committedAt !== undefined && typeof wire.committedAt !== 'number') fail('committedAt', 'a number');
      if (wire.requestId !== undefined && typeof wire.requestId !== 'string') fail('requestId', 'a string');
      if (wire.receivedAt !== undefined && (typeof wire.receivedAt !== 'number' || !Number.isFinite(wire.receivedAt))) fail('receivedAt', 'epoch milliseconds');
      const receivedAt = wire.receivedAt as number | undefined;
      // Only for log lines: one that is not a token the writer would make (transport/request-id.ts) is dropped, not the batch.
      const requestId = typeof wire.requestId === 'string' && REQUEST_ID.test(wire.requestId) ? wire.requestId : undefined;
      const from = BigInt(wire.from as string);
      const span = Number(BigInt(wire.to as string) - from);
      if (!(span >= 0)) fail('to', 'at least from');
      if (!Array.isArray(wire.cursor)) fail('cursor', 'an array');
      const offsets = wire.cursor as unknown[];
      const n = offsets.length;
      const times = column(wire, 'time', n);
      const columns = checks.map((check) => column(wire, check.name, n));
      const decoded = new Array<E>(n);
      let previous = 0;
      for (let i = 0; i < n; i++) {
        const offset = offsets[i];
        if (typeof offset !== 'number' || !Number.isInteger(offset) || offset <= previous || offset > span) fail(`cursor[${i}]`, `an offset above the one before and at most ${span}`);
        previous = offset as number;
        const ms = times[i];
        if (typeof ms !== 'number' || !Number.isFinite(ms)) fail(`time[${i}]`, 'epoch milliseconds');
        // Only the fields this version knows, as the writer's objects had them.
        const event: Record<string, unknown> = { cursor: from + BigInt(offset as number), time: new Date(ms as number) };
        for (let c = 0; c < checks.length; c++) {
          const { name, type, allowed } = checks[c]!;
          const value = columns[c]![i];
          if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) fail(`${name}[${i}]`, `a ${type}`);
          if (allowed && !allowed.has(value as string)) fail(`${name}[${i}]`, `one of ${[...allowed].join(', ')}`);
          event[name] = value;
        }
        if (receivedAt !== undefined) event.receivedAt = receivedAt;
        decoded[i] = event as E;
      }
      return { from, to: from + BigInt(span), committedAt: wire.committedAt as number | undefined, requestId, events: decoded };
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
  tradeId: 'string',
  tenantId: 'string',
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
