import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `vgl_<id>_<secret>`: the id (12 base32 characters) is
 * public and names the key in logs, the audit log and revocation; the secret
 * (32 random bytes, base64url) is shown once and stored only as its SHA-256.
 */
const KEY_BODY = 'vgl_([a-z2-7]{12})_([A-Za-z0-9_-]{43})';
const KEY_PATTERN = new RegExp(`^${KEY_BODY}$`);
const KEY_INSIDE = new RegExp(KEY_BODY);
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface NewKey {
  id: string;
  /** The whole key to hand to the client; never stored. */
  key: string;
  secretHash: string;
}

export function generateKey(): NewKey {
  const id = [...randomBytes(12)].map((b) => BASE32[b & 31]).join('');
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `vgl_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Splits a presented key; undefined when it is not shaped like one of ours. */
export function parseKey(key: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** A key found anywhere in `text` (pasted with "Bearer " before it, or a newline after); undefined when none is. */
export function findKey(text: string): { id: string; secret: string } | undefined {
  const match = KEY_INSIDE.exec(text);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
