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
    const readings = { from: 40n, to: 42n, committedAt: 1_790_000_000_000, events: [reading, { ...reading, cursor: 42n, value: -0.5, quality: 'SUSPECT' as const }] };
    expect(readingsCodec.decode(readingsCodec.encode(readings))).toEqual(readings);
    const trades = { from: 0n, to: 1n, events: [{ cursor: 1n, symbol: 'ACME', time: new Date('2026-11-20T08:00:00.000Z'), price: 101.25, size: 300 }] };
    expect(tradesCodec.decode(tradesCodec.encode(trades))).toEqual({ ...trades, committedAt: undefined });
    const card = { cursor: 7n, id: 'tx-1', cardId: 'card-1', time: new Date('2026-11-20T08:00:01.000Z'), amount: 12.5, currency: 'EUR', merchant: 'Café', lat: 51.5, lon: -0.12, ip: '203.0.113.9', tenantId: 't1' };
    expect(transactionsCodec.decode(transactionsCodec.encode({ from: 6n, to: 7n, events: [card] })).events).toEqual([card]);
  });

  it('keeps only the fields it knows', () => {
    const message = JSON.stringify({ from: '0', to: '1', events: [{ ...reading, cursor: '1', time: reading.time.toISOString(), extra: 'x' }] });
    expect(Object.keys(readingsCodec.decode(message).events[0]!).sort()).toEqual(['cursor', 'metric', 'quality', 'sourceId', 'tenantId', 'time', 'unit', 'value']);
  });

  it('refuses a message it did not write, naming the first wrong field', () => {
    const wire = { from: '0', to: '1', events: [{ ...reading, cursor: '1', time: reading.time.toISOString() }] };
    const broken = (change: (w: typeof wire & Record<string, unknown>) => void) => {
      const copy = JSON.parse(JSON.stringify(wire)) as typeof wire & Record<string, unknown>;
      change(copy);
      return () => readingsCodec.decode(JSON.stringify(copy));
    };
    expect(() => readingsCodec.decode('{"from":')).toThrow(SyntaxError);
    expect(() => readingsCodec.decode('[1,2]')).toThrow(WireError);
    expect(broken((w) => (w.from = '-1' as never))).toThrow(/from must be a decimal string/);
    expect(broken((w) => (w.events = {} as never))).toThrow(/events must be an array/);
    expect(broken((w) => (w.events[0]!.cursor = 1 as never))).toThrow(/events\[0\]\.cursor must be a decimal string/);
    expect(broken((w) => (w.events[0]!.time = 'yesterday' as never))).toThrow(/events\[0\]\.time must be an ISO-8601 UTC time/);
    expect(broken((w) => (w.events[0]!.value = '72' as never))).toThrow(/events\[0\]\.value must be a number/);
    expect(broken((w) => delete (w.events[0] as { tenantId?: string }).tenantId)).toThrow(/events\[0\]\.tenantId must be a string/);
    expect(broken((w) => (w.events[0]!.quality = 'GREAT' as never))).toThrow(/events\[0\]\.quality must be one of GOOD/);
    expect(broken((w) => (w.committedAt = 'now'))).toThrow(/committedAt must be a number/);
  });
});
