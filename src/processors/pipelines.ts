import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { insertAnomalies } from '../db/anomalies.js';
import { upsertCandles } from '../db/candles.js';
import { readingsAfter, type Reading } from '../db/readings.js';
import { tradesAfter, type Trade } from '../db/trades.js';
import { upsertWindows } from '../db/windows.js';
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

const toPoint = (r: Reading): Point => ({ sourceId: r.sourceId, metric: r.metric, time: r.time.getTime(), value: r.value, cursor: r.cursor.toString() });

export interface Pipelines {
  readings: ProcessorRuntime<Reading>;
  trades: ProcessorRuntime<Trade>;
}

/** The platform's processors, per stream: readings → windows and anomaly flags; trades → candles. */
export function buildPipelines(deps: {
  config: Config['processors'];
  database: Database;
  publisher: StreamPublisher;
  readingsTail: StreamTail<Reading>;
  tradesTail: StreamTail<Trade>;
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
  };
  const readings = new ProcessorRuntime<Reading>(
    {
      name: READINGS_STREAM,
      tail: deps.readingsTail,
      readAfter: (after, limit) => readingsAfter(db, after, { limit }),
      // "/" cannot occur in a source id or a catalog metric, and unlike NUL it can be stored in jsonb checkpoints.
      seriesOf: (r) => `${r.sourceId}/${r.metric}`,
      timeOf: (r) => r.time.getTime(),
      stages: [
        stage(createWindowsProcessor(config.windows), toPoint, { channel: WINDOWS_CHANNEL, persist: upsertWindows, encode: JSON.stringify }),
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
      stages: [
        stage(
          createCandlesProcessor(config.candleIntervalsMs),
          (t: Trade) => ({ symbol: t.symbol, time: t.time.getTime(), price: t.price, size: t.size, cursor: t.cursor.toString() }),
          { channel: CANDLES_CHANNEL, persist: upsertCandles, encode: JSON.stringify },
        ),
      ],
    },
    options,
  );
  return { readings, trades };
}
