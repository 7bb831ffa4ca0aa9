import type { Db } from '../db/client.js';
import { ensureTenant, insertApiKey, revokeApiKey, tenantExists, type ApiKeyRow } from '../db/api-keys.js';
import { ROLES, type Role } from '../db/schema.js';
import { ValidationError } from '../errors.js';
import { findKey, generateKey } from './api-keys.js';
import { displayTextProblem } from '../display-text.js';

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface KeyRequest {
  tenantId: string;
  role: string;
  name: string;
  expiresAt: Date | null;
  /** Who asked: a key id, or "cli:<user>". */
  createdBy: string;
}

/** Throws ValidationError naming what is wrong with `request`; what needs no database (the CLI checks before opening it). */
export function validateKeyRequest(request: KeyRequest): void {
  if (!(ROLES as readonly string[]).includes(request.role)) {
    throw new ValidationError(`role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(request.role)}`, { argument: 'role' });
  }
  const nameProblem = displayTextProblem('name', request.name, 200);
  if (nameProblem) throw new ValidationError(nameProblem, { argument: 'name' });
  // NaN (a date past the year 275760, from --expires-in 100000000d) compares false both ways: refuse it by name.
  const expires = request.expiresAt?.getTime();
  if (expires !== undefined && !(expires > Date.now())) {
    throw new ValidationError(Number.isNaN(expires) ? 'expiresAt is past the last date a key can have' : 'expiresAt must be in the future', { argument: 'expiresAt' });
  }
  if (!TENANT_ID_PATTERN.test(request.tenantId)) {
    throw new ValidationError(`tenant must be 1-63 of a-z, 0-9, "_", "-", starting with a letter or digit; got ${JSON.stringify(request.tenantId)}`, { argument: 'tenant' });
  }
}

/**
 * Creates a key; the returned `key` is the only copy of the secret there will ever be. With `createTenant` (its
 * name, or '' for the id), a tenant that does not exist is created: `tenantCreated` says it was.
 */
export async function createApiKey(
  db: Db,
  request: KeyRequest,
  options: { createTenant?: string } = {},
): Promise<{ key: string; row: ApiKeyRow; tenantCreated: boolean }> {
  validateKeyRequest(request);
  const name = request.name.trim();
  let tenantCreated = false;
  if (options.createTenant !== undefined) tenantCreated = await ensureTenant(db, request.tenantId, options.createTenant || request.tenantId);
  else if (!(await tenantExists(db, request.tenantId))) throw new ValidationError(`no tenant ${JSON.stringify(request.tenantId)}`, { argument: 'tenant' }, 'NOT_FOUND');
  const generated = generateKey();
  const row = await insertApiKey(db, {
    id: generated.id,
    tenantId: request.tenantId,
    role: request.role as Role,
    name,
    secretHash: generated.secretHash,
    createdBy: request.createdBy,
    expiresAt: request.expiresAt,
  });
  return { key: generated.key, row, tenantCreated };
}

/** Revokes a key of `tenantId` (null: any tenant, for the CLI). NOT_FOUND when there is no such key. */
export async function revokeKey(db: Db, id: string, tenantId: string | null): Promise<ApiKeyRow> {
  // A whole key pasted where its id goes: say which id, and never repeat the secret (a terminal, a CI log, a response).
  // Pasted with a "Bearer " in front or a newline behind, it is still the key: look for one anywhere in it.
  const whole = findKey(id);
  if (whole) {
    throw new ValidationError(`that is a whole API key, secret included: pass its id, ${whole.id}, to revoke it`, { argument: 'id' });
  }
  const row = await revokeApiKey(db, id, tenantId);
  // Quoted only when written in an id's alphabet: anything else pasted may hold part of a secret.
  if (!row) {
    const what = /^[a-z2-7]{1,12}$/.test(id) ? `no API key ${JSON.stringify(id)}` : 'no API key with that id (an id is 12 characters of a-z and 2-7)';
    throw new ValidationError(what, { argument: 'id' }, 'NOT_FOUND');
  }
  return row;
}
