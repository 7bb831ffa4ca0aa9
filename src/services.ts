import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Reading } from './db/readings.js';
import type { Trade } from './db/trades.js';
import type { Transaction } from './db/transactions.js';
import type { AlertEvent, AlertService } from './alerts/alert-service.js';
import type { RuleRegistry } from './alerts/rule-registry.js';
import type { StoredFraudSignal } from './db/fraud.js';
import type { News2Score } from './processors/news2.js';
import type { OutputFeed } from './live/output-feed.js';
import type { AnomalyFlag } from './processors/anomaly.js';
import type { Candle } from './processors/candles.js';
import type { Pipelines } from './processors/pipelines.js';
import type { WindowAggregate } from './processors/windows.js';
import type { ClaimJanitor } from './ingest/claim-janitor.js';
import type { IngestDeps } from './ingest/ingest-batch.js';
import type { SourceRegistry } from './ingest/source-registry.js';
import type { StreamFeed } from './live/stream-feed.js';
import type { ReplaySlots } from './live/replay-slots.js';
import type { StreamTail } from './live/stream-tail.js';
import type { Logger } from './log.js';
import type { PubSub } from './pubsub/pubsub.js';
import type { AuditTrail } from './auth/audit-trail.js';
import type { Authenticator } from './auth/authenticator.js';
import type { OpenConnections } from './auth/connections.js';
import type { RateLimiter } from './auth/rate-limit.js';

/** What resolvers may use; built once by createServer. */
export interface Services {
  config: Config;
  log: Logger;
  database: Database;
  pubsub: PubSub;
  registry: SourceRegistry;
  readingsTail: StreamTail<Reading>;
  tradesTail: StreamTail<Trade>;
  transactionsTail: StreamTail<Transaction>;
  /** Alert rules in force (reloaded on change, on every node). */
  rules: RuleRegistry;
  alerts: AlertService;
  readingsFeed: StreamFeed<Reading>;
  /** Live trades for the `trades` subscription (the trade blotter). */
  tradesFeed: StreamFeed<Trade>;
  /** Turns to replay stored rows to resuming subscriptions (readings, trades, alerts, fraud signals), per key. */
  replays: ReplaySlots;
  /** Live processor outputs for subscribers. */
  outputs: {
    windows: OutputFeed<WindowAggregate>;
    candles: OutputFeed<Candle>;
    anomalies: OutputFeed<AnomalyFlag>;
    news2: OutputFeed<News2Score>;
    fraud: OutputFeed<StoredFraudSignal>;
    alerts: OutputFeed<AlertEvent>;
  };
  /** This node's processor runtimes (each runs only while this node holds its lease). */
  pipelines: Pipelines;
  ingest: IngestDeps & { registry: SourceRegistry };
  /** Abandons dead writers' cursor claims (PostgreSQL). */
  claims: ClaimJanitor;
  auth: {
    authenticator: Authenticator;
    /** graphql-ws sockets and SSE streams by key: capped per key, closed when their key is revoked or expires. */
    connections: OpenConnections;
    audit: AuditTrail;
    limiter: RateLimiter;
  };
}
