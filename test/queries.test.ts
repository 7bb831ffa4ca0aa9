import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestReadingsDocument, IngestTradesDocument, MetricsDocument, ReadingsPageDocument, RegisterSourcesDocument, SourcesDocument } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { startTestApp, type TestApp } from './support/app.js';
import { at, patients, reading } from './support/fixtures.js';

describe.each(primaryBackends)('queries on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
    await app.mutate(RegisterSourcesDocument, {
      sources: [...patients('p-1', 'p-2', 'p-3'), { id: 'mon-7', kind: 'DEVICE', name: 'Monitor 7' }],
    });
    const readings = [];
    for (let s = 0; s < 25; s++) {
      readings.push(reading('p-1', 'heart_rate', 70 + s, s), reading('p-2', 'spo2', 90 + (s % 10), s));
    }
    readings.push(reading('p-1', 'spo2', 95, 3), reading('p-3', 'temperature', 38.5, 9));
    await app.mutate(IngestReadingsDocument, { readings });
  });
  afterAll(() => app?.close());

  it('answers /health and /ready with the state of the database and pub/sub', async () => {
    expect(await (await fetch(`${app.url}/health`)).json()).toMatchObject({ status: 'up' });
    const ready = await fetch(`${app.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, database: 'ok', pubsub: 'ok' });
  });

  it('pages through stored readings in cursor order with filters, never repeating or skipping', async () => {
    const seen: number[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const { readings } = await app.mutate(ReadingsPageDocument, { sourceIds: ['p-1'], metrics: ['heart_rate'], first: 7, after });
      seen.push(...readings.edges.map((e) => e.node.value));
      expect(readings.edges.every((e) => e.cursor === e.node.cursor)).toBe(true);
      after = readings.pageInfo.hasNextPage ? readings.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(4);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, s) => 70 + s));
  });

  it('filters readings by time range', async () => {
    const { readings } = await app.mutate(ReadingsPageDocument, { sourceIds: ['p-2'], from: at(10), to: at(13), first: 100 });
    expect(readings.edges.map((e) => e.node.time)).toEqual([at(10), at(11), at(12)]);
  });

  it('rejects a page size out of bounds or a forged cursor with a clear error', async () => {
    const big = await app.request(ReadingsPageDocument, { first: 5_000 });
    expect(big.errors?.[0]).toMatchObject({ message: expect.stringContaining('first must be between 1 and 1000'), extensions: { code: 'BAD_USER_INPUT' } });
    const forged = await app.request(ReadingsPageDocument, { after: "1 or 1=1" });
    expect(forged.errors?.[0]?.message).toContain('after must be a cursor');
  });

  it("refuses an instrument where readings are asked for, by name: it sends trades, and a filter on it would match nothing", async () => {
    await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'Q-ACME', time: at(1), price: 10, size: 1 }] });
    const message = 'is an instrument: it sends trades, never readings (its prices are candles)';
    const asked = [
      ['readings', '{ readings(sourceIds: ["p-1", "Q-ACME"]) { edges { cursor } } }', 'sourceIds'],
      ['history', '{ history(sourceId: "Q-ACME", metric: "heart_rate", bucket: "1m", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { bucket } }', 'sourceId'],
      ['news2Scores', '{ news2Scores(sourceIds: ["Q-ACME"]) { edges { cursor } } }', 'sourceIds'],
      ['alerts', '{ alerts(sourceIds: ["Q-ACME"]) { edges { cursor } } }', 'sourceIds'],
    ] as const;
    for (const [field, query, argument] of asked) {
      const { errors } = await app.request(parse(query) as TypedDocumentNode<unknown, Record<string, never>>, {});
      expect(errors?.[0], field).toMatchObject({ message: `${argument}: "Q-ACME" ${message}`, extensions: { code: 'BAD_USER_INPUT', argument, sourceId: 'Q-ACME' } });
    }
  });

  it('lists sources by kind with their latest reading per metric', async () => {
    const { sources } = await app.mutate(SourcesDocument, { kind: 'PATIENT', first: 2 });
    expect(sources.edges.map((e) => e.node.id)).toEqual(['p-1', 'p-2']);
    expect(sources.pageInfo).toEqual({ hasNextPage: true, endCursor: 'p-2' });
    const p1 = sources.edges[0]!.node;
    expect(p1.latest.map((r) => [r.metric, r.value, r.time])).toEqual([
      ['heart_rate', 94, at(24)],
      ['spo2', 95, at(3)],
    ]);
    const next = await app.mutate(SourcesDocument, { kind: 'PATIENT', first: 2, after: sources.pageInfo.endCursor });
    expect(next.sources.edges.map((e) => e.node.id)).toEqual(['p-3']);
    expect(next.sources.edges[0]!.node.latest).toEqual([expect.objectContaining({ metric: 'temperature', value: 38.5 })]);
    const devices = await app.mutate(SourcesDocument, { kind: 'DEVICE' });
    expect(devices.sources.edges.map((e) => [e.node.id, e.node.name, e.node.latest])).toEqual([['mon-7', 'Monitor 7', []]]);
  });

  it('rejects an invalid source id at registration', async () => {
    const response = await app.request(RegisterSourcesDocument, { sources: [{ id: 'bed 1; drop', kind: 'PATIENT', name: 'x' }] });
    expect(response.errors?.[0]).toMatchObject({ message: expect.stringContaining('is not a valid source id'), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('publishes the metric catalog with units and plausible ranges', async () => {
    const { metrics } = await app.mutate(MetricsDocument, {});
    expect(metrics).toContainEqual({ name: 'heart_rate', unit: '/min', min: 0, max: 300 });
    expect(metrics).toContainEqual({ name: 'spo2', unit: '%', min: 0, max: 100 });
  });

  it('refuses an after ahead of the stream (a database restored from an older backup), naming the newest cursor, where empty pages would skip what is stored up to it', async () => {
    const newest = (await app.mutate(ReadingsPageDocument, { first: 1_000 })).readings.edges.at(-1)!.cursor;
    const ahead = String(BigInt(newest) + 1_000n);
    const refused = await app.request(ReadingsPageDocument, { sourceIds: ['p-3'], first: 100, after: ahead });
    expect(refused.errors?.[0]).toMatchObject({
      message: `after ${ahead} is ahead of the stream (last committed cursor is ${newest}); page on with a cursor this API returned`,
      extensions: { code: 'BAD_USER_INPUT', argument: 'after', resumeAfter: newest },
    });
    // The newest cursor itself is a place to poll from: an empty page, not a refusal.
    expect((await app.mutate(ReadingsPageDocument, { first: 100, after: newest })).readings.edges).toEqual([]);
  });

  // Last: it adds a reading the tests above do not expect.
  it('keeps a polling client in place: an empty page answers the after it was asked with as its endCursor', async () => {
    const page = (after: string | null) => app.mutate(ReadingsPageDocument, { sourceIds: ['p-3'], first: 100, after });
    const first = (await page(null)).readings;
    expect(first.edges.map((e) => e.node.value)).toEqual([38.5]);
    const nothingNew = (await page(first.pageInfo.endCursor)).readings;
    expect(nothingNew).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: first.pageInfo.endCursor } });
    // Polling on with that endCursor finds the next reading and nothing before it (a null would start over).
    await app.mutate(IngestReadingsDocument, { readings: [reading('p-3', 'temperature', 38.9, 30)] });
    expect((await page(nothingNew.pageInfo.endCursor)).readings.edges.map((e) => e.node.value)).toEqual([38.9]);
    expect((await app.mutate(ReadingsPageDocument, { sourceIds: ['p-3'], metrics: ['spo2'], first: 100 })).readings.pageInfo.endCursor).toBeNull();
  });
});
