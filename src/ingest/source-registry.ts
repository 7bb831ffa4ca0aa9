import type { Db } from '../db/client.js';
import { claimSources, sourcesOfKind, sourceTenants, upsertSources, type SourceInput } from '../db/sources.js';
import type { SourceKind } from '../db/schema.js';

/**
 * Which tenant owns each source id. Ownership never changes (sources are
 * neither deleted nor handed over), so an owner once seen is cached for the
 * life of the process; unknown ids are looked up once per batch, so a source
 * registered through another node is found on first use.
 */
export class SourceRegistry {
  private readonly owners = new Map<string, string>();
  /** Ids seen registered as instruments. A kind changed on another node is seen here after a restart. */
  private readonly instruments = new Set<string>();

  constructor(private readonly db: Db) {}

  /**
   * Creates sources for `tenantId`, or updates the kind and name of its own: all of `input`, or, when another
   * tenant holds any of its ids, nothing (`stored` empty, `taken` those ids), so a refused call changes nothing.
   */
  async register(input: readonly SourceInput[], tenantId: string): Promise<{ stored: Awaited<ReturnType<typeof upsertSources>>; taken: string[] }> {
    try {
      const stored = await this.db.transaction(async (tx) => {
        const rows = await upsertSources(tx as unknown as Db, input, tenantId);
        const storedIds = new Set(rows.map((s) => s.id));
        const taken = input.map((s) => s.id).filter((id) => !storedIds.has(id));
        if (taken.length > 0) throw new IdsTaken(taken);
        return rows;
      });
      for (const source of stored) {
        this.owners.set(source.id, tenantId);
        if (source.kind === 'INSTRUMENT') this.instruments.add(source.id);
        else this.instruments.delete(source.id);
      }
      return { stored, taken: [] };
    } catch (error) {
      if (error instanceof IdsTaken) return { stored: [], taken: error.ids };
      throw error;
    }
  }

  /** Claims unclaimed ids for `tenantId` (trade symbols become its instruments on first use); returns the ids it owns. */
  async claim(ids: Iterable<string>, tenantId: string, kind: SourceKind): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    const unknown = unique.filter((id) => !this.owners.has(id));
    if (unknown.length > 0) await claimSources(this.db, unknown, tenantId, kind);
    return this.owned(unique, tenantId);
  }

  /** The subset of `ids` registered as instruments (a trade on a patient's id would give a patient candles). */
  async instrumentsAmong(ids: Iterable<string>): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    const unknown = unique.filter((id) => !this.instruments.has(id));
    if (unknown.length > 0) for (const id of await sourcesOfKind(this.db, unknown, 'INSTRUMENT')) this.instruments.add(id);
    return new Set(unique.filter((id) => this.instruments.has(id)));
  }

  /** The subset of `ids` that are sources of `tenantId`. Unknown and foreign ids are alike: absent. */
  async owned(ids: Iterable<string>, tenantId: string): Promise<Set<string>> {
    const unique = new Set(ids);
    const missing = [...unique].filter((id) => !this.owners.has(id));
    if (missing.length > 0) for (const row of await sourceTenants(this.db, missing)) this.owners.set(row.id, row.tenantId);
    return new Set([...unique].filter((id) => this.owners.get(id) === tenantId));
  }

  /** Looks up the owners of the ids this node has not seen; undefined when it knows them all. */
  learn(ids: Iterable<string>): Promise<unknown> | undefined {
    const missing = [...new Set(ids)].filter((id) => !this.owners.has(id));
    if (missing.length === 0) return undefined;
    return sourceTenants(this.db, missing).then((found) => {
      for (const row of found) this.owners.set(row.id, row.tenantId);
    });
  }

  /** The owner if this node has seen it; undefined otherwise (callers treat that as "not yours"). */
  ownerOf(id: string): string | undefined {
    return this.owners.get(id);
  }
}

/** Rolls back a registration that named another tenant's ids. */
class IdsTaken extends Error {
  constructor(readonly ids: string[]) {
    super(`source ids held by another tenant: ${ids.join(', ')}`);
  }
}
