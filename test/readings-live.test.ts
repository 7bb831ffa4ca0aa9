import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IngestReadingsDocument,
  LiveReadingsDocument,
  RegisterSourcesDocument,
  SourcesDocument,
  type LiveReadingsSubscription,
  type ReadingInput,
} from '../src/generated/graphql.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { backends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { heartRate, patients, reading } from './support/fixtures.js';

type Delivered = LiveReadingsSubscription['readings'][number];
const flatten = (results: { data?: LiveReadingsSubscription | null }[]): Delivered[] => results.flatMap((r) => r.data?.readings ?? []);
const cursors = (readings: { cursor: string }[]) => readings.map((r) => BigInt(r.cursor));

describe.each(backends)('live readings on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
    await app.mutate(RegisterSourcesDocument, { sources: patients('bed-1', 'bed-2', 'bed-3', 'bed-4') });
  });
  afterAll(() => app?.close());
  const committedCursor = async () =>
    (await app.sql<{ last: string }>(sql`select last::text as last from stream_offsets where stream = 'readings'`))[0]!.last;

  it('delivers a committed reading to a graphql-ws subscriber and an SSE subscriber, filtered by source and metric', async () => {
    const ws = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-1'], metrics: ['heart_rate'] });
    const sse = await app.subscribeSse(LiveReadingsDocument, { sourceIds: ['bed-1'], metrics: ['heart_rate'] });

    const result = await app.mutate(IngestReadingsDocument, {
      readings: [heartRate('bed-2', 61, 1), reading('bed-1', 'spo2', 97, 1), heartRate('bed-1', 88, 1)],
    });
    expect(result.ingestReadings.accepted).toBe(3);

    for (const live of [ws, sse]) {
      const [first] = await live.results.until((items) => items.length > 0, 'a reading');
      expect(first!.data!.readings).toEqual([
        expect.objectContaining({ sourceId: 'bed-1', metric: 'heart_rate', value: 88, unit: '/min', quality: 'GOOD', cursor: result.ingestReadings.lastCursor }),
      ]);
    }
    expect(sse.lastEventId()).toBe(result.ingestReadings.lastCursor);
    await ws.close();
    await sse.close();
  });

  it('answers a mutation only after its rows are committed', async () => {
    const result = await app.mutate(IngestReadingsDocument, { readings: [heartRate('bed-3', 72, 5), heartRate('bed-3', 73, 6)] });
    const stored = await app.sql<{ n: number }>(
      sql`select count(*)::int as n from readings where source_id = 'bed-3' and seq <= ${result.ingestReadings.lastCursor}::int8`,
    );
    expect(stored[0]!.n).toBe(2);
  });

  it('resumes from a cursor during concurrent ingest with no gap and no duplicate, over graphql-ws and SSE', async () => {
    const start = await committedCursor();
    const writers = 4;
    const batchesPerWriter = 15;
    let second = 10_000;
    const writeAll = Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let b = 0; b < batchesPerWriter; b++) {
          const readings: ReadingInput[] = [];
          for (let i = 0; i < 10; i++) readings.push(reading(`bed-${(i % 4) + 1}`, 'heart_rate', 60 + ((w + b + i) % 40), second++));
          await app.mutate(IngestReadingsDocument, { readings });
        }
      }),
    );

    // First connection: replay from `start`, then live; it drops after some readings arrive.
    const first = await app.subscribeWs(LiveReadingsDocument, { after: start });
    await first.results.until((items) => flatten(items).length >= 120, '120 readings on the first connection');
    await first.close();
    const seenFirst = flatten(first.results.items);
    const resumeAt = seenFirst.at(-1)!.cursor;

    // Second connection resumes over SSE as a reconnecting EventSource does: the URL it started with, `after`
    // included, and Last-Event-ID, which wins.
    const second_ = await app.subscribeSse(LiveReadingsDocument, { after: start }, { lastEventId: resumeAt });
    await writeAll;
    const end = await committedCursor();
    await second_.results.until((items) => flatten(items).at(-1)?.cursor === end, `the second connection to reach cursor ${end}`);
    await second_.close();

    const delivered = [...cursors(seenFirst), ...cursors(flatten(second_.results.items))];
    const stored = await app.sql<{ seq: string }>(sql`select seq::text as seq from readings where seq > ${start}::int8 order by readings.seq`);
    expect(stored.length).toBe(writers * batchesPerWriter * 10);
    expect(delivered).toEqual(stored.map((r) => BigInt(r.seq)));
  });

  it('names with a page of sources the cursor to subscribe after: a reading stored after the read arrives on a subscription started later', async () => {
    const { sources: read } = await app.mutate(SourcesDocument, { ids: ['bed-3'] });
    expect(read.lastReadingCursor).toBe(await committedCursor());
    // A reading stored after the read and before the subscription: neither the page's latest nor a live-only
    // subscription has it.
    await app.mutate(IngestReadingsDocument, { readings: [reading('bed-3', 'spo2', 91, 60_000)] });
    const late = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-3'], after: read.lastReadingCursor });
    await late.results.until((items) => flatten(items).length === 1, 'the reading stored after the read');
    expect(flatten(late.results.items).map((r) => [r.metric, r.value])).toEqual([['spo2', 91]]);
    expect(BigInt(flatten(late.results.items)[0]!.cursor)).toBeGreaterThan(BigInt(read.lastReadingCursor));
    await late.close();
  });

  it('gives SSE events their cursor as id when the client accepts any type (curl, fetch), not only text/event-stream', async () => {
    await app.mutate(IngestReadingsDocument, { readings: [reading('bed-1', 'heart_rate', 70, 90_000)] });
    const query = new URLSearchParams({ query: 'subscription { readings(after: "0") { cursor } }' });
    const controller = new AbortController();
    const response = await fetch(`${app.url}/graphql?${query}`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    for (const until = Date.now() + 5_000; !/^data: /m.test(text) && Date.now() < until; ) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toMatch(/^id: \d+\nevent: next\ndata: \{"data":\{"readings":\[\{"cursor":"\d+"/m);
  });

  it('gives a live-only subscriber every reading after its first, in cursor order, while writers race', async () => {
    const live = await app.subscribeWs(LiveReadingsDocument, { metrics: ['spo2'] });
    let second = 20_000;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let b = 0; b < 10; b++) {
          const readings = Array.from({ length: 5 }, () => reading('bed-4', 'spo2', 95, second++));
          await app.mutate(IngestReadingsDocument, { readings });
        }
      }),
    );
    const items = await live.results.until((r) => flatten(r).length >= 150, '150 spo2 readings');
    const got = cursors(flatten(items));
    const stored = await app.sql<{ seq: string }>(
      sql`select seq::text as seq from readings where metric = 'spo2' and seq >= ${got[0]!.toString()}::int8 order by readings.seq`,
    );
    expect(got).toEqual(stored.map((r) => BigInt(r.seq)));
    await live.close();
  });

  it('gives each of many subscribers exactly its own readings in cursor order, shared filters included', async () => {
    // Subscribers with equal filters share one filtered batch and one execution per event; overlapping and
    // differently ordered filters must still see exactly theirs, and each SSE stream its own last cursor.
    const filters = [
      { sourceIds: ['bed-1'] },
      { sourceIds: ['bed-1'] },
      { sourceIds: ['bed-2', 'bed-1'] },
      { sourceIds: ['bed-1', 'bed-2', 'bed-1'] },
      { sourceIds: ['bed-2'], metrics: ['spo2'] },
      { metrics: ['spo2', 'heart_rate'] },
      {},
    ];
    // One at a time: subscribeWs/Sse return once the feed counts one more subscriber.
    const ws = [];
    for (const f of filters) ws.push(await app.subscribeWs(LiveReadingsDocument, f));
    const sse = [];
    for (const f of filters.slice(0, 3)) sse.push(await app.subscribeSse(LiveReadingsDocument, f));
    const sent: ReadingInput[] = [];
    for (let i = 0; i < 60; i++) sent.push(reading(`bed-${(i % 3) + 1}`, i % 2 ? 'spo2' : 'heart_rate', 90 + (i % 7), 40_000 + i));
    const results = [];
    for (let b = 0; b < 6; b++) results.push(await app.mutate(IngestReadingsDocument, { readings: sent.slice(b * 10, b * 10 + 10) }));
    const first = BigInt(results[0]!.ingestReadings.lastCursor!) - 9n;
    const last = results.at(-1)!.ingestReadings.lastCursor!;
    const stored = await app.sql<{ seq: string; source_id: string; metric: string }>(
      sql`select seq::text as seq, source_id, metric from readings where seq between ${first.toString()}::int8 and ${last}::int8 order by readings.seq`,
    );
    expect(stored).toHaveLength(60);
    const expected = (f: { sourceIds?: string[]; metrics?: string[] }) =>
      stored.filter((r) => (!f.sourceIds || f.sourceIds.includes(r.source_id)) && (!f.metrics || f.metrics.includes(r.metric))).map((r) => BigInt(r.seq));

    for (const [i, live] of [...ws, ...sse].entries()) {
      const filter = filters[i % filters.length]!;
      const want = expected(filter);
      const items = await live.results.until((r) => flatten(r).length >= want.length, `${want.length} readings for ${JSON.stringify(filter)}`);
      expect(cursors(flatten(items)), JSON.stringify(filter)).toEqual(want);
      await live.close();
    }
    for (const [i, live] of sse.entries()) expect(live.lastEventId()).toBe(expected(filters[i]!).at(-1)!.toString());
  });

  it('refuses a resume cursor the stream has not reached, naming the newest to resume after, or one it never issued', async () => {
    const [{ stored }] = (await app.sql<{ stored: string }>(sql`select coalesce(max(seq), 0)::text as stored from readings`)) as [{ stored: string }];
    for (const after of ['999999999999', 'bogus']) {
      const live = await app.subscribeWs(LiveReadingsDocument, { after });
      await live.results.untilComplete();
      const error = live.results.items.flatMap((r) => r.errors ?? [])[0];
      if (after === 'bogus') expect(error?.message).toMatch(/after must be a cursor/);
      else {
        expect(error).toMatchObject({ message: expect.stringMatching(/ahead of the stream/), extensions: { code: 'BAD_USER_INPUT', resumeAfter: expect.stringMatching(/^\d+$/) } });
        // The newest committed cursor: every stored reading is at or before it.
        expect(BigInt(error!.extensions!.resumeAfter as string)).toBeGreaterThanOrEqual(BigInt(stored));
      }
      await live.close();
    }
  });

  it('masks subscription errors the same over graphql-ws and SSE: a domain error keeps its code, a fault shows nothing of itself', async () => {
    type Seen = { message?: string; extensions?: Record<string, unknown> };
    // Everything a subscriber was told: errors in results and the error that ended the operation.
    const told = async (subscribe: typeof app.subscribeWs, variables: Record<string, unknown>) => {
      const live = await subscribe(LiveReadingsDocument, variables);
      await live.results.until((items) => items.some((r) => r.errors?.length) || live.results.errors.length > 0 || live.results.completed, 'an error');
      await live.close();
      return [...live.results.items.flatMap((r) => (r.errors ?? []) as unknown as Seen[]), ...live.results.errors.flatMap((e) => (Array.isArray(e) ? e : [e]) as Seen[])];
    };
    const transports = [app.subscribeWs, app.subscribeSse].map((subscribe) => subscribe.bind(app) as typeof app.subscribeWs);

    for (const subscribe of transports) {
      const [refused] = await told(subscribe, { after: 'bogus' });
      expect(refused).toMatchObject({ message: expect.stringMatching(/after must be a cursor/), extensions: { code: 'BAD_USER_INPUT' } });
    }

    // Faults no client should read about: thrown when subscribing, handed over as an event, thrown by the stream.
    const feed = app.server.services.readingsFeed;
    const secret = 'password=hunter2 at db.internal:5432';
    const faults: Record<string, () => AsyncIterableIterator<unknown>> = {
      'when subscribing': () => {
        throw new Error(secret);
      },
      'as an event': () => (async function* () { yield new Error(secret); })(),
      'by the stream': () => (async function* () { throw new Error(secret); })(),
    };
    try {
      for (const [where, fault] of Object.entries(faults)) {
        (feed as unknown as { subscribe: () => unknown }).subscribe = fault;
        for (const subscribe of transports) {
          const seen = await told(subscribe, { sourceIds: ['bed-1'] });
          expect(seen.length, where).toBeGreaterThan(0);
          expect(JSON.stringify(seen), where).not.toContain('hunter2');
          expect(seen[0]!.message, where).toBe('Unexpected error.');
          // graphql-ws ends an operation whose stream throws with an error message of its own: only the message is kept.
          if (where !== 'by the stream' || subscribe === transports[1]) expect(seen[0]!.extensions, where).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
        }
      }
    } finally {
      delete (feed as unknown as { subscribe?: unknown }).subscribe;
    }
  });

  it('answers a malformed operation over graphql-ws with an error and keeps the connection for the next one', async () => {
    const client = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    let closed = false;
    client.on('closed', () => (closed = true));
    const run = (query: string) =>
      new Promise<unknown[]>((resolve) => {
        const got: unknown[] = [];
        client.subscribe({ query }, { next: (v) => got.push(v), error: (e) => resolve([...got, e]), complete: () => resolve(got) });
      });
    const broken = (await run('subscription { readings(')) as { message: string }[][];
    expect(broken[0]?.[0]?.message).toMatch(/Syntax Error/);
    expect(await run('{ metrics { name } }')).toMatchObject([{ data: { metrics: expect.any(Array) } }]);
    expect(closed).toBe(false);
    await client.dispose();
  });

  it('does not deliver a retried batch twice', async () => {
    const live = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-2'] });
    const batch = [heartRate('bed-2', 70, 30_000), heartRate('bed-2', 71, 30_001)];
    const once = await app.mutate(IngestReadingsDocument, { readings: batch });
    const again = await app.mutate(IngestReadingsDocument, { readings: batch });
    expect(again.ingestReadings).toMatchObject({ accepted: 0, duplicates: 2, rejected: 0, lastCursor: null });
    // A marker reading after the retry proves the retry had its chance to be delivered.
    const marker = await app.mutate(IngestReadingsDocument, { readings: [heartRate('bed-2', 99, 30_002)] });
    const items = await live.results.until((r) => flatten(r).some((x) => x.cursor === marker.ingestReadings.lastCursor), 'the marker');
    expect(flatten(items).map((r) => r.value)).toEqual([70, 71, 99]);
    expect(once.ingestReadings.accepted).toBe(2);
    await live.close();
  });
});
