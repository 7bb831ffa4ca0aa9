import { execute, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Queries and mutations run on graphql-js 17's own `execute`, as
 * subscriptions already do (shared-events.ts), instead of yoga's default
 * @graphql-tools/executor. That executor copies every variable value into a
 * fresh null-prototype object before coercing it (`snapshotInputValue`),
 * which for an ingest batch of 1,000 input objects was ~3 µs a reading, a
 * tenth of the server's work per reading; graphql-js coerces the parsed JSON
 * as it is. Nothing here uses what only the other executor has (@defer and
 * @stream are not in the schema).
 */
export function useGraphqlJsExecute(): Plugin {
  const run = (args: ExecutionArgs) => execute(args);
  return {
    onExecute: ({ setExecuteFn }) => setExecuteFn(run as never),
  };
}
