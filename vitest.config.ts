import { defineConfig } from 'vitest/config';
import { isPostgresTypeFetchFailure } from './src/db/postgres-type-fetch.js';

// graphql 17 exports a `development` build that Vite picks by default, while
// externalised packages (Pothos, yoga) load Node's choice: two graphql
// instances. Resolve with Node's own conditions so there is one.
const nodeConditions = ['node', 'import', 'module-sync', 'default'];

export default defineConfig({
  resolve: { conditions: nodeConditions },
  ssr: { resolve: { conditions: nodeConditions, externalConditions: nodeConditions } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most suites wait on servers, sockets and child processes; two files at a time roughly halves the wall time
    // on this 2-core machine (vitest's default here would be one).
    maxWorkers: 2,
    // Each worker process runs its files one after another without a fresh process for each: the platform's modules
    // (GraphQL, yoga, Pothos, drizzle, PGlite's loader) are imported once a worker instead of once a file: imports
    // took 14 s of a full run instead of 67 s, and full runs read 542 and 594 s against 619-666 s isolated. Files
    // share no state but what they start and stop themselves; the one fake clock (alerts.test.ts) is restored in its test.
    isolate: false,
    // The servers under test survive postgres.js's dropped array-types rejection (src/db/postgres-type-fetch.ts);
    // vitest hears it too, and would fail the run for what the server logged and outlived.
    onUnhandledError: (error) => (isPostgresTypeFetchFailure(error) ? false : undefined),
  },
});
