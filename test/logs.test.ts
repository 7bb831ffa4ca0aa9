import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { IngestReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import { pino } from 'pino';
import { DrizzleQueryError } from 'drizzle-orm';
import { createApiKey } from '../src/auth/key-admin.js';
import { errorForLog, messageOf, outageLog, prettyLine } from '../src/log.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { MIGRATIONS_FOLDER, pendingMigrations } from '../src/db/migrate.js';
import { heartRate, patients } from './support/fixtures.js';
import { waitFor } from './support/live.js';
import { directConnection, dropSchema, startTestApp } from './support/app.js';
import { openWs } from './support/keyed-client.js';
import { DATABASE_URL, REDIS_URL } from './support/backends.js';
import { startServerProcess } from './support/server-process.js';
import { startTcpProxy, throughProxy } from './support/tcp-proxy.js';

describe('logs', () => {
  it('carries the request id from the response header into ingest, processing and publish lines, and never a value or a key', async () => {
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const server = await startServerProcess({ DATABASE_URL: '', REDIS_URL: '', DATA_DIR: 'memory://', LOG_LEVEL: 'debug', LOG_FORMAT: 'json' }, (entry) => {
      lines.push(entry);
      raw.push(JSON.stringify(entry));
    });
    try {
      await server.mutate(RegisterSourcesDocument, { sources: patients('log-bed') });
      const post = (headers: Record<string, string>, variables: unknown) =>
        fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: print(IngestReadingsDocument), variables }),
        });
      const secret = 'S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tX';
      const response = await post({ 'x-request-id': 'req-7f3a', authorization: `Bearer vgl_abcdefghijkl_${secret}` }, { readings: [heartRate('log-bed', 123.456, 1)] });
      expect(response.headers.get('x-request-id')).toBe('req-7f3a');
      const made = await post({ 'x-request-id': 'not a token; drop table' }, { readings: [heartRate('log-bed', 77, 2)] });
      // A client mistake: graphql-js's message quotes the item, value and all; the client gets it, the log must not.
      const mistaken = await post({}, { readings: [{ ...heartRate('log-bed', 456.789, 5), qualty: 'GOOD' }] });
      expect(((await mistaken.json()) as { errors: { message: string }[] }).errors[0]!.message).toContain('456.789');
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

      await waitFor(() => lines.some((l) => l.msg === 'batch stored' && l.requestId === 'req-7f3a'), 'the batch log line');
      // Start-up says where the dashboard is, and that retention ran (with nothing to remove yet).
      expect(lines.find((l) => String(l.msg).startsWith('listening'))).toMatchObject({ dashboard: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/) });
      // And that an in-memory database keeps nothing, at warn.
      expect(lines.find((l) => String(l.msg).startsWith('DATA_DIR=memory:// keeps nothing'))).toMatchObject({ level: 40 });
      await waitFor(() => lines.some((l) => l.msg === 'retention sweep found nothing expired; next sweeps log only what they remove'), 'the first retention sweep');
      expect(lines.find((l) => l.msg === 'batch stored' && l.requestId === 'req-7f3a')).toMatchObject({ stream: 'readings', accepted: 1, rejected: 0, committedAt: expect.any(Number) });
      // Processing: every pipeline on the readings stream names the request its events came in.
      const processed = (pipeline: string) => lines.some((l) => l.msg === 'processor batch done' && l.pipeline === pipeline && (l.requestIds as string[] | undefined)?.includes('req-7f3a'));
      // Up to 30 s: a busy machine once kept the processors' first batch in this new server past 10 s.
      await waitFor(() => processed('readings') && processed('patients'), 'the processors naming the request', 30_000);
      expect(lines.find((l) => l.msg === 'processor batch done' && l.pipeline === 'readings' && (l.requestIds as string[]).includes('req-7f3a'))).toMatchObject({ events: expect.any(Number), requests: expect.any(Number) });
      await waitFor(() => lines.some((l) => l.msg === 'request received' && l.requestId === made.headers.get('x-request-id')), 'the made-up id in the log');

      // graphql-ws: the operation id names the request when it is a sane token; a hostile one is replaced.
      const hostile = `op-${'x'.repeat(200)}`;
      const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const acknowledged = new Promise<void>((resolve, reject) => {
        socket.on('message', (data: Buffer) => (JSON.parse(String(data)) as { type: string }).type === 'connection_ack' && resolve());
        socket.once('error', reject);
      });
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await acknowledged;
      for (const [id, second] of [['op-1', 3], [hostile, 4]] as const) {
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: print(IngestReadingsDocument), variables: { readings: [heartRate('log-bed', 80, second)] } } }));
      }
      const stored = () => lines.filter((l) => l.msg === 'batch stored' && typeof l.requestId === 'string' && l.requestId.includes('/'));
      await waitFor(() => stored().length === 2, 'both graphql-ws batches in the log');
      expect(stored().map((l) => l.requestId)).toEqual(expect.arrayContaining([expect.stringMatching(/^[0-9a-f]{8}\/op-1$/), expect.stringMatching(/^[0-9a-f]{8}\/[0-9a-f-]{36}$/)]));
      socket.close();
      await waitFor(() => lines.some((l) => l.msg === 'graphql error answered'), "yoga's line about the mistake");
      const everything = raw.join('\n');
      expect(everything).not.toContain('123.456');
      expect(everything).not.toContain('456.789');
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain('x'.repeat(200));
    } finally {
      await server.stop();
    }
  });

  it.runIf(DATABASE_URL && REDIS_URL)('carries the request id through Redis to the node that processes the batch', async () => {
    const schema = `t_logs_${process.pid}`;
    const env = { DATABASE_URL: DATABASE_URL!, REDIS_URL: REDIS_URL!, DATABASE_SCHEMA: schema, REDIS_CHANNEL_PREFIX: `logs-${process.pid}:`, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' };
    const processorLines: Record<string, unknown>[] = [];
    const nodes = [await startServerProcess(env, (entry) => processorLines.push(entry))];
    try {
      // The ingest node runs no processors: the batch reaches the other node's only as a Redis message.
      const ingest = await startServerProcess({ ...env, PROCESSORS: 'off' });
      nodes.push(ingest);
      await ingest.mutate(RegisterSourcesDocument, { sources: patients('log-node') });
      await fetch(ingest.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-across' },
        body: JSON.stringify({ query: print(IngestReadingsDocument), variables: { readings: [heartRate('log-node', 70, 1)] } }),
      });
      await waitFor(
        () => processorLines.some((l) => l.msg === 'processor batch done' && l.pipeline === 'readings' && (l.requestIds as string[] | undefined)?.includes('req-across')),
        "the processing node's line naming the ingest node's request",
      );
    } finally {
      for (const node of nodes.reverse()) await node.stop();
      await dropSchema(schema);
    }
  });

  it.runIf(DATABASE_URL)("logs a statement PostgreSQL refuses by its reason, never the statement's values; processor outputs are stored once it can", async () => {
    const schema = `t_logs_fail_${process.pid}`;
    const raw: string[] = [];
    const lines: Record<string, unknown>[] = [];
    const server = await startServerProcess({ DATABASE_URL: DATABASE_URL!, REDIS_URL: '', DATABASE_SCHEMA: schema, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', FORMING_FLUSH_INTERVAL: '100ms' }, (entry) => {
      lines.push(entry);
      raw.push(JSON.stringify(entry));
    });
    const direct = directConnection(schema);
    try {
      // drizzle's own message for a failed statement is 'Failed query: … params: <the values>'.
      await direct.unsafe(`
        create function refuse_outputs() returns trigger language plpgsql as $$ begin raise exception 'outputs refused by the test'; end $$;
        create trigger refuse_outputs before insert or update on window_aggregates for each row execute function refuse_outputs();`);
      await server.mutate(RegisterSourcesDocument, { sources: patients('fail-bed') });
      await server.mutate(IngestReadingsDocument, { readings: [heartRate('fail-bed', 123.456, 1)] });
      await waitFor(() => lines.some((l) => l.msg === 'storing processor outputs failed; retrying'), 'the failed store in the log');
      expect(lines.find((l) => l.msg === 'storing processor outputs failed; retrying')).toMatchObject({ pipeline: 'readings', err: 'outputs refused by the test' });

      await direct`drop trigger refuse_outputs on window_aggregates`;
      await waitFor(() => lines.some((l) => l.msg === 'processor outputs stored after retrying'), 'the store retried');
      const [stored] = await direct<{ avg: number }[]>`select avg from window_aggregates where source_id = 'fail-bed' limit 1`;
      expect(stored?.avg).toBe(123.456);

      // An ingest PostgreSQL refuses is an unexpected error: logged with its stack, but not PostgreSQL's `detail`,
      // which names the row ("Failing row contains (…)").
      await direct`alter table readings add constraint refuse_readings check (value < 0) not valid`;
      const refused = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'ward-7-retry-3' },
        body: JSON.stringify({ query: print(IngestReadingsDocument), variables: { readings: [heartRate('fail-bed', 98.765, 2)] } }),
      });
      expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('INTERNAL_SERVER_ERROR');
      await waitFor(() => lines.some((l) => l.msg === 'unexpected error while executing an operation'), 'the failed ingest in the log');
      const unexpectedLine = lines.find((l) => l.msg === 'unexpected error while executing an operation')!;
      // The line an operator looks for by the request id the client got back.
      expect(unexpectedLine.requestId).toBe('ward-7-retry-3');
      const unexpected = unexpectedLine.err as Record<string, unknown>;
      expect(unexpected).toMatchObject({ message: 'new row for relation "readings" violates check constraint "refuse_readings"', code: '23514', stack: expect.stringContaining('    at ') });
      // Through drizzle, whose error's message is the statement and its values, and through graphql-yoga's own lines.
      await direct`alter table sources add constraint refuse_sources check (id <> 'bed-Zq7') not valid`;
      const unregistered = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: print(RegisterSourcesDocument), variables: { sources: [{ id: 'bed-Zq7', kind: 'PATIENT', name: 'Ada Quill' }] } }),
      });
      expect(((await unregistered.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('INTERNAL_SERVER_ERROR');
      await waitFor(() => lines.filter((l) => l.msg === 'unexpected error while executing an operation').length === 2, 'the failed registration in the log');
      expect(lines.filter((l) => l.msg === 'unexpected error while executing an operation')[1]!.err).toMatchObject({ message: expect.stringContaining('refuse_sources') });
      // A subscription's unexpected error carries its request id too.
      await direct`alter table sources rename to sources_away`;
      const subscribed = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': 'ward-9-live' },
        body: JSON.stringify({ query: 'subscription { readings(sourceIds: ["bed-unseen"]) { cursor } }' }),
      });
      expect(await subscribed.text()).toContain('INTERNAL_SERVER_ERROR');
      // Over graphql-ws: `<socket>/<operation id>`.
      const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const answered = new Promise<string>((resolve) => socket.on('message', (data: Buffer) => {
        const message = JSON.parse(String(data)) as { type: string };
        if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: 'live-9', type: 'subscribe', payload: { query: 'subscription { readings(sourceIds: ["bed-unseen-2"]) { cursor } }' } }));
        if (message.type === 'error' || message.type === 'next') resolve(String(data));
      }));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      expect(await answered).toContain('INTERNAL_SERVER_ERROR');
      socket.close();
      await direct`alter table sources_away rename to sources`;
      const unexpectedLines = () => lines.filter((l) => l.msg === 'unexpected error while executing an operation');
      await waitFor(() => unexpectedLines().length === 4, 'the failed subscriptions in the log');
      expect(unexpectedLines()[2]).toMatchObject({ requestId: 'ward-9-live', err: { code: '42P01' } });
      expect(unexpectedLines()[3]).toMatchObject({ requestId: expect.stringMatching(/^[0-9a-f]{8}\/live-9$/), err: { code: '42P01' } });
      const everything = raw.join('\n');
      for (const value of ['123.456', '98.765', 'bed-Zq7', 'Ada Quill', 'params', 'Failed query']) expect(everything).not.toContain(value);
    } finally {
      await direct.end();
      await server.stop();
      await dropSchema(schema);
    }
  });

  it.runIf(DATABASE_URL)('a node stopped while its processor outputs cannot be stored warns once, and the next start stores them once', async () => {
    const schema = `t_logs_stop_${process.pid}`;
    const lines: Record<string, unknown>[] = [];
    const env = { DATABASE_URL: DATABASE_URL!, REDIS_URL: '', DATABASE_SCHEMA: schema, LOG_FORMAT: 'json', ALLOWED_LATENESS: '30s', WINDOWS: '1m' };
    const server = await startServerProcess(env, (entry) => lines.push(entry));
    const direct = directConnection(schema);
    try {
      await server.mutate(RegisterSourcesDocument, { sources: patients('stop-bed') });
      await server.mutate(IngestReadingsDocument, { readings: [heartRate('stop-bed', 70, 1), heartRate('stop-bed', 72, 20)] });
      await direct.unsafe(`
        create function refuse_outputs() returns trigger language plpgsql as $$ begin raise exception 'outputs refused by the test'; end $$;
        create trigger refuse_outputs before insert or update on window_aggregates for each row execute function refuse_outputs();`);
      // 95 s: the watermark passes 60 s, so this batch closes the first minute, which cannot be stored.
      await server.mutate(IngestReadingsDocument, { readings: [heartRate('stop-bed', 74, 95)] });
      await waitFor(() => lines.some((l) => l.msg === 'storing processor outputs failed; retrying' && l.pipeline === 'readings'), 'the failed store');
      await server.stop();
      expect(lines.filter((l) => l.msg === 'processor runtime failed; giving up the lease')).toEqual([]);
      expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('processors stopped before the batch in hand could be stored'))).toEqual([
        expect.objectContaining({ level: 40, pipeline: 'readings', err: 'outputs refused by the test' }),
      ]);

      await direct`drop trigger refuse_outputs on window_aggregates`;
      const again = await startServerProcess(env);
      try {
        const first = () => direct<{ count: number; closed: boolean }[]>`select count, closed from window_aggregates where source_id = 'stop-bed' order by start_time limit 1`;
        await waitFor(async () => (await first())[0]?.closed === true, 'the first minute stored by the next start');
        expect(await first()).toEqual([{ count: 2, closed: true }]);
      } finally {
        await again.stop();
      }
    } finally {
      await direct.end();
      await server.stop();
      await dropSchema(schema);
    }
  });

  it('says why a start failed on stderr when LOG_LEVEL=silent, which had ended it without a word', () => {
    const started = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', REDIS_URL: '', PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(started.status).toBe(1);
    expect(started.stdout).toBe('');
    expect(started.stderr).toMatch(/^not started: cannot open PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere \(DATABASE_URL\)/m);
  }, 70_000);

  it('says nothing at error level when graphql-ws clients hang up while their events are being written, and keeps none of their subscriptions', async () => {
    const lines: Record<string, unknown>[] = [];
    const server = await startServerProcess({ DATABASE_URL: '', REDIS_URL: '', DATA_DIR: 'memory://', LOG_FORMAT: 'json' }, (entry) => lines.push(entry));
    try {
      await server.mutate(RegisterSourcesDocument, { sources: patients('churn-bed') });
      let posting = true;
      let second = 0;
      const feed = Promise.all(
        Array.from({ length: 4 }, async () => {
          while (posting) {
            const from = second++;
            await server.mutate(IngestReadingsDocument, { readings: Array.from({ length: 20 }, (_, i) => heartRate('churn-bed', 60 + i, from + i / 1000)) });
          }
        }),
      );
      const open = async () =>
        [...(await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text()).matchAll(/^vigil_live_subscriptions\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      for (let round = 0; round < 40; round++) {
        const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
        await new Promise((resolve) => socket.once('open', resolve));
        const typed = (type: string) => new Promise<void>((resolve) => socket.on('message', (data: Buffer) => (JSON.parse(String(data)) as { type: string }).type === type && resolve()));
        const acknowledged = typed('connection_ack');
        const events = typed('next');
        socket.send(JSON.stringify({ type: 'connection_init' }));
        await acknowledged;
        socket.send(JSON.stringify({ id: `churn-${round}`, type: 'subscribe', payload: { query: 'subscription { readings { cursor sourceId metric time value unit quality } }' } }));
        // An output feed too: each batch moves the forming windows, published at once.
        socket.send(JSON.stringify({ id: `churn-w-${round}`, type: 'subscribe', payload: { query: 'subscription { windows(sourceIds: ["churn-bed"]) { start count } }' } }));
        await events;
        if (round === 0) expect(await open()).toBe(2);
        // A client that goes away as the next event is written: the server's socket is closing under its send.
        socket.close();
        await new Promise((resolve) => socket.once('close', resolve));
      }
      posting = false;
      await feed;
      let left = -1;
      await waitFor(async () => (left = await open()) === 0, () => `no subscription left open (${left} are)`);
      expect(lines.filter((l) => (l.level as number) >= 50).map((l) => [l.msg, (l.err as { message?: string } | undefined)?.message])).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it("says why a start failed: drizzle's reason, never its statement and values; our own message, which names the setting", () => {
    const refused = Object.assign(new Error('relation "dead_letters" already exists'), { code: '42P07' });
    expect(messageOf(new DrizzleQueryError('CREATE TABLE "dead_letters" (…)', ['Ada Quill'], refused))).toBe('relation "dead_letters" already exists');
    const unreachable = new Error('cannot open PostgreSQL at postgres://db/x (DATABASE_URL), schema "public": connect ECONNREFUSED', { cause: new Error('connect ECONNREFUSED') });
    expect(messageOf(unreachable)).toBe(unreachable.message);
  });

  it('says it is applying migrations, how many and how long they took, and nothing once they are applied', async () => {
    const lines: { msg: string; pending?: number; applied?: number; ms?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
    const database = await openDatabase(loadConfig({ DATA_DIR: 'memory://' }).database, log);
    try {
      const said = lines.filter((l) => l.msg.includes('migrations'));
      expect(said).toEqual([
        expect.objectContaining({ msg: 'applying database migrations; a starting server listens once they are done', pending: journal.entries.length }),
        expect.objectContaining({ msg: 'database migrations applied', applied: journal.entries.length, ms: expect.any(Number) }),
      ]);
      expect(await pendingMigrations(database.db, 'public')).toBe(0);
    } finally {
      await database.close();
    }
  }, 60_000);

  it('logs a check failing through an outage as two lines, not one per failure', () => {
    const lines: { level: number; msg: string; failuresInARow?: number }[] = [];
    const outage = outageLog(pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), 'alert escalation check');
    for (let i = 0; i < 3600; i++) outage.failed(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    outage.succeeded();
    outage.succeeded();
    expect(lines.map((l) => [l.level, l.msg, l.failuresInARow])).toEqual([
      [40, 'alert escalation check failed; retrying (further failures at debug)', 1],
      [30, 'alert escalation check works again', 3600],
    ]);
    expect(lines[1]).toMatchObject({ failingForMs: expect.any(Number) });
  });

  it.runIf(DATABASE_URL)("logs each check an outage stops (open connections' keys, the audit log, alert rules) once as it starts and once as it ends", async () => {
    const CHECKS = ["checking open connections' keys (revoked or expired)", 'storing audit entries', 'alert rules reload (the rules in force are kept meanwhile)'];
    const real = new URL(DATABASE_URL!);
    const proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const lines: Record<string, unknown>[] = [];
    // At debug, to see that the checks do keep failing (and retrying) through the outage.
    const log = pino({ level: 'debug', base: null, serializers: { err: errorForLog } }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const app = await startTestApp(
      { name: 'PostgreSQL through a proxy', database: 'postgres', pubsub: 'memory' },
      { env: { AUTH: 'on', RATE_LIMIT: '0', KEY_CHECK_INTERVAL: '200ms', DATABASE_URL: throughProxy(DATABASE_URL!, proxy) }, log },
    );
    try {
      const { key } = await createApiKey(app.server.services.database.db, { tenantId: 'ward-9', role: 'read', name: 'monitor', expiresAt: null, createdBy: 'test' }, { createTenant: '' });
      // An open graphql-ws connection: its key is checked every KEY_CHECK_INTERVAL.
      const socket = await openWs(app.url, key);
      await waitFor(() => app.server.services.auth.connections.tracked === 1, 'the connection to be tracked');
      await proxy.cut();
      const from = lines.length;
      // A read on that connection fails, and its audit entry waits to be stored (tried every second).
      const read = socket.subscribe('{ sources { edges { node { id } } } }');
      await waitFor(() => read.errors.length > 0, 'the read to fail');
      const since = () => lines.slice(from);
      const failures = (what: string) => since().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`${what} failed; retrying`)).length;
      // Alert rules are reloaded every 5 s: a dozen seconds sees each check fail at least twice.
      await waitFor(() => CHECKS.every((what) => failures(what) >= 2), () => `each check to fail twice (${CHECKS.map(failures).join(', ')})`, 15_000);
      await proxy.restore();
      await waitFor(() => CHECKS.every((what) => since().some((l) => l.msg === `${what} works again`)), 'each check to work again', 10_000);
      await socket.close();

      for (const what of CHECKS) {
        const said = since().filter((l) => (l.level as number) >= 30 && typeof l.msg === 'string' && l.msg.startsWith(what));
        expect(said.map((l) => [l.level, l.msg]), what).toEqual([
          [40, `${what} failed; retrying (further failures at debug)`],
          [30, `${what} works again`],
        ]);
        expect(said[1]!.failuresInARow as number, what).toBeGreaterThanOrEqual(2);
        expect(said[1]!.failingForMs as number, what).toBeGreaterThan(0);
      }
      // Nor does any other component repeat itself through the outage (per pipeline or stream, one line each).
      const warned = since().filter((l) => (l.level as number) >= 40).map((l) => `${String(l.msg)} ${String(l.pipeline ?? l.channel ?? '')}`);
      expect(warned.filter((line, i) => warned.indexOf(line) !== i)).toEqual([]);
    } finally {
      await proxy.restore();
      await app.close();
      await proxy.close();
    }
  });

  it('prints one readable line per entry on a terminal', () => {
    const line = JSON.stringify({ level: 40, time: '2026-11-23T15:30:01.234Z', service: 'vigil', msg: 'redis connection lost; reconnecting', connection: 'publisher' });
    expect(prettyLine(line, false)).toBe('15:30:01.234 WARN  redis connection lost; reconnecting connection=publisher\n');
    expect(prettyLine('not json', false)).toBe('not json');
  });
});
