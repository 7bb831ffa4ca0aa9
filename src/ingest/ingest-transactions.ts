import { insertTransactionsSql, TRANSACTIONS_STREAM, type Transaction } from '../db/transactions.js';
import type { Principal } from '../auth/principal.js';
import { transactionsCodec } from '../live/wire.js';
import { ingestBatch, type IngestRequest, type IngestDeps, type IngestResult, type StreamSpec } from './ingest-batch.js';
import { validateTransaction, type ValidTransaction } from './transaction-item.js';

/** The stream's name (its cursors in stream_offsets, its pub/sub channel). */
export { TRANSACTIONS_STREAM };

const transactionsSpec: StreamSpec<ValidTransaction, Transaction> = {
  stream: TRANSACTIONS_STREAM,
  noun: 'transactions',
  validate: validateTransaction,
  naturalKey: (t) => t.id,
  insertSql: insertTransactionsSql,
  toStored: (t, cursor, tenantId, receivedAt) => ({ ...t, cursor, tenantId, receivedAt }),
  codec: transactionsCodec,
};

/** Stores a batch of card transactions (see ingestBatch); the partner's id identifies a transaction within its tenant. */
export function ingestTransactions(deps: IngestDeps, items: readonly unknown[], caller: Principal, request?: IngestRequest): Promise<IngestResult> {
  return ingestBatch(deps, transactionsSpec, items, caller, request);
}
