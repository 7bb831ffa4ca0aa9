import { DEFAULT_TENANT, type Role } from '../db/schema.js';

/** Who is calling: the tenant whose data the request may touch, with what role, through which key. */
export interface Principal {
  tenantId: string;
  role: Role;
  /** The API key's id; null when the server runs open (AUTH=off). */
  keyId: string | null;
  /** When the key stops working; enforced on open connections too. */
  expiresAt: Date | null;
  /** For logs, dead letters and the audit log: key id (or the client's own name when open) @ client address. Never the secret. */
  label: string;
  /** The client's address: the rate limit's key when there is no API key. */
  address: string;
}

/** The principal of every request when AUTH=off: an admin of the default tenant. */
export function openPrincipal(address: string, clientId?: string | null): Principal {
  const who = clientId ? clientId.slice(0, 64) : 'anonymous';
  return { tenantId: DEFAULT_TENANT, role: 'admin', keyId: null, expiresAt: null, label: `${who}@${address}`, address };
}

/** Whose limits an operation or connection counts against: its API key, or on an open server its client's address. */
export function limitHolder(principal: Principal): string {
  return principal.keyId ?? `open:${principal.address}`;
}
