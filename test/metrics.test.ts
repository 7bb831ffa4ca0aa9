import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestReadingsDocument, LiveReadingsDocument, RegisterSourcesDocument } from '../src/generated/graphql.js';
import postgresJs from 'postgres';
import { DATABASE_URL, primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { heartRate, patients, T0 } from './support/fixtures.js';
import { waitFor } from './support/live.js';

describe.each(primaryBackends)('operations endpoints on $name', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend);
  });
  afterAll(() => app?.close());

  it('exposes Prometheus metrics: ingest outcomes, operations, processors, subscriptions, deliveries, pool', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: patients('metrics-1') });
    const live = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['metrics-1'] });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('metrics-1', 70, 50_000), heartRate('metrics-1', 70, 50_000), { ...heartRate('metrics-1', 70, 50_001), metric: 'nope' }] });
    await app.request(IngestReadingsDocument, { readings: 'not a list' as never });
    await app.settle();
    await live.results.until((items) => items.length > 0, 'the live reading');
    // Subscriptions asking for the same thing share a group: 3 subscriptions, 2 groups.
    const twin = await app.subscribeWs(LiveReadingsDocument, { sourceIds: ['metrics-1'] });
    const other = await app.subscribeWs(LiveReadingsDocument, {});
    const open = await (await fetch(`${app.url}/metrics`)).text();
    expect(open).toMatch(/^vigil_live_subscriptions\{type="readings"\} 3$/m);
    expect(open).toMatch(/^vigil_live_reading_groups 2$/m);
    await Promise.all([live.close(), twin.close(), other.close()]);
    // A client's close does not wait for the server to see it: the scrape must follow the server's bookkeeping.
    await waitFor(() => app.server.services.readingsFeed.subscriberCount === 0, 'the server to drop the closed subscriptions');
    const response = await fetch(`${app.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const value = (line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').at(-1));
    expect(value(/^vigil_ingest_items_total\{stream="readings",outcome="duplicate"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_ingest_items_total\{stream="readings",outcome="rejected"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_ingest_batch_seconds_count\{stream="readings"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_graphql_operations_total\{operation="IngestReadings",type="mutation",outcome="ok"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_processor_events_total\{pipeline="readings"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_processor_owner\{pipeline="patients"\}/)).toBe(1);
    expect(text).toMatch(/^vigil_live_subscriptions\{type="readings"\} 0$/m);
    expect(text).toMatch(/^vigil_live_reading_groups 0$/m);
    expect(value(/^vigil_live_events_total\{stream="readings",outcome="delivered"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^vigil_live_events_total\{stream="readings",outcome="dropped"\}/)).toBe(0);
    expect(value(/^vigil_pubsub_reconnects_total /)).toBe(0);
    expect(value(/^vigil_db_pool_size /)).toBe(backend.database === 'postgres' ? 8 : 1);
    if (backend.database === 'postgres') expect(value(/^vigil_db_connections\{state="/)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^vigil_process_resident_memory_bytes /m);
    // Each HELP names what its labels and states count, as docs/operations.md does: throttled refusals and audit
    // entries lost at shutdown were left out.
    const reasons = [...text.matchAll(/^vigil_auth_failures_total\{reason="([a-z]+)"\}/gm)].map((m) => m[1]!);
    expect(reasons).toContain('throttled');
    expect(text).toMatch(new RegExp(`^# HELP vigil_auth_failures_total .*\\(${reasons.join(', ')}\\)`, 'm'));
    expect(text).toMatch(/^# HELP vigil_audit_entries .*dropped because the buffer overflowed or they were still unstored at shutdown/m);
  });

  it('counts refused operations as errors: invalid, too complex, refused by an argument check', async () => {
    const run = (query: string) => fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    await run('query RefusedInvalid { nope }');
    await run(`query RefusedComplex { ${Array.from({ length: 20 }, (_, i) => `a${i}: sources(first: 1) { edges { cursor } }`).join(' ')} }`);
    await run('query RefusedEmpty { readings(sourceIds: []) { edges { node { cursor } } } }');
    await run('query Fine { __typename }');
    const text = await (await fetch(`${app.url}/metrics`)).text();
    for (const name of ['RefusedInvalid', 'RefusedComplex', 'RefusedEmpty']) {
      expect(text, name).toMatch(new RegExp(`^vigil_graphql_operations_total\\{operation="${name}",type="query",outcome="error"\\} 1$`, 'm'));
    }
    expect(text).toMatch(/^vigil_graphql_operations_total\{operation="Fine",type="query",outcome="ok"\} 1$/m);
  });

  it('labels at most 500 distinct operation names of up to 64 characters, so no client can grow /metrics without bound', async () => {
    const run = (name: string) => fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `query ${name} { __typename }` }) });
    await run(`Long${'x'.repeat(61)}`);
    for (let i = 0; i < 520; i++) await run(`Probe${i}`);
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const names = new Set([...text.matchAll(/^vigil_graphql_operations_total\{operation="([^"]*)"/gm)].map((m) => m[1]));
    expect(names.size).toBeLessThanOrEqual(501);
    expect(names).toContain('other');
    expect([...names].some((n) => n!.startsWith('Long'))).toBe(false);
    expect(text).toMatch(/^vigil_graphql_operations_total\{operation="other",type="query",outcome="ok"\} \d+$/m);
  });

  it('follows the newest series for the watermark lag, and counts the series held and how stale the quietest is', async () => {
    // metrics-1's heart rate (second 50,000, above) stays the newest series; metrics-2's falls silent 1,000 s before it.
    await app.mutate(RegisterSourcesDocument, { sources: patients('metrics-2') });
    await app.mutate(IngestReadingsDocument, { readings: [heartRate('metrics-2', 71, 49_000)] });
    await app.settle();
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const value = (line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').at(-1));
    expect(value(/^vigil_processor_series\{pipeline="readings"\}/)).toBe(2);
    expect(value(/^vigil_processor_series\{pipeline="patients"\}/)).toBe(2);
    expect(value(/^vigil_processor_stalest_series_seconds\{pipeline="readings"\}/)).toBe(1_000);
    // Wall clock minus (newest event time minus ALLOWED_LATENESS): a silent series does not hold it back.
    const newestAge = (Date.now() - (T0 + 50_000_000)) / 1_000;
    const lag = value(/^vigil_processor_watermark_lag_seconds\{pipeline="readings"\}/);
    expect(lag).toBeGreaterThanOrEqual(newestAge - 5);
    expect(lag).toBeLessThanOrEqual(newestAge + 300);
  });
});

// PostgreSQL only: the embedded database has no pg_stat_activity to count.
const postgres = primaryBackends.find((b) => b.database === 'postgres');
describe.runIf(postgres)('vigil_db_connections on PostgreSQL', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(postgres!);
  });
  afterAll(() => app?.close());

  it("counts its own deployment's database connections, not another's sharing the database", async () => {
    // Another deployment on the same database, holding all 8 of its pool's connections. Its DATABASE_SCHEMA is 63
    // characters long: PostgreSQL keeps the pool's name cut to 63 bytes.
    const otherSchema = `t_${process.pid}_${'x'.repeat(63)}`.slice(0, 63);
    const other = await startTestApp(postgres!, { schema: otherSchema });
    try {
      await Promise.all(Array.from({ length: 8 }, () => other.sql(sql`select pg_sleep(0.2)`)));
      await app.sql(sql`select 1`);
      const connections = async (node: TestApp) => {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        return text
          .split('\n')
          .filter((line) => line.startsWith('vigil_db_connections{'))
          .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
      };
      expect(await connections(other)).toBe(8);
      // A deployment with the same schema name in another database of the server is not this one either.
      const another = new URL(DATABASE_URL!);
      another.pathname = another.pathname === '/postgres' ? '/template1' : '/postgres';
      const elsewhere = postgresJs(another.toString(), { max: 1, connection: { application_name: `vigil:${otherSchema}` } });
      try {
        await elsewhere`select 1`;
        expect(await connections(other)).toBe(8);
      } finally {
        await elsewhere.end();
      }
      const own = await connections(app);
      expect(own).toBeGreaterThanOrEqual(1);
      expect(own).toBeLessThanOrEqual(8);
    } finally {
      await other.close();
    }
  });
});
