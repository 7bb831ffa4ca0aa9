import { sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { rows, type Db } from './client.js';
import { sources, type SourceKind } from './schema.js';

export interface SourceInput {
  id: string;
  kind: SourceKind;
  name: string;
}

/**
 * Every statement that locks several source rows locks them in this order (ids are ASCII, so it is also PostgreSQL's
 * `collate "C"` order): two calls naming the same ids in different orders then wait for each other instead of
 * deadlocking, which would fail one of them.
 */
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Creates sources for a tenant or updates its own sources' kind and name. Not returned: another tenant's ids, and
 * the tenant's own whose kind would turn into or out of INSTRUMENT (decided in the statement, so a trade claiming
 * the id as an instrument at the same moment cannot be overwritten).
 */
export async function upsertSources(db: Db, input: readonly SourceInput[], tenantId: string) {
  if (input.length === 0) return [];
  return db
    .insert(sources)
    .values([...input].sort((a, b) => byId(a.id, b.id)).map((s) => ({ ...s, tenantId })))
    .onConflictDoUpdate({
      target: sources.id,
      // Registering a retired source again brings it back (a patient readmitted), from now: a new stay.
      set: {
        kind: sql`excluded.kind`,
        name: sql`excluded.name`,
        retiredAt: sql`null`,
        // To the millisecond: the processors hold it as a JavaScript time and store it with each NEWS2 score (news2.ts).
        admittedAt: sql`case when ${sources.retiredAt} is not null then date_trunc('milliseconds', now()) else ${sources.admittedAt} end`,
      },
      setWhere: sql`${sources.tenantId} = excluded.tenant_id and (${sources.kind} = 'INSTRUMENT') = (excluded.kind = 'INSTRUMENT')`,
    })
    .returning();
}

/** Registers ids nobody holds yet as `tenantId`'s, named after themselves; held ids are left alone. */
export async function claimSources(db: Db, ids: readonly string[], tenantId: string, kind: SourceKind): Promise<void> {
  if (ids.length === 0) return;
  await db
    .insert(sources)
    .values([...ids].sort(byId).map((id) => ({ id, kind, name: id, tenantId })))
    .onConflictDoNothing({ target: sources.id });
}

/** Every source in use that has sent at least one reading, with its tenant (one index probe per registered source). */
export async function sourcesWithReadings(db: Db): Promise<{ id: string; tenantId: string }[]> {
  return db
    .select({ id: sources.id, tenantId: sources.tenantId })
    .from(sources)
    .where(sql`${sources.retiredAt} is null and exists (select 1 from readings where readings.source_id = ${sources.id})`);
}

/**
 * Each metric of `metrics` each source in use has sent (a reading of any quality stored), with when its newest GOOD
 * reading of it arrived (epoch ms; null when none is GOOD, or stored before arrivals were, migration 0012): which
 * series a tenant-wide NO_DATA rule watches after a restart, and where the signal monitor counts their silence from (a
 * BAD or SUSPECT reading is no signal). Two index probes per source and metric (source, metric, time), the second
 * reading back past the BAD ones at its end.
 */
export async function lastArrivals(db: Db, metrics: readonly string[]): Promise<{ sourceId: string; metric: string; arrivedAt: number | null }[]> {
  const found = await rows<{ sourceId: string; metric: string; arrivedAt: number | string | null }>(
    db,
    sql`select s.id as "sourceId", m.metric, (extract(epoch from r.received_at) * 1000)::float8 as "arrivedAt"
        from ${sources} s
        cross join unnest(${sql.param([...metrics])}::text[]) as m(metric)
        cross join lateral (select 1 from readings where readings.source_id = s.id and readings.metric = m.metric limit 1) sent
        left join lateral (select received_at from readings where readings.source_id = s.id and readings.metric = m.metric and readings.quality = 'GOOD' order by time desc limit 1) r on true
        where s.retired_at is null`,
  );
  return found.map((r) => ({ sourceId: r.sourceId, metric: r.metric, arrivedAt: r.arrivedAt === null ? null : Number(r.arrivedAt) }));
}

/** Sources retired or readmitted: where each patient is in its stays, for the alert rules processor. */
export async function sourceStays(db: Db): Promise<{ id: string; retiredAt: Date | null; admittedAt: Date | null }[]> {
  return db
    .select({ id: sources.id, retiredAt: sources.retiredAt, admittedAt: sources.admittedAt })
    .from(sources)
    .where(sql`${sources.retiredAt} is not null or ${sources.admittedAt} is not null`);
}

/** Retires `tenantId`'s sources among `ids` (those retired before keep their time); returns them. */
export async function retireSources(db: Db, ids: readonly string[], tenantId: string) {
  if (ids.length === 0) return [];
  // Locked in id order first (the lock is taken above the sort), then updated.
  const locked = sql`select id from ${sources} where ${sources.id} = any(${sql.param([...ids])}::text[]) and ${sources.tenantId} = ${tenantId} order by id collate "C" for update`;
  return db
    .update(sources)
    .set({ retiredAt: sql`coalesce(${sources.retiredAt}, now())` })
    .where(sql`${sources.id} in (${locked})`)
    .returning();
}

/**
 * Whether `id` is retired, read under a share lock on its row so a retirement cannot commit between this check and
 * the caller's commit (an alert opened for a source just retired). False for an id that is not registered.
 */
export async function isRetired(tx: Db, id: string): Promise<boolean> {
  const [row] = await tx.select({ retiredAt: sources.retiredAt }).from(sources).where(sql`${sources.id} = ${id}`).for('share');
  return row?.retiredAt != null;
}

/** Who holds each of `ids` that is registered, and as what. */
export async function sourceOwners(db: Db, ids: readonly string[]): Promise<{ id: string; tenantId: string; kind: SourceKind }[]> {
  if (ids.length === 0) return [];
  return db.select({ id: sources.id, tenantId: sources.tenantId, kind: sources.kind }).from(sources).where(sql`${sources.id} = any(${sql.param([...ids])}::text[])`);
}

/**
 * A source's current stay as NEWS2 scores name it (news2_scores.stay): admitted_at to the millisecond, as the
 * processors hold it. Stored so since migration 0015, but a node of the version before writes now() whole.
 */
export const currentStay = sql`date_trunc('milliseconds', ${sources.admittedAt})`;

/** `column` names a source of `tenantId`: the one filter every tenant-scoped query of outputs carries. */
export function ownedBy(column: AnyColumn | SQL, tenantId: string): SQL {
  return sql`${column} in (select ${sources.id} from ${sources} where ${sources.tenantId} = ${tenantId})`;
}

export async function listSources(
  db: Db,
  options: { tenantId: string; kind?: SourceKind | null; ids?: readonly string[] | null; after?: string | null; limit: number; includeRetired?: boolean },
) {
  const conditions = [
    sql`${sources.tenantId} = ${options.tenantId}`,
    options.includeRetired ? undefined : sql`${sources.retiredAt} is null`,
    options.kind ? sql`${sources.kind} = ${options.kind}` : undefined,
    options.ids?.length ? sql`${sources.id} = any(${sql.param([...options.ids])}::text[])` : undefined,
    options.after ? sql`${sources.id} > ${options.after}` : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(sources)
    .where(conditions.length ? sql.join(conditions, sql` and `) : undefined)
    .orderBy(sources.id)
    .limit(options.limit);
}
