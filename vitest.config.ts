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
    // The servers under test survive postgres.js's dropped array-types rejection (src/db/postgres-type-fetch.ts);
    // vitest hears it too, and would fail the run for what the server logged and outlived.
    onUnhandledError: (error) => (isPostgresTypeFetchFailure(error) ? false : undefined),
  },
});
