import { ForbiddenError, ValidationError } from '../errors.js';
import type { SourceRegistry } from '../ingest/source-registry.js';
import type { Principal } from './principal.js';

/** In the audit log's source list: the operation covered every source of the tenant. */
export const ALL_SOURCES = '*';

/**
 * What one request may see: the caller's tenant. Resolvers pass every
 * source filter through `sources()`, which refuses a foreign (or unknown)
 * id with FORBIDDEN, the same answer for both, so nothing can be inferred
 * about other tenants' ids. It also remembers which sources the request
 * touched, for the audit log.
 */
export class TenantScope {
  private touchedSources: Set<string> | undefined;
  /** Set once the audit log has the touched sources (takeTouched). */
  private auditRecorded = false;

  constructor(
    readonly principal: Principal,
    private readonly registry: SourceRegistry,
  ) {}

  get tenantId(): string {
    return this.principal.tenantId;
  }

  /** Sources the request has touched so far, for the audit log. */
  get touched(): Set<string> {
    return (this.touchedSources ??= new Set());
  }

  /** The touched sources, handed over once to the audit log: a live subscription's scope then holds none for its life. */
  takeTouched(): Set<string> {
    this.auditRecorded = true;
    const touched = this.touched;
    this.touchedSources = undefined;
    return touched;
  }

  /**
   * Notes subjects whose data a field resolved below the root read (the cards of the transactions it answered). A
   * live subscription's events, resolved after its audit entry was written (that entry names what it subscribed to),
   * add nothing: a set kept for its life would grow with every event.
   */
  touch(ids: Iterable<string>): void {
    if (this.auditRecorded) return;
    for (const id of ids) this.touched.add(id);
  }

  /** The named sources, each checked to be the tenant's; null (= all of the tenant's) when none are named. */
  async sources(ids: readonly (string | number)[] | null | undefined, argument = 'sourceIds'): Promise<string[] | null> {
    if (!ids?.length) {
      this.touched.add(ALL_SOURCES);
      return null;
    }
    const wanted = ids.map(String);
    const owned = await this.registry.owned(wanted, this.tenantId);
    const foreign = wanted.find((id) => !owned.has(id));
    if (foreign !== undefined) {
      throw new ForbiddenError(`${argument}: ${JSON.stringify(foreign)} is not a source of your tenant`, { argument, sourceId: foreign });
    }
    for (const id of wanted) this.touched.add(id);
    return wanted;
  }

  /**
   * `sources`, for an operation on readings and what is made of them: an instrument among them is refused by name,
   * since it sends trades, never a reading, and a filter on it would match nothing, ever.
   */
  async readingSources(ids: readonly (string | number)[] | null | undefined, argument = 'sourceIds'): Promise<string[] | null> {
    const wanted = await this.sources(ids, argument);
    const [instrument] = wanted ? await this.registry.instrumentsAmong(wanted) : [];
    if (instrument !== undefined) {
      throw new ValidationError(`${argument}: ${JSON.stringify(instrument)} is an instrument: it sends trades, never readings (its prices are candles)`, { argument, sourceId: instrument });
    }
    return wanted;
  }

  /** Checks one source (e.g. of an alert found by id); throws FORBIDDEN if it is not the tenant's. */
  async source(id: string, argument: string): Promise<void> {
    await this.sources([id], argument);
  }

  /** Synchronous check for live filters: true only for a source this node knows to be the tenant's. */
  owns(id: string): boolean {
    return this.registry.ownerOf(id) === this.tenantId;
  }

  /** Makes `owns` answer for these ids (looks up the ones this node has not seen). */
  learn(ids: Iterable<string>): Promise<unknown> {
    return this.registry.owned(ids, this.tenantId);
  }
}
