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

const bigBatch = (sourceId: string, size: number) => Array.from({ length: size }, (_, i) => heartRate(sourceId, 60 + (i % 50), i));

describe.each(primaryBackends)('graceful shutdown on $name', (backend) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-shutdown-'));
  const schema = `t_shutdown_${process.pid}`;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (backend.database === 'postgres') await dropSchema(schema);
  });

  it('finishes an in-flight mutation, completes subscriptions and closes sockets with 1001, losing nothing', async () => {
    const app = await startTestApp(backend, { dataDir, schema, keepSchema: true });
    await app.mutate(RegisterSourcesDocument, { sources: patients('bed-9') });
    const ws = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['bed-9'] });
    const sse = await app.subscribeSse(LiveReadingsDocument, { sourceIds: ['bed-9'] });
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
    const closing = app.close();
    // An operation started on an open socket while draining is refused, not half-run.
    const refused = await new Promise<unknown>((resolve) =>
      late.subscribe(
        { query: print(IngestReadingsDocument), variables: { readings: [heartRate('bed-9', 70, 999_999)] } },
        { next: resolve, error: resolve, complete: () => undefined },
      ),
    );
    expect(JSON.stringify(refused)).toContain('SHUTTING_DOWN');
    upload.end(body.slice(1_000));

    const response = await pending;
    await closing;
    expect(response.errors).toBeUndefined();
    expect(response.data!.ingestReadings.accepted).toBe(5_000);
    await ws.results.untilComplete();
    expect(ws.results.closeCode ?? 1000).toBeOneOf([1000, 1001]);
    await sse.results.untilComplete();
    expect(sse.results.errors).toEqual([]);

    const reopened = await startTestApp(backend, { dataDir, schema, keepSchema: true });
    const [row] = await reopened.sql<{ n: number }>(sql`select count(*)::int as n from readings where source_id = 'bed-9'`);
    expect(row!.n).toBe(5_000);
    await reopened.close();
  });
});

describe('SIGTERM to the server process', () => {
  it('lets the in-flight mutation answer, tells subscribers, and exits 0, also when the signal comes twice at once (npm forwarding it)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-sigterm-'));
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'debug', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout! });
    const messages: { msg: string; url?: string; method?: string }[] = [];
    lines.on('line', (line) => {
      try {
        messages.push(JSON.parse(line));
      } catch {
        // not a log line
      }
    });
    try {
      await waitFor(() => messages.some((m) => m.msg.startsWith('listening')), 'the server to listen', 20_000);
      const graphqlUrl = messages.find((m) => m.msg.startsWith('listening'))!.url!;
      const post = (body: unknown) =>
        fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
      await post({ query: print(RegisterSourcesDocument), variables: { sources: patients('bed-5') } });

      const live = new LiveResults<unknown>();
      const client = createClient({ url: graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, on: { closed: (e) => live.complete((e as { code: number }).code) } });
      client.subscribe({ query: print(LiveReadingsDocument), variables: { sourceIds: ['bed-5'] } }, { next: (v) => live.push(v), error: (e) => live.error(e), complete: () => live.complete() });
      await waitFor(() => messages.filter((m) => m.msg === 'request received').length >= 1, 'registration to be logged');

      const received = () => messages.filter((m) => m.msg === 'request received' && m.method === 'POST').length;
      const before = received();
      const pending = post({ query: print(IngestReadingsDocument), variables: { readings: bigBatch('bed-5', 8_000) } });
      await waitFor(() => received() > before, 'the mutation to reach the server');
      child.kill('SIGTERM');
      // npm forwarding the signal the process got itself (Ctrl-C, a process-group kill): one request, not a second.
      setTimeout(() => child.kill('SIGINT'), 2);

      const result = await pending;
      expect(result.errors).toBeUndefined();
      expect(result.data.ingestReadings.accepted).toBe(8_000);
      await live.untilComplete();
      expect(await exited).toBe(0);
      expect(messages.map((m) => m.msg)).toContain('shut down');
      await client.dispose();
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

