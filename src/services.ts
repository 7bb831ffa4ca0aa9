import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Reading } from './db/readings.js';
import type { Trade } from './db/trades.js';
import type { OutputFeed } from './live/output-feed.js';
import type { AnomalyFlag } from './processors/anomaly.js';
import type { Candle } from './processors/candles.js';
import type { Pipelines } from './processors/pipelines.js';
import type { WindowAggregate } from './processors/windows.js';
import type { IngestDeps } from './ingest/ingest-batch.js';
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
  tradesTail: StreamTail<Trade>;
  readingsFeed: ReadingsFeed;
  /** Live processor outputs for subscribers. */
  outputs: { windows: OutputFeed<WindowAggregate>; candles: OutputFeed<Candle>; anomalies: OutputFeed<AnomalyFlag> };
  /** This node's processor runtimes (each runs only while this node holds its lease). */
  pipelines: Pipelines;
  ingest: IngestDeps & { registry: SourceRegistry };
}
