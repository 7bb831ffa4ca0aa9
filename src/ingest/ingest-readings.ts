import { insertReadingsSql, READINGS_STREAM, type Reading } from '../db/readings.js';
import { readingsCodec } from '../live/wire.js';
import { ingestBatch, type IngestRequest, type IngestDeps, type IngestResult, type StreamSpec } from './ingest-batch.js';
import { validateReading, type ValidReading } from './reading-item.js';
import type { Principal } from '../auth/principal.js';
import type { SourceRegistry } from './source-registry.js';

/** The stream's name (its cursors in stream_offsets, its pub/sub channel). */
export { READINGS_STREAM };

function readingsSpec(registry: SourceRegistry): StreamSpec<ValidReading, Reading> {
  return {
    stream: READINGS_STREAM,
    noun: 'readings',
    validate: validateReading,
    async admit(candidates, tenantId) {
      const ids = candidates.map((c) => c.value.sourceId);
      const known = await registry.owned(ids, tenantId);
      // A market's instrument has trades, not readings: its readings would feed a ward's rules (signal lost).
      const instruments = await registry.instrumentsAmong(known);
      return candidates
        .filter((c) => !known.has(c.value.sourceId) || instruments.has(c.value.sourceId))
        .map((c) => ({
          index: c.index,
          field: 'sourceId',
          code: 'UNKNOWN_SOURCE' as const,
          message: known.has(c.value.sourceId)
            ? `source "${c.value.sourceId}" is an instrument: send its trades with ingestTrades; readings are for patients and devices`
            : `source "${c.value.sourceId}" is not registered to your tenant (registerSources first)`,
        }));
    },
    naturalKey: (r) => `${r.sourceId}\u0000${r.metric}\u0000${r.time.getTime()}`,
    insertSql: insertReadingsSql,
    // Spelled out (not spread) in the field order the wire decoder builds: one object shape for every reading.
    toStored: (r, cursor, tenantId, receivedAt) => ({ cursor, time: r.time, sourceId: r.sourceId, metric: r.metric, value: r.value, unit: r.unit, quality: r.quality, tenantId, receivedAt }),
    codec: readingsCodec,
  };
}

/** Stores a batch of readings (see ingestBatch); the source of each must be registered to the caller's tenant. */
export function ingestReadings(deps: IngestDeps & { registry: SourceRegistry }, items: readonly unknown[], caller: Principal, request?: IngestRequest): Promise<IngestResult> {
  return ingestBatch(deps, readingsSpec(deps.registry), items, caller, request);
}
