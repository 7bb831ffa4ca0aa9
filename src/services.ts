import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Reading } from './db/readings.js';
import type { IngestDeps } from './ingest/ingest-readings.js';
import type { SourceRegistry } from './ingest/source-registry.js';
import type { ReadingsFeed } from './live/readings-feed.js';
import type { StreamTail } from './live/stream-tail.js';
import type { Logger } from './log.js';
import type { PubSub } from './pubsub/pubsub.js';

/** What resolvers may use; built once by createServer. */
export interface Services {
  config: Config;
  log: Logger;
  database: Database;
  pubsub: PubSub;
  registry: SourceRegistry;
  readingsTail: StreamTail<Reading>;
  readingsFeed: ReadingsFeed;
  ingest: IngestDeps;
}
