import { getOperationAST, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { sql } from 'drizzle-orm';
import { rows, withDeadline } from '../db/client.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { IngestResult } from '../ingest/ingest-batch.js';
import type { Services } from '../services.js';
import { AUTH_FAILURE_REASONS } from '../auth/authenticator.js';

/**
 * Prometheus metrics for one server (its own registry, so several servers in
 * one process, as in the tests, do not mix). Hot paths only bump counters;
 * figures the platform already keeps (processor stats, stream tails,
 * subscriber counts) are read when Prometheus scrapes.
 */
/** How long a scrape waits for the database's own figures (vigil_db_connections) before leaving them out. */
const SCRAPE_DB_WAIT_MS = 1_000;

export function createMetrics(services: Services) {
  let connectionsQuery: Promise<{ state: string | null; n: number }[]> | undefined;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  const registers = [registry];

  const operations = new Counter({
    name: 'vigil_graphql_operations_total',
    help: 'GraphQL operations executed or subscribed, by operation name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers,
  });
  const ingestItems = new Counter({
    name: 'vigil_ingest_items_total',
    help: 'Ingested items by stream and outcome (accepted, duplicate, rejected)',
    labelNames: ['stream', 'outcome'] as const,
    registers,
  });
  const ingestSeconds = new Histogram({
    name: 'vigil_ingest_batch_seconds',
    help: 'Ingest mutation time from validation to commit, by stream',
    labelNames: ['stream'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  new Gauge({
    name: 'vigil_ingest_batches_rewritten_total',
    help: 'Ingest batches written a second time, skipping stored rows, after their plain insert met them (counter semantics; resets on restart)',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      for (const [stream, n] of services.ingest.inserts.rewritten) this.set({ stream }, n);
    },
  });

  const pipelines = () => Object.values(services.pipelines);
  type Pipeline = ReturnType<typeof pipelines>[number];
  /** One figure per pipeline on this node. */
  const pipelineGauge = (name: string, help: string, value: (p: Pipeline) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['pipeline'] as const,
      registers,
      collect() {
        for (const p of pipelines()) this.set({ pipeline: p.name }, value(p));
      },
    });
  pipelineGauge('vigil_processor_events_total', 'Events a processor pipeline has consumed on this node (counter semantics; resets on restart)', (p) => p.stats.eventsIn);
  new Gauge({
    name: 'vigil_processor_outputs_total',
    help: 'Outputs per processor (counter semantics; resets on restart)',
    labelNames: ['pipeline', 'processor'] as const,
    registers,
    collect() {
      for (const p of pipelines()) for (const [processor, n] of Object.entries(p.stats.outputs as Record<string, number>)) this.set({ pipeline: p.name, processor }, n);
    },
  });
  pipelineGauge('vigil_processor_late_events_total', 'Events behind their series watermark, left out of the outputs closed by then: windows, candles, fraud checks (counter semantics; resets on restart)', (p) => p.stats.lateDropped);
  pipelineGauge('vigil_processor_queued_events', 'Live events waiting for the batch in hand to be stored (at most PROCESSOR_QUEUE_LIMIT)', (p) => p.queuedEvents);
  pipelineGauge('vigil_processor_queue_drops_total', 'Times the live queue passed PROCESSOR_QUEUE_LIMIT and its events were read back from the database instead (counter semantics; resets on restart)', (p) => p.stats.queueDrops);
  // A lapsed lease (renewals not reaching the database for a whole lease) is not counted: another node may hold it.
  pipelineGauge('vigil_processor_owner', '1 when this node runs the pipeline (holds its lease)', (p) => (p.reportedRole === 'owner' ? 1 : 0));
  new Gauge({
    name: 'vigil_processor_delay_seconds',
    help: 'Commit → outputs stored and published, over the last 4096 live batches',
    labelNames: ['pipeline', 'quantile'] as const,
    registers,
    collect() {
      for (const p of pipelines()) {
        for (const q of [0.5, 0.95, 0.99]) {
          const ms = p.delay.percentile(q * 100);
          if (ms !== null) this.set({ pipeline: p.name, quantile: String(q) }, ms / 1_000);
        }
      }
    },
  });
  // Series figures from the owner only: a standby's state is whatever it held when it last owned the pipeline.
  // The lag follows the newest series, not the lowest watermark: one silent monitor or card would hold that back
  // for good, and the lag would grow on a healthy pipeline.
  const owned = () => pipelines().filter((p) => p.reportedRole === 'owner');
  type Owned = ReturnType<typeof owned>[number];
  const seriesGauge = (name: string, help: string, value: (clocks: ReturnType<Owned['seriesClocks']>, pipeline: Owned) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['pipeline'] as const,
      registers,
      collect() {
        this.reset();
        for (const p of owned()) {
          const v = value(p.seriesClocks(), p);
          if (v !== null) this.set({ pipeline: p.name }, v);
        }
      },
    });
  seriesGauge(
    'vigil_processor_watermark_lag_seconds',
    "Wall clock minus the newest series watermark: how far the pipeline's event time trails real time (about ALLOWED_LATENESS while data flows)",
    ({ newest }, p) => (newest === null ? null : (Date.now() - (newest - p.latenessMs)) / 1_000),
  );
  seriesGauge('vigil_processor_series', 'Series (source/metric, patient, symbol, card, IP) whose state the pipeline holds in memory and checkpoints', ({ count }) => count);
  seriesGauge(
    'vigil_processor_stalest_series_seconds',
    'Event time between the newest series and the one heard from least recently (its windows stay open until it sends again)',
    ({ newest, oldest }) => (newest === null || oldest === null ? null : (newest - oldest) / 1_000),
  );
  new Gauge({
    name: 'vigil_processor_waiting_seconds',
    help: 'How long the oldest live event received and not yet processed has waited since its commit (0 when caught up): grows while the pipeline stalls, where the delay quantiles move only when a batch completes',
    labelNames: ['pipeline'] as const,
    registers,
    collect() {
      this.reset();
      // Lapsed owners too: a lease lapses when the database stops answering, the very stall this shows.
      for (const p of pipelines()) if (p.role === 'owner') this.set({ pipeline: p.name }, p.waitingMs / 1_000);
    },
  });
  new Gauge({
    name: 'vigil_live_subscriptions',
    help: 'Open subscriptions on this node, by stream',
    labelNames: ['type'] as const,
    registers,
    collect() {
      this.set({ type: 'readings' }, services.readingsFeed.subscriberCount);
      this.set({ type: 'trades' }, services.tradesFeed.subscriberCount);
      for (const [type, feed] of Object.entries(services.outputs)) this.set({ type }, feed.subscriberCount);
    },
  });
  new Gauge({
    name: 'vigil_live_replays',
    help: 'Resuming subscriptions (readings, alerts, fraud signals) replaying stored rows on this node, and those waiting for a turn (MAX_CONCURRENT_REPLAYS_PER_KEY), by state',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.set({ state: 'running' }, services.replays.runningCount);
      this.set({ state: 'waiting' }, services.replays.waitingCount);
    },
  });
  new Gauge({
    name: 'vigil_live_replay_waits_total',
    help: 'Replays that had to wait for a turn (MAX_CONCURRENT_REPLAYS_PER_KEY), by outcome: all of them (waited), and those whose REPLAY_WAIT ran out, ended with TOO_MANY_REPLAYS (refused) (counter semantics)',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      this.set({ outcome: 'waited' }, services.replays.waited);
      this.set({ outcome: 'refused' }, services.replays.timedOut);
    },
  });
  new Gauge({
    name: 'vigil_live_reading_groups',
    help: 'Distinct (tenant, filters) among open readings subscriptions: each batch is filtered and executed once per group',
    registers,
    collect() {
      this.set(services.readingsFeed.groupCount);
    },
  });
  const tails = () => ({ readings: services.readingsTail, trades: services.tradesTail, transactions: services.transactionsTail });
  new Gauge({
    name: 'vigil_stream_batches_total',
    help: 'Committed batches this node\'s stream tail took: via="pubsub" from other nodes, via="local" its own (counter semantics)',
    labelNames: ['stream', 'via'] as const,
    registers,
    collect() {
      for (const [stream, tail] of Object.entries(tails())) {
        this.set({ stream, via: 'pubsub' }, tail.stats.batches);
        this.set({ stream, via: 'local' }, tail.stats.local);
      }
    },
  });
  new Gauge({
    name: 'vigil_stream_repairs_total',
    help: 'Gaps in the pub/sub stream read back from the database (Redis down, lost or late messages)',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      for (const [stream, tail] of Object.entries(tails())) this.set({ stream }, tail.stats.repairs);
    },
  });
  new Gauge({
    name: 'vigil_pubsub_publish_failures_total',
    help: 'Messages that could not be published (subscribers caught up from the database)',
    registers,
    collect() {
      this.set(services.ingest.publisher.failures);
    },
  });
  const feeds = () => ({ readings: services.readingsFeed, trades: services.tradesFeed, ...services.outputs });
  new Gauge({
    name: 'vigil_live_events_total',
    help: 'Events handed to live subscribers on this node, and events dropped when a slow subscriber was disconnected, by stream (counter semantics)',
    labelNames: ['stream', 'outcome'] as const,
    registers,
    collect() {
      for (const [stream, feed] of Object.entries(feeds())) {
        this.set({ stream, outcome: 'delivered' }, feed.counters.delivered);
        this.set({ stream, outcome: 'dropped' }, feed.counters.dropped);
      }
    },
  });
  new Gauge({
    name: 'vigil_live_slow_consumers_total',
    help: 'Subscribers disconnected with SLOW_CONSUMER, by stream',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      for (const [stream, feed] of Object.entries(feeds())) this.set({ stream }, feed.counters.slowConsumers);
    },
  });
  new Gauge({
    name: 'vigil_live_events_missed_total',
    help: 'Output subscribers ended with EVENTS_MISSED (pub/sub may have lost their events; they re-read), by stream',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      for (const [stream, feed] of Object.entries(services.outputs)) this.set({ stream }, feed.missedEnded);
    },
  });
  new Gauge({
    name: 'vigil_pubsub_reconnects_total',
    help: 'Connections to Redis re-established after a loss (0 with in-process pub/sub)',
    registers,
    collect() {
      this.set(services.pubsub.reconnects);
    },
  });
  new Gauge({
    name: 'vigil_db_pool_size',
    help: 'Database connections this node may open (DATABASE_POOL_SIZE; 1 for the embedded database)',
    registers,
    collect() {
      const { database } = services.config;
      this.set(database.driver === 'postgres' ? database.poolSize : 1);
    },
  });
  new Gauge({
    name: 'vigil_db_connections',
    help: "This deployment's pool connections (named vigil:<DATABASE_SCHEMA>) by state, from pg_stat_activity: every node's; PostgreSQL only",
    labelNames: ['state'] as const,
    registers,
    async collect() {
      if (services.database.driver !== 'postgres') return;
      this.reset();
      // One query at a time, and a scrape does not wait for a database that stopped answering: the other series
      // matter most then. No sample means unknown.
      connectionsQuery ??= rows<{ state: string | null; n: number }>(
        services.database.db,
        // This connection's own name as PostgreSQL keeps it (cut to 63 bytes); pg_stat_activity covers every database.
        sql`select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity
            where datname = current_database() and application_name = current_setting('application_name') group by 1`,
      ).finally(() => (connectionsQuery = undefined));
      const found = await withDeadline(connectionsQuery, SCRAPE_DB_WAIT_MS, 'no answer').catch(() => []);
      for (const row of found) this.set({ state: row.state ?? 'unknown' }, row.n);
    },
  });
  const { auth } = services;
  new Gauge({
    name: 'vigil_auth_failures_total',
    help: `Requests and sockets refused for their API key by reason (${AUTH_FAILURE_REASONS.join(', ')}): a feed whose key expired or was revoked stops sending`,
    labelNames: ['reason'] as const,
    registers,
    collect() {
      for (const reason of AUTH_FAILURE_REASONS) this.set({ reason }, auth.authenticator.failures[reason]);
    },
  });
  new Gauge({
    name: 'vigil_stream_claims_abandoned_total',
    help: 'Cursor claims this node abandoned because their writer died between claiming and storing (PostgreSQL): cursor ranges readers skip',
    registers,
    collect() {
      this.set(services.claims.abandoned);
    },
  });
  new Gauge({
    name: 'vigil_rate_limited_total',
    help: 'Operations refused with RATE_LIMITED',
    registers,
    collect() {
      this.set(auth.limiter.refused);
    },
  });
  new Gauge({
    name: 'vigil_audit_entries',
    help: 'Audit log entries: written to the database, waiting in the buffer, dropped because the buffer overflowed or they were still unstored at shutdown (must stay 0)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.set({ state: 'written' }, auth.audit.written);
      this.set({ state: 'pending' }, auth.audit.pending);
      this.set({ state: 'dropped' }, auth.audit.dropped);
    },
  });
  new Gauge({
    name: 'vigil_connections_closed_for_key_total',
    help: 'graphql-ws and SSE connections closed because their API key was revoked or expired',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.set({ reason: 'revoked' }, auth.connections.closedForRevocation);
      this.set({ reason: 'expired' }, auth.connections.closedForExpiry);
    },
  });
  new Gauge({
    name: 'vigil_live_connections',
    help: 'graphql-ws sockets (once their connection_init is accepted) and SSE streams open on this node',
    registers,
    collect() {
      this.set(auth.connections.count);
    },
  });
  new Gauge({
    name: 'vigil_connections_refused_total',
    help: 'graphql-ws sockets (closed with 4429) and SSE streams (HTTP 429) refused with TOO_MANY_CONNECTIONS: their key, or address when open, held MAX_CONNECTIONS_PER_KEY on this node (counter semantics)',
    labelNames: ['transport'] as const,
    registers,
    collect() {
      for (const [transport, n] of Object.entries(auth.connections.refused)) this.set({ transport }, n);
    },
  });

  // Clients name their operations: the first MAX_OPERATION_LABELS names (up to 64 characters each) get a series
  // of their own, any other 'other', so no client can grow /metrics without bound.
  const labelled = new Set<string>();
  const operationLabel = (name: string | undefined) => {
    if (name === undefined) return 'anonymous';
    if (labelled.has(name)) return name;
    if (name.length > 64 || labelled.size >= MAX_OPERATION_LABELS) return 'other';
    labelled.add(name);
    return name;
  };

  return {
    registry,
    observeIngest(stream: string, result: IngestResult, seconds: number) {
      ingestItems.inc({ stream, outcome: 'accepted' }, result.accepted);
      ingestItems.inc({ stream, outcome: 'duplicate' }, result.duplicates);
      ingestItems.inc({ stream, outcome: 'rejected' }, result.rejected);
      ingestSeconds.observe({ stream }, seconds);
    },
    observeOperation(document: DocumentNode, operationName: string | null | undefined, ok: boolean) {
      const operation = getOperationAST(document, operationName);
      operations.inc({ operation: operationLabel(operation?.name?.value), type: operation?.operation ?? 'unknown', outcome: ok ? 'ok' : 'error' });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Distinct operation names `vigil_graphql_operations_total` labels; the committed documents hold fewer than 50. */
export const MAX_OPERATION_LABELS = 500;

const failed = (result: unknown) => typeof result === 'object' && result !== null && Array.isArray((result as { errors?: unknown[] }).errors) && (result as { errors: unknown[] }).errors.length > 0;

/**
 * Counts every query, mutation and subscription (HTTP, SSE and graphql-ws all run through yoga's envelop),
 * refused ones as errors: it must come before the plugins that refuse an operation before it runs (limits,
 * access control, rate limit), whose refusals reach the done hooks of the plugins before them only. A
 * document that fails validation never runs, so it is counted when validation fails.
 */
export function useOperationMetrics(metrics: Metrics): Plugin {
  // The same hooks for every operation, not new closures per operation: envelop holds what onSubscribe
  // returns for as long as the subscription runs.
  const observe = ({ args, result }: { args: ExecutionArgs; result: unknown }) => metrics.observeOperation(args.document, args.operationName, !failed(result));
  const afterExecute = { onExecuteDone: observe };
  const afterSubscribe = { onSubscribeResult: observe };
  return {
    onValidate: ({ params, context }) => {
      const operationName = (context as { params?: { operationName?: string | null } } | undefined)?.params?.operationName;
      return ({ valid }) => {
        if (!valid) metrics.observeOperation(params.documentAST, operationName, false);
      };
    },
    onExecute: () => afterExecute,
    onSubscribe: () => afterSubscribe,
  };
}
