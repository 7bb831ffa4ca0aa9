import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { IngestReadingsDocument, LiveReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { primaryBackends } from './support/backends.js';
import { dropSchema, sql, startTestApp } from './support/app.js';
import { heartRate, patients } from './support/fixtures.js';
import { LiveResults, waitFor } from './support/live.js';
import { startServerProcess } from './support/server-process.js';

const bigBatch = (sourceId: string, size: number) => Array.from({ length: size }, (_, i) => heartRate(sourceId, 60 + (i % 50), i));

describe.each(primaryBackends)('graceful shutdown on $name', (backend) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-shutdown-'));
  const schema = `t_shutdown_${process.pid}`;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (backend.database === 'postgres') await dropSchema(schema);
  });

  it('finishes an in-flight mutation while subscriptions deliver, then cuts them without completing them: clients resubscribe to the restarted server and miss nothing', async () => {
    const app = await startTestApp(backend, { dataDir, schema, keepSchema: true });
    await app.mutate(RegisterSourcesDocument, { sources: patients('bed-9') });
    // A graphql-ws client as an app would write it: it retries, and resubscribes from the last cursor it saw
    // (variables are read again on every subscribe). It follows the server to wherever it comes back.
    let target: Promise<string> = Promise.resolve(app.url);
    let comeBack: (url: string) => void = () => undefined;
    const wsCursors: string[] = [];
    const wsMessages: string[] = [];
    const wsCloses: number[] = [];
    let wsEnded = false;
    const careful = createClient({
      url: async () => `${(await target).replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 30,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
      on: { message: (m) => void wsMessages.push(m.type), closed: (e) => void wsCloses.push((e as { code: number }).code) },
    });
    careful.subscribe<{ readings: { cursor: string }[] }>(
      {
        query: print(LiveReadingsDocument),
        get variables() {
          return { sourceIds: ['bed-9'], after: wsCursors.at(-1) ?? null };
        },
      },
      { next: (r) => void wsCursors.push(...(r.data?.readings ?? []).map((x) => x.cursor)), error: () => (wsEnded = true), complete: () => (wsEnded = true) },
    );
    const sse = await app.subscribeSse(LiveReadingsDocument, { sourceIds: ['bed-9'] });
    // The graphql-ws client subscribes on its own time: a reading stored before it has joined the feed is not live for it.
    await waitFor(() => app.server.services.readingsFeed.subscriberCount >= 2, 'both subscriptions to join the feed');
    const first = await app.mutate(IngestReadingsDocument, { readings: [heartRate('bed-9', 70, -1)] });
    await waitFor(() => wsCursors.length === 1 && sse.lastEventId() === first.ingestReadings.lastCursor, 'both subscribers to see the first reading');

    const late = createClient({ url: `${app.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
    await new Promise<void>((resolve) => late.on('connected', () => resolve()));
    // A slow uploader: the server has begun the request but not yet read the whole body when shutdown starts.
    const received = app.server.requestsReceived;
    const body = JSON.stringify({ query: print(IngestReadingsDocument), variables: { readings: bigBatch('bed-9', 5_000) } });
    const upload = request(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const pending = new Promise<{ data?: any; errors?: unknown }>((resolve, reject) => {
      upload.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      upload.on('error', reject);
    });
    upload.write(body.slice(0, 1_000));
    await waitFor(() => app.server.requestsReceived > received, 'the server to begin the mutation');
    target = new Promise<string>((resolve) => (comeBack = resolve));
    // The server's own shutdown: the test app's close would also end its clients.
    const closing = app.server.close();
    // An operation started on an open socket while draining is refused, not half-run.
    const refused = await new Promise<unknown>((resolve) =>
      late.subscribe(
        { query: print(IngestReadingsDocument), variables: { readings: [heartRate('bed-9', 70, 999_999)] } },
        { next: resolve, error: resolve, complete: () => undefined },
      ),
    );
    expect(JSON.stringify(refused)).toContain('SHUTTING_DOWN');
    // A socket opened while draining is told to come back (1012, which clients retry), not 4403 (a refused key).
    const fresh = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const freshClosed = new Promise<{ code: number; reason: string }>((resolve) => fresh.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    fresh.on('open', () => fresh.send(JSON.stringify({ type: 'connection_init' })));
    expect(await freshClosed).toEqual({ code: 1012, reason: 'the server is shutting down; reconnect shortly' });
    // An EventSource opened while draining gets no answer (which it retries), not a 503 (after which it gives up for
    // good); other requests are told why.
    const sseUrl = `${app.url}/graphql?query=${encodeURIComponent(print(LiveReadingsDocument))}`;
    const answerTo = (headers: Record<string, string>) =>
      new Promise<string>((resolve) =>
        request(sseUrl, { headers }, (res) => {
          res.resume();
          resolve(`status ${res.statusCode}`);
        })
          .on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`))
          .end(),
      );
    expect(await answerTo({ accept: 'text/event-stream', 'last-event-id': first.ingestReadings.lastCursor! })).toBe('error ECONNRESET');
    expect(await answerTo({ accept: 'application/json' })).toBe('status 503');
    // The subscriptions are still open while the upload goes on.
    expect(wsCloses).toEqual([]);
    expect(sse.results.completed).toBe(false);
    upload.end(body.slice(1_000));

    const response = await pending;
    await closing;
    expect(response.errors).toBeUndefined();
    expect(response.data!.ingestReadings.accepted).toBe(5_000);
    // Cut, not completed: a `complete` would have ended the subscription for good.
    expect(wsCloses[0]).toBe(1001);
    expect(wsMessages).not.toContain('complete');
    await sse.results.untilComplete();
    expect(sse.completedByServer()).toBe(false);
    expect(sse.results.errors).toEqual([]);

    const reopened = await startTestApp(backend, { dataDir, schema, keepSchema: true });
    try {
      const [row] = await reopened.sql<{ n: number }>(sql`select count(*)::int as n from readings where source_id = 'bed-9'`);
      expect(row!.n).toBe(5_001);
      comeBack(reopened.url);
      const last = await reopened.mutate(IngestReadingsDocument, { readings: [heartRate('bed-9', 71, 10_000)] });
      // Every reading exactly once: live before the cut, replayed from its cursor after, and live again.
      await waitFor(() => wsCursors.length >= 5_002, () => `the graphql-ws client to resubscribe and catch up (${wsCursors.length} of 5002)`);
      expect(new Set(wsCursors).size).toBe(5_002);
      expect(wsCursors.at(-1)).toBe(last.ingestReadings.lastCursor);
      expect(wsEnded).toBe(false);
      // An EventSource reconnects with the last id it saw, as this does.
      const cursorsOf = (items: { data?: { readings: { cursor: string }[] } | null }[]) => items.flatMap((r) => r.data?.readings ?? []).map((x) => x.cursor);
      const resumed = await reopened.subscribeSse(LiveReadingsDocument, { sourceIds: ['bed-9'] }, { lastEventId: sse.lastEventId() });
      await resumed.results.until((items) => cursorsOf(items).includes(last.ingestReadings.lastCursor!), 'the SSE stream to resume up to the last reading');
      const sseCursors = [...cursorsOf(sse.results.items), ...cursorsOf(resumed.results.items)];
      expect(sseCursors).toEqual([...new Set(sseCursors)].sort((a, b) => Number(BigInt(a) - BigInt(b))));
      expect(sseCursors).toHaveLength(5_002);
    } finally {
      await careful.dispose();
      await late.dispose();
      await reopened.close();
    }
  });
});

describe('graceful shutdown after an SSE client left early', () => {
  it('does not count a stream whose client left while its subscription was set up: the drain still waits for an in-flight mutation', async () => {
    const app = await startTestApp(primaryBackends[0]!);
    try {
      await app.mutate(RegisterSourcesDocument, { sources: patients('bed-1') });
      // A subscription slow to set up (its sources looked up on a busy database), and a client that leaves meanwhile.
      const feed = app.server.services.readingsFeed as unknown as { subscribe: (...args: unknown[]) => unknown };
      const subscribe = feed.subscribe.bind(feed);
      let setUp!: () => void;
      const setUpDone = new Promise<void>((resolve) => (setUp = resolve));
      feed.subscribe = (...args) =>
        new Promise((resolve) =>
          setTimeout(() => {
            resolve(subscribe(...args));
            setUp();
          }, 300),
        );
      const query = new URLSearchParams({ query: print(LiveReadingsDocument), variables: JSON.stringify({ sourceIds: ['bed-1'] }) });
      const sse = request(`${app.url}/graphql?${query}`, { headers: { accept: 'text/event-stream' } });
      sse.on('error', () => undefined);
      sse.end();
      await new Promise((resolve) => setTimeout(resolve, 100));
      sse.destroy();
      await setUpDone;
      feed.subscribe = subscribe;
      await waitFor(() => app.server.activeRequests === 0, 'the left request to be done');

      const body = JSON.stringify({ query: print(IngestReadingsDocument), variables: { readings: [heartRate('bed-1', 70, 1)] } });
      const upload = request(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      const answered = new Promise<string>((resolve) => {
        upload.on('response', (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk));
          res.on('end', () => resolve(text));
        });
        upload.on('error', (error) => resolve(`error: ${error.message}`));
      });
      const received = app.server.requestsReceived;
      upload.write(body.slice(0, 20));
      await waitFor(() => app.server.requestsReceived > received, 'the upload to begin');
      const closing = app.server.close();
      // Well within SHUTDOWN_TIMEOUT: the drain waits for it (it cut it when the left stream was counted).
      setTimeout(() => upload.end(body.slice(20)), 1_500);
      await closing;
      expect(await answered).toContain('"accepted":1');
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});

describe('SIGTERM to the server process', () => {
  it('lets the in-flight mutation answer, tells subscribers, and exits 0, also when the signal comes twice at once (npm forwarding it)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-sigterm-'));
    const messages: { msg: string; method?: string }[] = [];
    const server = await startServerProcess({ LOG_LEVEL: 'debug', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' }, (entry) =>
      messages.push(entry as { msg: string; method?: string }),
    );
    try {
      const post = (body: unknown) =>
        fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
      await post({ query: print(RegisterSourcesDocument), variables: { sources: patients('bed-5') } });

      const live = new LiveResults<unknown>();
      const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, on: { closed: (e) => live.complete((e as { code: number }).code) } });
      // Live before the signal (a subscribe arriving while draining is refused instead): the first reading delivered,
      // from the start of the stream whenever the subscribe arrives.
      await post({ query: print(IngestReadingsDocument), variables: { readings: [heartRate('bed-5', 70, -1)] } });
      client.subscribe({ query: print(LiveReadingsDocument), variables: { sourceIds: ['bed-5'], after: '0' } }, { next: (v) => live.push(v), error: (e) => live.error(e), complete: () => live.complete() });
      await live.until((items) => items.length > 0, 'the first reading to be delivered');

      const received = () => messages.filter((m) => m.msg === 'request received' && m.method === 'POST').length;
      const before = received();
      const pending = post({ query: print(IngestReadingsDocument), variables: { readings: bigBatch('bed-5', 8_000) } });
      await waitFor(() => received() > before, 'the mutation to reach the server');
      process.kill(server.pid, 'SIGTERM');
      // npm forwarding the signal the process got itself (Ctrl-C, a process-group kill): one request, not a second.
      setTimeout(() => process.kill(server.pid, 'SIGINT'), 2);

      const result = await pending;
      expect(result.errors).toBeUndefined();
      expect(result.data.ingestReadings.accepted).toBe(8_000);
      await live.untilComplete();
      // Cut with 1001, which graphql-ws clients retry; not completed, which they take as the end.
      expect(live.closeCode).toBe(1001);
      expect(await server.exited).toBe(0);
      expect(messages.map((m) => m.msg)).toContain('shut down');
      await client.dispose();
    } finally {
      await server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stopped while it is still creating and migrating its embedded database, finishes that, closes it and exits 0; the next start finds it whole', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-sigterm-start-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
        env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', AUTH: 'off', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push((JSON.parse(line) as { msg: string }).msg);
        // An orchestrator stopping a pod that has not started yet (a rollout): the signal's default ended the process
        // partway through the migrations' transaction.
        if (lines.at(-1)!.startsWith('applying database migrations')) child.kill('SIGTERM');
      });
      expect(await exited).toBe(0);
      expect(lines).toContain('signal received while starting: stopping once the embedded database is open and migrated; a second signal exits at once');
      expect(lines).toContain('database migrations applied');
      expect(lines.filter((msg) => msg.startsWith('listening'))).toEqual([]);
      expect(lines.at(-1)).toBe('shut down');

      const messages: string[] = [];
      const again = await startServerProcess({ DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' }, (entry) => messages.push(entry.msg as string));
      try {
        expect(messages.filter((msg) => msg.startsWith('applying database migrations'))).toEqual([]);
        await again.mutate(RegisterSourcesDocument, { sources: patients('bed-s') });
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
