import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestReadingsDocument, IngestTradesDocument, IngestTransactionsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { dropSchema, sql, startTestApp } from './support/app.js';
import { patients } from './support/fixtures.js';

const DAY = 86_400_000;

describe.each(primaryBackends)('retention on $name', (backend) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-retention-'));
  const schema = `t_retention_${process.pid}`;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (backend.database === 'postgres') await dropSchema(schema);
  });

  it('removes readings, trades, transactions and their windows, candles and fraud signals older than RETAIN_FOR at the next sweep, and keeps the rest', async () => {
    // Stored while RETAIN_FOR keeps them, then RETAIN_FOR is shortened to 2 days.
    const env = { ALLOWED_LATENESS: '1s', WINDOWS: '1m', CANDLE_INTERVALS: '1m' };
    const first = await startTestApp(backend, { env, dataDir, schema, keepSchema: true });
    await first.mutate(RegisterSourcesDocument, { sources: patients('ret-1') });
    // Whole minutes, so each pair of readings a second apart shares its 1-minute window and candle.
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    // The third comes 40 s after what will be the second server's cutoff (RETAIN_FOR=2d, less than 40 s from now):
    // kept, and so is its window, which often starts before the cutoff (a window is swept by its end).
    const justKept = Date.now() - 2 * DAY + 40_000;
    const times = [now - 5 * DAY, now - 5 * DAY + 1_000, justKept, now - 60 * 60_000, now - 60 * 60_000 + 1_000, now - 30 * 60_000];
    await first.mutate(IngestReadingsDocument, {
      readings: times.map((t, i) => ({ sourceId: 'ret-1', metric: 'heart_rate', time: new Date(t).toISOString(), value: 70 + i })),
    });
    await first.mutate(IngestTradesDocument, { trades: times.map((t, i) => ({ symbol: 'RET', time: new Date(t).toISOString(), price: 10 + i, size: 1 })) });
    // A card velocity burst (4 purchases of 500 within a minute) five days ago and one an hour ago: card data and
    // the fraud signals about it expire too.
    const burst = (start: number, card: string) =>
      [0, 1, 2, 3].map((k) => ({
        id: `${card}-${k}`, cardId: card, time: new Date(start + k * 10_000).toISOString(), amount: 500, currency: 'EUR',
        merchant: 'Shop', location: { lat: 51.5, lon: -0.12 }, ip: `198.51.100.${k + (card === 'old-card' ? 0 : 10)}`,
      }));
    await first.mutate(IngestTransactionsDocument, { transactions: [...burst(now - 5 * DAY, 'old-card'), ...burst(now - 60 * 60_000, 'new-card')] });
    await first.settle();
    const count = async (app: typeof first) =>
      (
        await app.sql<{ readings: number; trades: number; windows: number; candles: number; transactions: number; signals: number }>(sql`select
          (select count(*)::int from readings) as readings, (select count(*)::int from trades) as trades,
          (select count(*)::int from window_aggregates) as windows, (select count(*)::int from candles) as candles,
          (select count(*)::int from transactions) as transactions, (select count(*)::int from fraud_signals) as signals`)
      )[0]!;
    const before = await count(first);
    expect(before).toEqual({ readings: 6, trades: 6, windows: 4, candles: 4, transactions: 8, signals: 2 });
    await first.close();

    // The sweep at start runs in the background: the server listens before it ends.
    const second = await startTestApp(backend, { env: { ...env, RETAIN_FOR: '2d' }, dataDir, schema, keepSchema: true });
    await expect.poll(() => count(second), { timeout: 10_000 }).toEqual({ readings: 4, trades: 4, windows: 3, candles: 3, transactions: 4, signals: 1 });
    // Events older than RETAIN_FOR are refused by name: stored, the next sweep would delete them.
    const refused = await second.mutate(IngestReadingsDocument, {
      readings: [
        { sourceId: 'ret-1', metric: 'spo2', time: new Date(now - 3 * DAY).toISOString(), value: 97 },
        { sourceId: 'ret-1', metric: 'spo2', time: new Date(now - DAY).toISOString(), value: 96 },
      ],
    });
    expect(refused.ingestReadings).toMatchObject({ accepted: 1, rejected: 1 });
    expect(refused.ingestReadings.errors).toEqual([
      expect.objectContaining({ index: 0, field: 'time', code: 'TIME_OUT_OF_RANGE', message: expect.stringContaining('older than RETAIN_FOR keeps data') }),
    ]);
    const oldTrade = await second.mutate(IngestTradesDocument, { trades: [{ symbol: 'RET', time: new Date(now - 3 * DAY).toISOString(), price: 1, size: 1 }] });
    expect(oldTrade.ingestTrades.errors.map((e) => e.code)).toEqual(['TIME_OUT_OF_RANGE']);
    await second.close();
  });
});
