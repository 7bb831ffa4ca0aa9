import type { Db } from '../db/client.js';
import { findApiKey, usableApiKeyIds, type ApiKeyRow } from '../db/api-keys.js';
import { AppError, UnauthenticatedError } from '../errors.js';
import { hashSecret, parseKey, secretMatches } from './api-keys.js';
import { openPrincipal, type Principal } from './principal.js';
import type { Logger } from '../log.js';

/** How long a looked-up key is trusted before the database is asked again; open connections are re-checked separately. */
const CACHE_MS = 1_000;
/** How old the ids of usable keys may be when a throttled address presents an id not among them. */
const USABLE_IDS_MAX_AGE_MS = 10_000;
/** Retry-After for an address refused only for the unknown ids it has being looked up at once: they are answered within it. */
const CROWDED_RETRY_MS = 1_000;
/** At most this many usable ids are held (the newest keys'): a throttled address presenting an older one gets 429, as before. */
const USABLE_IDS_HELD = 100_000;

/**
 * The key in `Authorization: Bearer …` or `X-API-Key`, or in graphql-ws `connection_init` as `apiKey` / `authorization`.
 * An Authorization of another scheme (a proxy's `Basic` for its own login) gives way to X-API-Key: it won, and every
 * request through such a proxy was refused; without X-API-Key it is taken as sent, a key written bare there included.
 */
export function presentedKey(source: { authorization?: unknown; apiKey?: unknown; 'x-api-key'?: unknown }): string | null {
  const header = typeof source.authorization === 'string' ? source.authorization.trim() : '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (bearer) return bearer;
  for (const value of [source.apiKey, source['x-api-key']]) if (typeof value === 'string' && value.trim()) return value.trim();
  return header || null;
}

/**
 * Turns a presented key into a Principal. With auth off every caller is the
 * open principal (admin of the default tenant). Errors never say whether a
 * key id exists: unknown, wrong secret, revoked and expired differ only in
 * the last two words, which a holder of the real key already knows.
 */
export const AUTH_FAILURE_REASONS = ['missing', 'invalid', 'revoked', 'expired', 'throttled'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** A refused key is logged once per this long for the same reason, key id and address: a device retrying every second is one line a minute. */
const FAILURE_LOG_EVERY_MS = 60_000;

/**
 * Distinct invalid keys (an unknown id, or a real id with a wrong secret) one address may present within a window
 * before it may use only the ids of usable keys: each unknown id costs a query. Distinct, so that a device
 * retrying its one mistyped key, however often and however many requests at once, is never throttled by it.
 */
export const INVALID_KEYS_PER_ADDRESS = 20;
export const INVALID_KEYS_WINDOW_MS = 60_000;

/** An address past INVALID_KEYS_PER_ADDRESS: refused without a lookup, HTTP 429, until its window ends. */
export class KeyGuessingError extends AppError {
  /** The HTTP answer's headers (429). */
  readonly headers: Record<string, string>;
  constructor(retryAfterMs: number) {
    const headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1_000))) };
    super('TOO_MANY_INVALID_KEYS', `too many invalid API keys from this address; retry in ${headers['retry-after']} s`, { retryAfterMs, http: { status: 429, headers } });
    this.headers = headers;
  }
}

export class Authenticator {
  private readonly cache = new Map<string, { row: ApiKeyRow; until: number }>();
  /** Ids the database did not hold, until when that answer is trusted (as long as a found key's). */
  private readonly unknown = new Map<string, number>();
  /** Lookups running now, shared by the requests that present the same id meanwhile. */
  private readonly lookups = new Map<string, Promise<ApiKeyRow | undefined>>();
  /**
   * The ids of the keys neither revoked nor expired, as last read: a throttled address may still present them (a
   * device behind the same NAT as a guesser), and they are looked up; any other id is refused without a lookup.
   */
  private usableIds: { ids: Set<string>; readAt: number } | undefined;
  private readingIds: Promise<Set<string>> | undefined;
  /** Per address, the key ids being looked up now, and by how many of its requests. */
  private readonly lookingUp = new Map<string, Map<string, number>>();
  /** Per address, the invalid keys (their hashes) it presented in its current window. */
  private readonly guesses = new Map<string, { keys: Set<string>; windowEnds: number }>();
  /** Refusals since start by reason (vigil_auth_failures_total): a feed whose key expired or was revoked just stops. */
  readonly failures: Record<AuthFailureReason, number> = { missing: 0, invalid: 0, revoked: 0, expired: 0, throttled: 0 };
  private readonly lastLogged = new Map<string, number>();

  constructor(private readonly options: { db: Db; required: boolean; log?: Logger }) {}

  get required(): boolean {
    return this.options.required;
  }

  async authenticate(key: string | null, address: string, clientId?: string | null): Promise<Principal> {
    if (!this.options.required) return openPrincipal(address, clientId);
    if (!key) throw this.refused('missing', null, address, 'an API key is required: send it as "Authorization: Bearer <key>" (or in graphql-ws connection_init as { apiKey })');
    const parsed = parseKey(key);
    if (!parsed) throw this.refused('invalid', null, address, 'the API key is not valid');
    // Throttled, an address gets the same answer for any key that fails, and an unknown id and a wrong secret
    // count alike towards it, so it cannot tell which ids exist.
    const throttledFor = this.throttledFor(address);
    if (throttledFor > 0 && !(await this.usable(parsed.id))) throw this.throttled(address, throttledFor);
    let row: ApiKeyRow | undefined;
    const ids = this.lookingUp.get(address) ?? new Map<string, number>();
    this.lookingUp.set(address, ids);
    ids.set(parsed.id, (ids.get(parsed.id) ?? 0) + 1);
    try {
      row = await this.lookup(parsed.id);
    } catch (error) {
      // A database error (503) for a known id and 429 for any other would tell a throttled address which exist.
      if (throttledFor > 0) throw this.throttled(address, throttledFor);
      throw error;
    } finally {
      const left = ids.get(parsed.id)! - 1;
      if (left > 0) ids.set(parsed.id, left);
      else ids.delete(parsed.id);
      if (ids.size === 0 && this.lookingUp.get(address) === ids) this.lookingUp.delete(address);
    }
    if (!row || !secretMatches(parsed.secret, row.secretHash)) {
      if (throttledFor > 0) throw this.throttled(address, throttledFor);
      this.noteInvalid(address, key);
      throw this.refused('invalid', parsed.id, address, 'the API key is not valid');
    }
    if (row.revokedAt) throw this.refused('revoked', row.id, address, 'the API key was revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw this.refused('expired', row.id, address, 'the API key has expired');
    return { tenantId: row.tenantId, role: row.role, keyId: row.id, expiresAt: row.expiresAt, label: `${row.id}@${address}`, address };
  }

  /**
   * Whether `id` is among the usable keys' ids, read at most USABLE_IDS_MAX_AGE_MS before when it is not (one query
   * for every throttled request meanwhile): a key made since, or one this node never saw (it restarted), gets
   * through within seconds. While they cannot be read (the database down), the last ids read stand, and the read is
   * tried again as often.
   */
  private async usable(id: string): Promise<boolean> {
    if (this.usableIds?.ids.has(id)) return true;
    if (this.usableIds && Date.now() - this.usableIds.readAt < USABLE_IDS_MAX_AGE_MS) return false;
    this.readingIds ??= usableApiKeyIds(this.options.db, USABLE_IDS_HELD)
      .then(
        (ids) => new Set(ids),
        () => this.usableIds?.ids ?? new Set<string>(),
      )
      .then((ids) => {
        this.usableIds = { ids, readAt: Date.now() };
        this.readingIds = undefined;
        return ids;
      });
    return (await this.readingIds).has(id);
  }

  /** How long the address's lookups stay limited to usable ids (0: they are not). */
  private throttledFor(address: string): number {
    const window = this.guesses.get(address);
    let invalid = 0;
    let left = 0;
    if (window) {
      left = window.windowEnds - Date.now();
      if (left > 0) invalid = window.keys.size;
      else this.guesses.delete(address);
    }
    // Distinct ids still being looked up count too: requests sent all at once (a clean address's first burst
    // included) would otherwise each pass before any of them is known to be invalid. Distinct, so that one key sent
    // many times at once counts once; and a usable key still passes (authenticate), so a device's own burst does.
    const pending = this.lookingUp.get(address)?.size ?? 0;
    if (invalid + pending < INVALID_KEYS_PER_ADDRESS) return 0;
    return invalid > 0 ? left : CROWDED_RETRY_MS;
  }

  private noteInvalid(address: string, key: string): void {
    const now = Date.now();
    let window = this.guesses.get(address);
    if (!window || window.windowEnds <= now) window = { keys: new Set(), windowEnds: now + INVALID_KEYS_WINDOW_MS };
    // The address that presented an invalid key least recently goes first.
    setBounded(this.guesses, address, window);
    // A hash, so that no presented secret (a real key with a typo) is held.
    window.keys.add(hashSecret(key));
  }

  /** Throttled refusals are logged by address (a guesser presents a new key id each time). */
  private throttled(address: string, retryAfterMs: number): KeyGuessingError {
    this.note('throttled', null, address);
    return new KeyGuessingError(retryAfterMs);
  }

  /** Counts and logs a refusal (the key id as presented, never its secret); returns the error to throw. */
  private refused(reason: AuthFailureReason, keyId: string | null, address: string, message: string): UnauthenticatedError {
    this.note(reason, keyId, address);
    return new UnauthenticatedError(message);
  }

  private note(reason: AuthFailureReason, keyId: string | null, address: string): void {
    this.failures[reason]++;
    const { log } = this.options;
    if (log) {
      const key = `${reason}|${keyId ?? ''}|${address}`;
      const now = Date.now();
      if (now - (this.lastLogged.get(key) ?? -Infinity) >= FAILURE_LOG_EVERY_MS) {
        // Bounded: guessing from many addresses must not grow it without end.
        if (this.lastLogged.size >= 10_000) this.lastLogged.clear();
        this.lastLogged.set(key, now);
        log.warn({ reason, keyId, address }, 'API key refused (logged once a minute for the same key id, reason and address)');
      }
    }
  }

  /** Forget a key at once (revoked through this node). */
  forget(id: string): void {
    this.cache.delete(id);
    this.unknown.delete(id);
  }

  private async lookup(id: string): Promise<ApiKeyRow | undefined> {
    const now = Date.now();
    const cached = this.cache.get(id);
    if (cached && cached.until > now) return cached.row;
    if ((this.unknown.get(id) ?? 0) > now) return undefined;
    const running = this.lookups.get(id);
    if (running) return running;
    const lookup = findApiKey(this.options.db, id)
      .then((row) => {
        if (row) {
          setBounded(this.cache, id, { row, until: Date.now() + CACHE_MS });
          this.unknown.delete(id);
        } else {
          this.cache.delete(id);
          setBounded(this.unknown, id, Date.now() + CACHE_MS);
        }
        return row;
      })
      .finally(() => this.lookups.delete(id));
    this.lookups.set(id, lookup);
    return lookup;
  }
}

/**
 * Sets `key` as the newest entry of `map`, first dropping the oldest once it holds `limit`: guessing from many
 * addresses, or with many ids, must not grow the authenticator's maps without end.
 */
function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit = 10_000): void {
  map.delete(key);
  if (map.size >= limit) map.delete(map.keys().next().value!);
  map.set(key, value);
}
