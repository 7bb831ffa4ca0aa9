import type { Db } from '../db/client.js';
import { existingSourceIds, upsertSources, type SourceInput } from '../db/sources.js';

/**
 * Which source ids exist. Known ids are cached for the life of the process
 * (sources are never deleted); unknown ones are looked up once per batch, so
 * a source registered through another node is found on first use.
 */
export class SourceRegistry {
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  async register(input: readonly SourceInput[]) {
    const stored = await upsertSources(this.db, input);
    for (const source of stored) this.known.add(source.id);
    return stored;
  }

  /** The subset of `ids` that are registered sources. */
  async filterKnown(ids: Iterable<string>): Promise<Set<string>> {
    const unique = new Set(ids);
    const missing = [...unique].filter((id) => !this.known.has(id));
    if (missing.length > 0) for (const id of await existingSourceIds(this.db, missing)) this.known.add(id);
    return new Set([...unique].filter((id) => this.known.has(id)));
  }
}
