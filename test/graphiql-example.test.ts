import { parse, validate, type OperationDefinitionNode } from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { GRAPHIQL_EXAMPLE } from '../src/transport/graphiql-example.js';
import { startTestApp } from './support/app.js';
import { backends } from './support/backends.js';

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
