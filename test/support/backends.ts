/**
 * The backend matrix. The embedded pair always runs; the real servers run
 * when DATABASE_URL / REDIS_URL are set (CI sets both and fails if they are
 * unreachable). Each test app gets its own schema and Redis channel prefix,
 * so test files run in parallel without seeing each other.
 */
export interface Backend {
  name: string;
  database: 'pglite' | 'postgres';
  pubsub: 'memory' | 'redis';
}

export const DATABASE_URL = process.env.DATABASE_URL || undefined;
export const REDIS_URL = process.env.REDIS_URL || undefined;

const all: Backend[] = [
  { name: 'PGlite+TimescaleDB, in-process pub/sub', database: 'pglite', pubsub: 'memory' },
  { name: 'PostgreSQL, Redis', database: 'postgres', pubsub: 'redis' },
  { name: 'PGlite+TimescaleDB, Redis', database: 'pglite', pubsub: 'redis' },
  { name: 'PostgreSQL, in-process pub/sub', database: 'postgres', pubsub: 'memory' },
];

export const backends: Backend[] = all.filter(
  (b) => (b.database === 'pglite' || DATABASE_URL) && (b.pubsub === 'memory' || REDIS_URL),
);

/** The default and the production pair: for suites where the full matrix adds nothing. */
export const primaryBackends: Backend[] = backends.filter((b) => b.database === 'pglite' ? b.pubsub === 'memory' : b.pubsub === 'redis');
