import { insertTradesSql, TRADES_STREAM, type Trade } from '../db/trades.js';
import type { Principal } from '../auth/principal.js';
import type { SourceRegistry } from './source-registry.js';
import { tradesCodec } from '../live/wire.js';
import { ingestBatch, type IngestRequest, type IngestDeps, type IngestResult, type StreamSpec } from './ingest-batch.js';
import { validateTrade, type ValidTrade } from './trade-item.js';

/** The stream's name (its cursors in stream_offsets, its pub/sub channel). */
export { TRADES_STREAM };

function tradesSpec(registry: SourceRegistry): StreamSpec<ValidTrade, Trade> {
  return {
  stream: TRADES_STREAM,
  noun: 'trades',
  validate: validateTrade,
  // A symbol is an instrument of the first tenant that trades it; others get UNKNOWN_SOURCE for it.
  // A tenant's patient or device id is not an instrument: trading it is refused too.
  async admit(candidates, tenantId) {
    const owned = await registry.claim(candidates.map((c) => c.value.symbol), tenantId, 'INSTRUMENT');
    const instruments = await registry.instrumentsAmong(owned);
    return candidates
      .filter((c) => !instruments.has(c.value.symbol))
      .map((c) => ({
        index: c.index,
        field: 'symbol',
        code: 'UNKNOWN_SOURCE' as const,
        message: owned.has(c.value.symbol)
          ? `symbol "${c.value.symbol}" is one of your sources but not an instrument (registered as another kind)`
          : `symbol "${c.value.symbol}" is not an instrument of your tenant`,
      }));
  },
  naturalKey: (t) => `${t.symbol}\u0000${t.time.getTime()}\u0000${t.tradeId}`,
  insertSql: (trades, _tenantId, receivedAt, onConflict) => insertTradesSql(trades, receivedAt, onConflict),
  // The tenant travels with each trade (its symbol's owner), so a node that never saw the symbol routes it to the right blotters.
  toStored: (t, cursor, tenantId, receivedAt) => ({ ...t, cursor, tenantId, receivedAt }),
  codec: tradesCodec,
  };
}

/** Stores a batch of trades (see ingestBatch); (symbol, time, tradeId) identifies a trade. */
export function ingestTrades(deps: IngestDeps & { registry: SourceRegistry }, items: readonly unknown[], caller: Principal, request?: IngestRequest): Promise<IngestResult> {
  return ingestBatch(deps, tradesSpec(deps.registry), items, caller, request);
}
