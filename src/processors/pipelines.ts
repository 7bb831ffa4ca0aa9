import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { insertAnomalies } from '../db/anomalies.js';
import { closedCandleEnds, upsertCandles } from '../db/candles.js';
import { readingsAfter, type Reading } from '../db/readings.js';
import { tradesAfter, type Trade } from '../db/trades.js';
import { closedWindowEnds, upsertWindows } from '../db/windows.js';
import { READINGS_STREAM } from '../ingest/ingest-readings.js';
import { TRADES_STREAM } from '../ingest/ingest-trades.js';
import { ANOMALIES_CHANNEL, CANDLES_CHANNEL, WINDOWS_CHANNEL } from '../live/output-wire.js';
import type { StreamPublisher } from '../live/publisher.js';
import type { StreamTail } from '../live/stream-tail.js';
import type { Logger } from '../log.js';
import { createAnomalyProcessor } from './anomaly.js';
import { createCandlesProcessor } from './candles.js';
import { ProcessorRuntime, stage } from './runtime.js';
import type { Point } from './series.js';
import { createWindowsProcessor } from './windows.js';
import { ALERTS_CHANNEL, type AlertService } from '../alerts/alert-service.js';
import type { RuleRegistry } from '../alerts/rule-registry.js';
import { upsertFraudSignals } from '../db/fraud.js';
import { upsertNews2 } from '../db/news2.js';
import { transactionsAfter, type Transaction } from '../db/transactions.js';
import { TRANSACTIONS_STREAM } from '../ingest/ingest-transactions.js';
import { FRAUD_CHANNEL, NEWS2_CHANNEL } from '../live/output-wire.js';
import { createAlertRulesProcessor } from './alert-rules.js';
import { createAmountAnomalyProcessor, createImpossibleTravelProcessor, createVelocityProcessor, type CardTransaction } from './fraud.js';
import { createNews2Processor } from './news2.js';
import { scopedToTenant } from './tenant-scope.js';

const toCardTransaction = (t: Transaction): CardTransaction => ({ ...t, time: t.time.getTime(), cursor: t.cursor.toString() });

const toPoint = (r: Reading): Point => ({ sourceId: r.sourceId, metric: r.metric, time: r.time.getTime(), value: r.value, cursor: r.cursor.toString() });

/**
 * A patient's reading as NEWS2 and alert rules place it: at its arrival when stamped after it. One stamped minutes
 * ahead (a device whose clock runs fast, within MAX_FUTURE_SKEW) stood as the newest value until real time caught
 * up with it, and every on-time reading behind it counted as older: a falling heart rate raised no alarm. The
 * arrival is stored with the reading, so a replay places it alike.
 */
const toPatientPoint = (r: Reading): Point => {
  const point = toPoint(r);
  return r.receivedAt !== undefined && point.time > r.receivedAt ? { ...point, time: r.receivedAt } : point;
};

/** "/" cannot occur in a source id or a catalog metric, and unlike NUL it can be stored in jsonb checkpoints. */
const readingSeries = (r: { sourceId: string; metric: string }) => `${r.sourceId}/${r.metric}`;

export interface Pipelines {
  readings: ProcessorRuntime<Reading>;
  patients: ProcessorRuntime<Reading>;
  trades: ProcessorRuntime<Trade>;
  transactions: ProcessorRuntime<Transaction>;
  'transactions-ip': ProcessorRuntime<Transaction>;
}

/**
 * The platform's processors. A pipeline is one stream keyed one way, so each
 * key's state lives in one partition: readings by series (windows, anomaly
 * flags) and by patient (NEWS2, alert rules); trades by symbol (candles);
 * card transactions by card (velocity, travel, amount) and by IP (velocity).
 */
export function buildPipelines(deps: {
  config: Config['processors'];
  database: Database;
  publisher: StreamPublisher;
  readingsTail: StreamTail<Reading>;
  tradesTail: StreamTail<Trade>;
  transactionsTail: StreamTail<Transaction>;
  rules: RuleRegistry;
  alerts: AlertService;
  log: Logger;
}): Pipelines {
  const { config, database, publisher, log } = deps;
  const db = database.db;
  const options = {
    db,
    publisher,
    log,
    partitions: config.partitions,
    latenessMs: config.latenessMs,
    checkpointIntervalMs: config.checkpointIntervalMs,
    leaseMs: config.leaseMs,
    provisionalFlushMs: config.formingFlushMs,
    queueLimit: config.queueLimit,
  };
  // Windows, anomalies, NEWS2 and alert rules compute from GOOD readings only. A BAD reading was flagged unusable
  // by its sender; a SUSPECT one is outside its metric's plausible range (a heart rate of -5) or was flagged by the
  // sender. Both are stored and listed as sent; scoring them would raise false alarms and skew averages.
  const usable = (r: Reading) => r.quality === 'GOOD';
  // A forming window or candle is replaced by the next version with its id; the closed one is final.
  const forming = <O extends { closed: boolean }>(output: O) => !output.closed;
  const readings = new ProcessorRuntime<Reading>(
    {
      name: READINGS_STREAM,
      tail: deps.readingsTail,
      readAfter: (after, limit) => readingsAfter(db, after, { limit }),
      seriesOf: (r) => readingSeries(r),
      timeOf: (r) => r.time.getTime(),
      include: usable,
      closedThrough: async (storedBefore) => new Map((await closedWindowEnds(db, storedBefore)).map((w) => [readingSeries(w), w.end.getTime()])),
      stages: [
        stage(createWindowsProcessor(config.windows), toPoint, { channel: WINDOWS_CHANNEL, persist: upsertWindows, encode: JSON.stringify, provisional: forming }),
        stage(createAnomalyProcessor(config.anomaly), toPoint, { channel: ANOMALIES_CHANNEL, persist: insertAnomalies, encode: JSON.stringify }),
      ],
    },
    options,
  );
  const trades = new ProcessorRuntime<Trade>(
    {
      name: TRADES_STREAM,
      tail: deps.tradesTail,
      readAfter: (after, limit) => tradesAfter(db, after, { limit }),
      seriesOf: (t) => t.symbol,
      timeOf: (t) => t.time.getTime(),
      closedThrough: async (storedBefore) => new Map((await closedCandleEnds(db, storedBefore)).map((c) => [c.symbol, c.end.getTime()])),
      stages: [
        stage(
          createCandlesProcessor(config.candleIntervalsMs),
          (t: Trade) => ({ symbol: t.symbol, time: t.time.getTime(), price: t.price, size: t.size, cursor: t.cursor.toString() }),
          { channel: CANDLES_CHANNEL, persist: upsertCandles, encode: JSON.stringify, provisional: forming },
        ),
      ],
    },
    options,
  );
  const stayOf = (r: Reading) => ({ stay: deps.rules.stayOf(r.sourceId), receivedAt: r.receivedAt ?? null });
  const patients = new ProcessorRuntime<Reading>(
    {
      name: 'patients',
      tail: deps.readingsTail,
      readAfter: (after, limit) => readingsAfter(db, after, { limit }),
      seriesOf: (r) => r.sourceId,
      timeOf: (r) => r.time.getTime(),
      include: usable,
      // Keyed by patient, so the monitor's pulse sets the clock for every vital; NEWS2 keeps each parameter's newest
      // value and rules place a reading by its time, so a charted vital minutes behind still counts.
      takesLateEvents: true,
      stages: [
        // Both stages read the patient's stay (discharged, readmitted) and the reading's arrival, which places it in one.
        stage(createNews2Processor({ maxAgeMs: config.news2MaxAgeMs }), (r: Reading) => ({ ...toPatientPoint(r), ...stayOf(r) }), { channel: NEWS2_CHANNEL, persist: upsertNews2, encode: JSON.stringify }),
        // A tenant's rules see only its own patients.
        stage(
          createAlertRulesProcessor({ news2MaxAgeMs: config.news2MaxAgeMs }),
          (r: Reading) => ({ point: toPatientPoint(r), rules: deps.rules.processorRulesOf(r.tenantId), ...stayOf(r) }),
          {
            channel: ALERTS_CHANNEL,
            persist: (tx, transitions, options) => deps.alerts.persistTransitions(tx, transitions, options),
            // Alert events, not the processor's transitions: a retried store must not publish those (undecodable).
            publishesOnRetry: true,
            encode: JSON.stringify,
          },
        ),
      ],
    },
    options,
  );
  const fraudSink = { channel: FRAUD_CHANNEL, persist: upsertFraudSignals, encode: JSON.stringify };
  const readTransactions = (after: bigint, limit: number) => transactionsAfter(db, after, { limit });
  const { fraud } = config;
  const transactions = new ProcessorRuntime<Transaction>(
    {
      name: TRANSACTIONS_STREAM,
      tail: deps.transactionsTail,
      readAfter: readTransactions,
      // Card and IP ids are the partner's: two tenants may use the same ones, so series are per tenant.
      seriesOf: (t) => `${t.tenantId}/${t.cardId}`,
      timeOf: (t) => t.time.getTime(),
      stages: [
        stage(scopedToTenant(createVelocityProcessor({ by: 'card', ...fraud.velocity })), toCardTransaction, fraudSink),
        stage(scopedToTenant(createImpossibleTravelProcessor(fraud.travel)), toCardTransaction, fraudSink),
        stage(scopedToTenant(createAmountAnomalyProcessor(fraud.amount)), toCardTransaction, fraudSink),
      ],
    },
    options,
  );
  const transactionsByIp = new ProcessorRuntime<Transaction>(
    {
      name: 'transactions-ip',
      tail: deps.transactionsTail,
      readAfter: readTransactions,
      seriesOf: (t) => `${t.tenantId}/${t.ip}`,
      timeOf: (t) => t.time.getTime(),
      stages: [stage(scopedToTenant(createVelocityProcessor({ by: 'ip', ...fraud.velocity })), toCardTransaction, fraudSink)],
    },
    options,
  );
  return { readings, patients, trades, transactions, 'transactions-ip': transactionsByIp };
}
