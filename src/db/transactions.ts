import { sql, type SQL } from 'drizzle-orm';
import { float8ArrayLiteral, textArrayLiteral } from './array-literals.js';
import { epochMsToTimestamptz, rows, type Executor } from './client.js';
import { cursorPage, onConflictClause, type OnConflict } from './offsets.js';

export const TRANSACTIONS_STREAM = 'transactions';

/** A stored card transaction; `cursor` orders transactions in commit order. */
export interface Transaction {
  cursor: bigint;
  id: string;
  cardId: string;
  time: Date;
  amount: number;
  currency: string;
  merchant: string;
  lat: number;
  lon: number;
  ip: string;
  tenantId: string;
  /** Epoch ms its batch arrived (transactions stored before migration 0012: undefined). */
  receivedAt?: number;
}

interface TransactionRow extends Omit<Transaction, 'cursor' | 'time' | 'cardId' | 'tenantId' | 'receivedAt'> {
  cursor: string;
  received_ms: number | null;
  tenant_id: string;
  card_id: string;
  time_ms: number;
}

const COLUMNS = sql`seq::text as cursor, id, card_id, (extract(epoch from time) * 1000)::float8 as time_ms, amount, currency, merchant, lat, lon, ip, tenant_id,
  (extract(epoch from received_at) * 1000)::float8 as received_ms`;

const toTransaction = ({ cursor, card_id, time_ms, tenant_id, received_ms, ...rest }: TransactionRow): Transaction => ({
  ...rest,
  tenantId: tenant_id,
  cursor: BigInt(cursor),
  cardId: card_id,
  time: new Date(time_ms),
  ...(received_ms === null ? {} : { receivedAt: received_ms }),
});

/** The INSERT of `transactions` for claimAndInsert (see insertReadingsSql); a stored (tenant, id) is left untouched (skipped, or the statement fails: see insertReadingsSql). */
export function insertTransactionsSql(items: readonly Omit<Transaction, 'cursor' | 'tenantId' | 'receivedAt'>[], tenantId: string, receivedAt: number, onConflict: OnConflict = 'skip'): SQL {
  const text = (key: 'id' | 'cardId' | 'currency' | 'merchant' | 'ip') => textArrayLiteral(items.map((t) => t[key]));
  const float8 = (key: 'amount' | 'lat' | 'lon') => float8ArrayLiteral(items.map((t) => t[key]));
  return sql`insert into transactions (id, card_id, time, amount, currency, merchant, lat, lon, ip, seq, tenant_id, received_at)
    select t.id, t.card_id, ${epochMsToTimestamptz(sql`t.time`)}, t.amount, t.currency, t.merchant, t.lat, t.lon, t.ip, claim.base + t.n, ${tenantId}::text,
      ${epochMsToTimestamptz(sql`${receivedAt}::float8`)}
    from claim, unnest(
      ${text('id')}::text[], ${text('cardId')}::text[], ${float8ArrayLiteral(items.map((t) => t.time.getTime()))}::float8[],
      ${float8('amount')}::float8[], ${text('currency')}::text[], ${text('merchant')}::text[],
      ${float8('lat')}::float8[], ${float8('lon')}::float8[], ${text('ip')}::text[])
      with ordinality as t(id, card_id, time, amount, currency, merchant, lat, lon, ip, n)
    ${onConflictClause(onConflict, sql`(tenant_id, id)`)}
    returning seq`;
}

/** Transactions with after < cursor <= upTo (omitted: the committed cursor), in cursor order, at most `limit`. */
export async function transactionsAfter(db: Executor, after: bigint, options: { upTo?: bigint; limit: number }): Promise<Transaction[]> {
  const found = await rows<TransactionRow>(
    db,
    cursorPage({ stream: TRANSACTIONS_STREAM, table: sql`transactions`, columns: COLUMNS, after, limit: options.limit, upTo: options.upTo }),
  );
  return found.map(toTransaction);
}

/** Where a page of transactions in event-time order ends: the last one's time (epoch ms) and cursor. */
export interface TimePosition {
  timeMs: number;
  cursor: bigint;
}

/**
 * A tenant's stored transactions in event-time order (ties in commit order), after `after`, at most `limit`: those
 * with the given ids, of the given card, at from <= time < to (each filter when given; they combine with AND).
 */
export async function listTransactions(
  db: Executor,
  q: { tenantId: string; ids?: readonly string[] | null; cardId?: string | null; from?: Date | null; to?: Date | null; after: TimePosition | null; limit: number },
): Promise<Transaction[]> {
  const where = [
    sql`tenant_id = ${q.tenantId}`,
    q.ids ? sql`id = any(${textArrayLiteral([...new Set(q.ids)])}::text[])` : undefined,
    q.cardId != null ? sql`card_id = ${q.cardId}` : undefined,
    q.from ? sql`time >= ${q.from.toISOString()}::timestamptz` : undefined,
    q.to ? sql`time < ${q.to.toISOString()}::timestamptz` : undefined,
    q.after ? sql`(time, seq) > (${epochMsToTimestamptz(sql`${q.after.timeMs}::float8`)}, ${q.after.cursor.toString()}::int8)` : undefined,
  ].filter((condition) => condition !== undefined);
  const found = await rows<TransactionRow>(db, sql`select ${COLUMNS} from transactions where ${sql.join(where, sql` and `)} order by time, seq limit ${q.limit}`);
  return found.map(toTransaction);
}
