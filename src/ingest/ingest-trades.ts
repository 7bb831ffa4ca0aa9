import { insertTrades, type Trade } from '../db/trades.js';
import { tradesCodec } from '../live/wire.js';
import { ingestBatch, type IngestDeps, type IngestResult, type StreamSpec } from './ingest-batch.js';
import { validateTrade, type ValidTrade } from './trade-item.js';

export const TRADES_STREAM = 'trades';

const tradesSpec: StreamSpec<ValidTrade, Trade> = {
  stream: TRADES_STREAM,
  noun: 'trades',
  validate: validateTrade,
  naturalKey: (t) => `${t.symbol}\u0000${t.time.getTime()}`,
  insert: insertTrades,
  toStored: (t, cursor) => ({ ...t, cursor }),
  encode: tradesCodec.encode,
};

/** Stores a batch of trades (see ingestBatch); (symbol, time) identifies a trade. */
export function ingestTrades(deps: IngestDeps, items: readonly unknown[], caller: string): Promise<IngestResult> {
  return ingestBatch(deps, tradesSpec, items, caller);
}
