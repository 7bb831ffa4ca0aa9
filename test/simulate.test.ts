import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulator } from '../src/simulate.js';
import { SourcesDocument } from '../src/generated/graphql.js';
import { backends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';

describe('npm run simulate', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backends[0]!);
  });
  afterAll(() => app?.close());

  it('registers patients and posts plausible vitals through the public API at the asked rate', async () => {
    const code = await runSimulator(['--url', `${app.url}/graphql`, '--patients', '3', '--rate', '18', '--symbols', '2', '--trade-rate', '10', '--seconds', '2']);
    expect(code).toBe(0);
    const rows = await app.sql<{ metric: string; n: number; suspect: number }>(
      sql`select metric, count(*)::int as n, count(*) filter (where quality <> 'GOOD')::int as suspect from readings group by metric order by metric`,
    );
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(36);
    expect(rows.map((r) => r.metric)).toEqual(['bp_diastolic', 'bp_systolic', 'heart_rate', 'resp_rate', 'spo2', 'temperature']);
    expect(rows.every((r) => r.suspect === 0)).toBe(true);
    const { sources } = await app.mutate(SourcesDocument, { kind: 'PATIENT' });
    expect(sources.edges.map((e) => e.node.id)).toEqual(['bed-01', 'bed-02', 'bed-03']);
    const trades = await app.sql<{ symbol: string; n: number }>(sql`select symbol, count(*)::int as n from trades group by symbol order by symbol`);
    expect(trades).toEqual([
      { symbol: 'ACME', n: 10 },
      { symbol: 'GLOBX', n: 10 },
    ]);
  });

  it('says how to start the server when it cannot reach it', async () => {
    expect(await runSimulator(['--url', 'http://127.0.0.1:9/graphql', '--seconds', '1'])).toBe(1);
  });
});
