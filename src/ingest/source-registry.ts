import type { Db } from '../db/client.js';
import { claimSources, sourceOwners, upsertSources, type SourceInput } from '../db/sources.js';
import type { SourceKind } from '../db/schema.js';

/** An instrument's trades and a patient's or device's readings never share an id. */
const sameSide = (a: SourceKind, b: SourceKind) => (a === 'INSTRUMENT') === (b === 'INSTRUMENT');

/**
 * Which tenant owns each source id, and whether it is an instrument. Neither
 * changes (sources are neither deleted nor handed over, and a kind never
 * changes to or from INSTRUMENT), so what is once seen is cached for the life
 * of the process; unknown ids are looked up once per batch, so a source
 * registered through another node is found on first use.
 */
export class SourceRegistry {
  private readonly known = new Map<string, { tenantId: string; kind: SourceKind }>();

  constructor(private readonly db: Db) {}

  /**
   * Creates sources for `tenantId`, or updates the kind and name of its own: all of `input`, or nothing when
   * another tenant holds any of its ids (`taken`) or one would turn into or out of an instrument (`kindFixed`),
   * so a refused call changes nothing.
   */
  async register(
    input: readonly SourceInput[],
    tenantId: string,
  ): Promise<{ stored: Awaited<ReturnType<typeof upsertSources>>; taken: string[]; kindFixed?: { id: string; kind: SourceKind } }> {
    try {
      const stored = await this.db.transaction(async (tx) => {
        const rows = await upsertSources(tx as unknown as Db, input, tenantId);
        const storedIds = new Set(rows.map((s) => s.id));
        const refused = input.filter((s) => !storedIds.has(s.id));
        if (refused.length === 0) return rows;
        // Not stored: another tenant's, or the tenant's own on the other side of INSTRUMENT.
        const holders = new Map((await sourceOwners(tx as unknown as Db, refused.map((s) => s.id))).map((row) => [row.id, row]));
        for (const wanted of refused) {
          const holder = holders.get(wanted.id);
          if (holder?.tenantId === tenantId && !sameSide(holder.kind, wanted.kind)) throw new KindFixed(wanted.id, holder.kind);
        }
        throw new IdsTaken(refused.map((s) => s.id));
      });
      for (const source of stored) this.known.set(source.id, { tenantId, kind: source.kind });
      return { stored, taken: [] };
    } catch (error) {
      if (error instanceof IdsTaken) return { stored: [], taken: error.ids };
      if (error instanceof KindFixed) return { stored: [], taken: [], kindFixed: { id: error.id, kind: error.kind } };
      throw error;
    }
  }

  /** Claims unclaimed ids for `tenantId` (trade symbols become its instruments on first use); returns the ids it owns. */
  async claim(ids: Iterable<string>, tenantId: string, kind: SourceKind): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    const unknown = unique.filter((id) => !this.known.has(id));
    if (unknown.length > 0) await claimSources(this.db, unknown, tenantId, kind);
    return this.owned(unique, tenantId);
  }

  /** The subset of `ids` registered as instruments (a trade on a patient's id would give a patient candles). */
  async instrumentsAmong(ids: Iterable<string>): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    await this.learn(unique);
    return new Set(unique.filter((id) => this.known.get(id)?.kind === 'INSTRUMENT'));
  }

  /** The subset of `ids` that are sources of `tenantId`. Unknown and foreign ids are alike: absent. */
  async owned(ids: Iterable<string>, tenantId: string): Promise<Set<string>> {
    const unique = new Set(ids);
    await this.learn(unique);
    return new Set([...unique].filter((id) => this.known.get(id)?.tenantId === tenantId));
  }

  /** Looks up the owners of the ids this node has not seen; undefined when it knows them all. */
  learn(ids: Iterable<string>): Promise<unknown> | undefined {
    const missing = [...new Set(ids)].filter((id) => !this.known.has(id));
    if (missing.length === 0) return undefined;
    return sourceOwners(this.db, missing).then((found) => {
      for (const row of found) this.known.set(row.id, { tenantId: row.tenantId, kind: row.kind });
    });
  }

  /** The owner if this node has seen it; undefined otherwise (callers treat that as "not yours"). */
  ownerOf(id: string): string | undefined {
    return this.known.get(id)?.tenantId;
  }
}

/** Rolls back a registration that named another tenant's ids. */
class IdsTaken extends Error {
  constructor(readonly ids: string[]) {
    super(`source ids held by another tenant: ${ids.join(', ')}`);
  }
}

/** Rolls back a registration that would turn a source into an instrument or an instrument into a source of readings. */
class KindFixed extends Error {
  constructor(
    readonly id: string,
    readonly kind: SourceKind,
  ) {
    super(`source ${id} is a ${kind}`);
  }
}
