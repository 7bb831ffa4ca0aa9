import type { Db } from '../db/client.js';
import { findApiKey, type ApiKeyRow } from '../db/api-keys.js';
import { UnauthenticatedError } from '../errors.js';
import { parseKey, secretMatches } from './api-keys.js';
import { openPrincipal, type Principal } from './principal.js';

/** How long a looked-up key is trusted before the database is asked again; open connections are re-checked separately. */
const CACHE_MS = 1_000;

/** The key in `Authorization: Bearer …` or `X-API-Key`, or in graphql-ws `connection_init` as `apiKey` / `authorization`. */
export function presentedKey(source: { authorization?: unknown; apiKey?: unknown; 'x-api-key'?: unknown }): string | null {
  const header = typeof source.authorization === 'string' ? source.authorization : undefined;
  if (header) return /^Bearer\s+(.+)$/i.exec(header.trim())?.[1]?.trim() ?? header.trim();
  for (const value of [source.apiKey, source['x-api-key']]) if (typeof value === 'string' && value.trim()) return value.trim();
  return null;
}

/**
 * Turns a presented key into a Principal. With auth off every caller is the
 * open principal (admin of the default tenant). Errors never say whether a
 * key id exists: unknown, wrong secret, revoked and expired differ only in
 * the last two words, which a holder of the real key already knows.
 */
export class Authenticator {
  private readonly cache = new Map<string, { row: ApiKeyRow; until: number }>();

  constructor(private readonly options: { db: Db; required: boolean }) {}

  get required(): boolean {
    return this.options.required;
  }

  async authenticate(key: string | null, address: string, clientId?: string | null): Promise<Principal> {
    if (!this.options.required) return openPrincipal(address, clientId);
    if (!key) throw new UnauthenticatedError('an API key is required: send it as "Authorization: Bearer <key>" (or in graphql-ws connection_init as { apiKey })');
    const parsed = parseKey(key);
    if (!parsed) throw new UnauthenticatedError('the API key is not valid');
    const row = await this.lookup(parsed.id);
    if (!row || !secretMatches(parsed.secret, row.secretHash)) throw new UnauthenticatedError('the API key is not valid');
    if (row.revokedAt) throw new UnauthenticatedError('the API key was revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new UnauthenticatedError('the API key has expired');
    return { tenantId: row.tenantId, role: row.role, keyId: row.id, expiresAt: row.expiresAt, label: `${row.id}@${address}`, address };
  }

  /** Forget a key at once (revoked through this node). */
  forget(id: string): void {
    this.cache.delete(id);
  }

  private async lookup(id: string): Promise<ApiKeyRow | undefined> {
    const cached = this.cache.get(id);
    if (cached && cached.until > Date.now()) return cached.row;
    const row = await findApiKey(this.options.db, id);
    if (row) this.cache.set(id, { row, until: Date.now() + CACHE_MS });
    else this.cache.delete(id);
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return row;
  }
}
