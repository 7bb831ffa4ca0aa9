import { parse, validate, type OperationDefinitionNode } from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { GRAPHIQL_EXAMPLE } from '../src/transport/graphiql-example.js';
import { startTestApp } from './support/app.js';
import { backends } from './support/backends.js';
import { startServerProcess } from './support/server-process.js';

it("GraphiQL's opening operations are valid against the schema, each named", () => {
  const document = parse(GRAPHIQL_EXAMPLE);
  expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  const names = document.definitions.map((d) => (d as OperationDefinitionNode).name?.value);
  expect(names).toEqual(['Patients', 'LiveVitals', 'OpenAlerts', 'AlertEvents']);
});

it('GraphiQL opens with them, and its queries answer on the embedded default', async () => {
  const app = await startTestApp(backends[0]!);
  try {
    const page = await (await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain(JSON.stringify(GRAPHIQL_EXAMPLE).slice(1, 60));
    for (const operationName of ['Patients', 'OpenAlerts']) {
      const answer = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: GRAPHIQL_EXAMPLE, operationName }),
      });
      const body = (await answer.json()) as { errors?: unknown };
      expect(body.errors, operationName).toBeUndefined();
    }
  } finally {
    await app.close();
  }
});

it('serves its ~9 MB page, which needs no key, without rendering it again for each request', async () => {
  // Its own process, so that its CPU time is the server's alone.
  const server = await startServerProcess({ DATABASE_URL: '', DATA_DIR: 'memory://', PROCESSORS: 'off', AUTH: 'on' });
  try {
    const cpuMs = async () => {
      const metrics = await (await fetch(new URL('/metrics', server.url))).text();
      return Number(/^vigil_process_cpu_seconds_total (\S+)$/m.exec(metrics)![1]) * 1_000;
    };
    // The server's url names /graphql.
    const page = async () => (await (await fetch(server.url, { headers: { accept: 'text/html' } })).arrayBuffer()).byteLength;
    const before = await cpuMs();
    const first = await page();
    const afterFirst = await cpuMs();
    expect(first).toBeGreaterThan(1_000_000);
    for (let i = 0; i < 5; i++) expect(await page()).toBe(first);
    const perPage = ((await cpuMs()) - afterFirst) / 5;
    // Rendered for every request it cost as much each time as the first (~65 ms here), and 60 requests at once
    // held the event loop, every live delivery with it, for seconds.
    expect(perPage).toBeLessThan((afterFirst - before) / 2);
  } finally {
    await server.stop();
  }
});

it('is not served with GRAPHIQL=off, where the API answers as before', async () => {
  const app = await startTestApp(backends[0]!, { env: { GRAPHIQL: 'off' } });
  try {
    const page = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('graphiql');
    const answer = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ metrics { name } }' }) });
    expect(((await answer.json()) as { errors?: unknown }).errors).toBeUndefined();
  } finally {
    await app.close();
  }
});
