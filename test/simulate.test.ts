import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSimulator } from '../src/simulate.js';
import { AlertRulesDocument, AlertsDocument, FraudSignalsDocument, IngestReadingsDocument, News2ScoresDocument, RegisterSourcesDocument, SourcesDocument } from '../src/generated/graphql.js';
import { backends, DATABASE_URL } from './support/backends.js';
import { startTcpProxy, throughProxy } from './support/tcp-proxy.js';
import { sql, startTestApp, type TestApp } from './support/app.js';

describe('npm run simulate', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backends[0]!);
  });
  afterAll(() => app?.close());

  it('registers patients and posts plausible vitals through the public API at the asked rate', async () => {
    const said = vi.spyOn(console, 'log');
    const code = await runSimulator(['--url', `${app.url}/graphql`, '--patients', '3', '--rate', '18', '--symbols', '2', '--trade-rate', '10', '--seconds', '2']);
    expect(code).toBe(0);
    expect(said.mock.calls.map((c) => String(c[0]))).toContain(`simulating 3 patients at 18 readings/s against ${app.url}/graphql for 2s`);
    said.mockRestore();
    const rows = await app.sql<{ metric: string; n: number; suspect: number }>(
      sql`select metric, count(*)::int as n, count(*) filter (where quality <> 'GOOD')::int as suspect from readings group by metric order by metric`,
    );
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(36);
    expect(rows.map((r) => r.metric)).toEqual(['bp_diastolic', 'bp_systolic', 'consciousness', 'heart_rate', 'resp_rate', 'spo2', 'temperature']);
    expect(rows.every((r) => r.suspect === 0)).toBe(true);
    const { sources } = await app.mutate(SourcesDocument, { kind: 'PATIENT' });
    expect(sources.edges.map((e) => e.node.id)).toEqual(['bed-01', 'bed-02', 'bed-03']);
    const trades = await app.sql<{ symbol: string; n: number }>(sql`select symbol, count(*)::int as n from trades group by symbol order by symbol`);
    expect(trades).toEqual([
      { symbol: 'ACME', n: 10 },
      { symbol: 'GLOBX', n: 10 },
    ]);
  });

  it('plays the scenarios: a deteriorating patient, a monitor drop-out, a card in two cities, an IP burst — each raising what it should', async () => {
    const scenarioApp = await startTestApp(backends[0]!, { env: { ALERT_CHECK_INTERVAL: '100ms' } });
    try {
      // A patient of the tenant that the simulator does not play: its rules must leave it alone.
      await scenarioApp.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-real-1', kind: 'PATIENT', name: 'A real patient' }] });
      await scenarioApp.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'ward-real-1', metric: 'heart_rate', time: new Date().toISOString(), value: 72 }] });
      const code = await runSimulator([
        '--url', `${scenarioApp.url}/graphql`, '--patients', '3', '--rate', '36', '--symbols', '0', '--seconds', '8',
        '--scenario', 'deteriorating,dropout,travel,burst',
        '--deteriorate-over', '3', '--dropout-after', '1', '--dropout-for', '5', '--travel-gap', '3', '--silence', '3', '--keep-rules',
      ]);
      expect(code).toBe(0);
      // Once the simulator stops every monitor falls silent: the signal alerts that raises are not the scenarios'.
      const ended = Date.now();
      await scenarioApp.settle();
      const { fraudSignals } = await scenarioApp.mutate(FraudSignalsDocument, { first: 50 });
      expect(fraudSignals.edges.map((e) => [e.node.kind, e.node.subject]).sort()).toEqual([
        ['IMPOSSIBLE_TRAVEL', 'card-traveller'],
        ['IP_VELOCITY', '203.0.113.66'],
      ]);
      const { alerts } = await scenarioApp.mutate(AlertsDocument, { first: 50 });
      const raised = alerts.edges.map((e) => e.node).filter((a) => !a.message.startsWith('signal') || Date.parse(a.firedAt ?? a.startedAt) <= ended);
      expect(raised.filter((a) => a.sourceId === 'bed-03' && a.message.startsWith('signal')).map((a) => a.state)).toEqual(['RESOLVED']);
      const news2 = (await scenarioApp.mutate(News2ScoresDocument, {})).news2Scores.edges.map((e) => e.node);
      expect(news2.map((s) => s.sourceId)).toEqual(['bed-01', 'bed-02', 'bed-03']);
      // Pages by patient id: what follows endCursor, and whether more do.
      const firstPage = (await scenarioApp.mutate(News2ScoresDocument, { first: 2 })).news2Scores;
      expect(firstPage.edges.map((e) => e.node.sourceId)).toEqual(['bed-01', 'bed-02']);
      expect(firstPage.pageInfo).toEqual({ hasNextPage: true, endCursor: 'bed-02' });
      const lastPage = (await scenarioApp.mutate(News2ScoresDocument, { first: 2, after: firstPage.pageInfo.endCursor })).news2Scores;
      expect(lastPage.edges.map((e) => e.node.sourceId)).toEqual(['bed-03']);
      expect(lastPage.pageInfo).toEqual({ hasNextPage: false, endCursor: 'bed-03' });
      expect(news2.find((s) => s.sourceId === 'bed-01')).toMatchObject({ risk: 'HIGH' });
      expect(news2.filter((s) => s.sourceId !== 'bed-01').every((s) => s.risk === 'LOW')).toBe(true);
      expect(raised.some((a) => a.sourceId === 'bed-01' && a.message.startsWith('NEWS2') && a.severity === 'CRITICAL')).toBe(true);
      expect(raised.filter((a) => a.sourceId === 'bed-02')).toEqual([]);
      // Silent all along, but not one of the simulator's patients.
      expect(alerts.edges.filter((e) => e.node.sourceId === 'ward-real-1')).toEqual([]);
      const rules = (await scenarioApp.mutate(AlertRulesDocument, {})).alertRules;
      expect(rules.map((r) => [r.name, r.sourceIds])).toContainEqual(['Monitor silent > 3s (simulator)', ['bed-01', 'bed-02', 'bed-03']]);
    } finally {
      await scenarioApp.close();
    }
  });

  it('runs beside another tenant with --prefix: its own patient ids and symbols', async () => {
    const code = await runSimulator(['--url', `${app.url}/graphql`, '--prefix', 'b2-', '--patients', '2', '--rate', '4', '--symbols', '1', '--trade-rate', '2', '--seconds', '1']);
    expect(code).toBe(0);
    const { sources } = await app.mutate(SourcesDocument, { ids: ['b2-bed-01', 'b2-bed-02', 'b2-ACME'] });
    expect(sources.edges.map((e) => e.node.id)).toEqual(['b2-ACME', 'b2-bed-01', 'b2-bed-02']);
    expect(await runSimulator(['--prefix', 'has space', '--seconds', '1'])).toBe(2);
    // Its demo rules, named after its prefix, are deleted when it stops (and with them the alerts they held open).
    const said = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await runSimulator(['--url', `${app.url}/graphql`, '--prefix', 'b2-', '--patients', '2', '--rate', '4', '--symbols', '0', '--seconds', '1', '--scenario', 'burst'])).toBe(0);
    const lines = said.mock.calls.map((c) => String(c[0]));
    said.mockRestore();
    expect(lines).toContain('scenarios: burst; alert rules on its 2 patients (deleted when it stops): NEWS2 early warning; Tachycardia: avg heart rate over 5m > 100 for 2m; Hypoxia: SpO2 < 90 for 1m; Monitor silent > 10s');
    expect(lines).toContain('4 demo alert rules deleted, their open alerts resolved (--keep-rules keeps them)');
    expect((await app.mutate(AlertRulesDocument, {})).alertRules.filter((r) => r.name.endsWith('(simulator b2-)'))).toEqual([]);
  });

  it('says when its URL names the server but not its GraphQL endpoint', async () => {
    const said = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await runSimulator(['--url', `${app.url}/`, '--patients', '1', '--symbols', '0', '--seconds', '1'])).toBe(1);
    expect(said.mock.calls.map((c) => String(c[0]))).toEqual([`the API at ${app.url}/ is not a GraphQL endpoint: it answered 404 without a content type; does the URL end in /graphql?`]);
    said.mockRestore();
  });

  it.runIf(DATABASE_URL)('sends a batch that failed again, in order, once the database is back: no gap in the data', async () => {
    const real = new URL(DATABASE_URL!);
    const proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const flaky = await startTestApp({ name: 'PostgreSQL through a proxy', database: 'postgres', pubsub: 'memory' }, { env: { DATABASE_URL: throughProxy(DATABASE_URL!, proxy), PROCESSORS: 'off' } });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const run = runSimulator(['--url', `${flaky.url}/graphql`, '--patients', '2', '--rate', '10', '--symbols', '0', '--seconds', '6']);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await proxy.restore();
      expect(await run).toBe(0);
      const said = errors.mock.calls.map((c) => String(c[0])).join('\n');
      expect(said).toMatch(/failed: .*; \d+ waiting, sent again next second/);
      // Every second's readings are stored, those of the outage too.
      const [stored] = await flaky.sql<{ n: number }>(sql`select count(*)::int as n from readings`);
      expect(stored!.n).toBe(60);
    } finally {
      errors.mockRestore();
      await flaky.close();
      await proxy.close();
    }
  }, 30_000);

  it('says the server refused, not that it is unreachable, when it answers with an error (here: no API key)', async () => {
    const locked = await startTestApp(backends[0]!, { env: { AUTH: 'on' } });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runSimulator(['--url', `${locked.url}/graphql`, '--seconds', '1'])).toBe(1);
      expect(errors.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(
        new RegExp(`^the API at ${locked.url}/graphql refused to register the patients: .*API key.*\nthe server requires API keys: pass an admin key with --api-key`),
      );
    } finally {
      errors.mockRestore();
      await locked.close();
    }
  });

  it('refuses an unknown scenario or a flag that is not a whole number, naming each', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runSimulator(['--scenario', 'earthquake', '--seed', 'x', '--seconds', '1.5', '--rate', '0'])).toBe(2);
      const said = String(errors.mock.calls[0]![0]);
      expect(said).toContain('--rate must be a whole number of 1 or more, got "0"');
      expect(said).toContain('--seconds must be a whole number of 1 or more, got "1.5"');
      expect(said).toContain('--seed must be a whole number, got "x"');
      expect(said).toContain('unknown scenario earthquake; choose from deteriorating, dropout, travel, burst');
    } finally {
      errors.mockRestore();
    }
  });

  it('simulates trades alone with --patients 0', async () => {
    const logs = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await runSimulator(['--url', `${app.url}/graphql`, '--patients', '0', '--symbols', '2', '--prefix', 'solo-', '--seconds', '1'])).toBe(0);
    } finally {
      logs.mockRestore();
    }
    const trades = await app.sql<{ n: number }>(sql`select count(*)::int as n from trades where symbol like 'solo-%'`);
    expect(trades[0]!.n).toBeGreaterThan(0);
  });

  it('says how to start the server when it cannot reach it, naming the address it tried', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runSimulator(['--url', 'http://127.0.0.1:9/graphql', '--seconds', '1'])).toBe(1);
      expect(errors.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/^cannot reach the API at http:\/\/127\.0\.0\.1:9\/graphql: .*\nstart it first with: npm start/);
    } finally {
      errors.mockRestore();
    }
  });
});
