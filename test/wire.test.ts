import { describe, expect, it } from 'vitest';
import { readingsCodec, tradesCodec, transactionsCodec, WireError } from '../src/live/wire.js';

const reading = {
  cursor: 41n,
  sourceId: 'bed-1',
  metric: 'heart_rate',
  time: new Date('2026-11-20T08:00:00.250Z'),
  value: 72.5,
  unit: '/min',
  quality: 'GOOD' as const,
  tenantId: 'default',
};

describe('stream batch wire format', () => {
  it('round-trips readings, trades and card transactions exactly', () => {
    const readings = { from: 40n, to: 42n, committedAt: 1_790_000_000_000, requestId: 'req-7f3a', events: [reading, { ...reading, cursor: 42n, value: -0.5, quality: 'SUSPECT' as const }] };
    expect(readingsCodec.decode(readingsCodec.encode(readings))).toEqual(readings);
    const trades = { from: 0n, to: 1n, events: [{ cursor: 1n, symbol: 'ACME', time: new Date('2026-11-20T08:00:00.000Z'), price: 101.25, size: 300, tradeId: 'X-1', tenantId: 'desk' }] };
    expect(tradesCodec.decode(tradesCodec.encode(trades))).toEqual({ ...trades, committedAt: undefined });
    const card = { cursor: 7n, id: 'tx-1', cardId: 'card-1', time: new Date('2026-11-20T08:00:01.000Z'), amount: 12.5, currency: 'EUR', merchant: 'Café', lat: 51.5, lon: -0.12, ip: '203.0.113.9', tenantId: 't1' };
    expect(transactionsCodec.decode(transactionsCodec.encode({ from: 6n, to: 7n, events: [card] })).events).toEqual([card]);
    // An ingest batch's arrival travels once and reaches every event: processors clamp series clocks to it.
    const arrived = { from: 40n, to: 42n, events: [41n, 42n].map((cursor) => ({ ...reading, cursor, receivedAt: 1_790_000_000_123 })) };
    const message = readingsCodec.encode(arrived);
    expect(JSON.parse(message).receivedAt).toBe(1_790_000_000_123);
    expect(readingsCodec.decode(message).events).toEqual(arrived.events);
  });

  it('travels as columns: offsets from `from`, epoch ms, one array per field; the origin first', () => {
    const message = readingsCodec.encode({ from: 40n, to: 43n, events: [reading, { ...reading, cursor: 43n, value: 70 }] }, 'node-a');
    expect(message.startsWith('{"origin":"node-a",')).toBe(true);
    expect(JSON.parse(message)).toMatchObject({ from: '40', to: '43', cursor: [1, 3], time: [reading.time.getTime(), reading.time.getTime()], value: [72.5, 70], sourceId: ['bed-1', 'bed-1'] });
    // Duplicates of a batch are absent inside its range: the range still chains.
    expect(readingsCodec.decode(message).events.map((e) => e.cursor)).toEqual([41n, 43n]);
  });

  it('keeps only the fields it knows', () => {
    const message = JSON.stringify({ ...JSON.parse(readingsCodec.encode({ from: 0n, to: 1n, events: [{ ...reading, cursor: 1n }] })), extra: ['x'] });
    expect(Object.keys(readingsCodec.decode(message).events[0]!).sort()).toEqual(['cursor', 'metric', 'quality', 'sourceId', 'tenantId', 'time', 'unit', 'value']);
  });

  it('refuses a message it did not write, naming the first wrong field', () => {
    const wire = JSON.parse(readingsCodec.encode({ from: 0n, to: 2n, events: [{ ...reading, cursor: 1n }, { ...reading, cursor: 2n }] })) as Record<string, unknown[]>;
    const broken = (change: (w: Record<string, unknown[]>) => void) => {
      const copy = JSON.parse(JSON.stringify(wire)) as Record<string, unknown[]>;
      change(copy);
      return () => readingsCodec.decode(JSON.stringify(copy));
    };
    expect(() => readingsCodec.decode('{"from":')).toThrow(SyntaxError);
    expect(() => readingsCodec.decode('[1,2]')).toThrow(WireError);
    expect(broken((w) => (w.from = '-1' as never))).toThrow(/from must be a decimal string/);
    expect(broken((w) => (w.from = '3' as never))).toThrow(/to must be at least from/);
    expect(broken((w) => (w.cursor = {} as never))).toThrow(/cursor must be an array/);
    expect(broken((w) => (w.cursor = [2, 1]))).toThrow(/cursor\[1\] must be an offset above the one before and at most 2/);
    expect(broken((w) => (w.cursor = [1, 3]))).toThrow(/cursor\[1\] must be an offset above the one before/);
    expect(broken((w) => (w.time![1] = 'yesterday'))).toThrow(/time\[1\] must be epoch milliseconds/);
    expect(broken((w) => (w.value![0] = '72'))).toThrow(/value\[0\] must be a number/);
    expect(broken((w) => (w.value = [1]))).toThrow(/value must be an array of 2 values/);
    expect(broken((w) => delete w.tenantId)).toThrow(/tenantId must be an array of 2 values/);
    expect(broken((w) => (w.quality![1] = 'GREAT'))).toThrow(/quality\[1\] must be one of GOOD/);
    expect(broken((w) => (w.committedAt = 'now' as never))).toThrow(/committedAt must be a number/);
    expect(broken((w) => (w.receivedAt = 'soon' as never))).toThrow(/receivedAt must be epoch milliseconds/);
    expect(broken((w) => (w.requestId = 7 as never))).toThrow(/requestId must be a string/);
    // A request id only names log lines: one no writer makes is dropped, and the batch still decodes.
    for (const hostile of ['x'.repeat(200), 'req\nforged line', '']) {
      expect(broken((w) => (w.requestId = hostile as never))()).toMatchObject({ from: 0n, to: 2n, requestId: undefined });
    }
    expect(broken((w) => (w.requestId = 'a1b2c3d4/op-1' as never))().requestId).toBe('a1b2c3d4/op-1');
  });
});
