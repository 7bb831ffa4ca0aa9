import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * What keeps a web page elsewhere from using this server through a visitor's browser. HTTP answers carry no
 * CORS headers, so a page may not read them, and only JSON posts are taken (no form posts). Two holes remain:
 * - a WebSocket is not under CORS: a page anywhere may open one to 127.0.0.1:4000, and the browser says only
 *   where the page came from (`Origin`);
 * - DNS rebinding: a page's own name made to resolve to 127.0.0.1 is same-origin to the browser, and only the
 *   `Host` header shows the name it used. Without keys (AUTH off), that page would be an admin.
 */
export interface BrowserGuard {
  /** Origins besides the server's own whose pages may open WebSockets (ALLOWED_ORIGINS: a proxy's public one). */
  origins: ReadonlySet<string>;
  /** Host names besides IP addresses and localhost that an open server answers to (ALLOWED_HOSTS). */
  hosts: ReadonlySet<string>;
  /** Whether keys are required: with them, a page elsewhere has none to use, and the Host is not checked. */
  keysRequired: boolean;
}

export interface Refusal {
  code: 'HOST_NOT_ALLOWED' | 'ORIGIN_NOT_ALLOWED';
  message: string;
}

/** Why a request (`websocket`: an upgrade) is refused, or null to take it. */
export function browserRefusal(req: IncomingMessage, guard: BrowserGuard, websocket: boolean): Refusal | null {
  const host = foreignHost(req, guard);
  if (host !== null) return { code: 'HOST_NOT_ALLOWED', message: host };
  const origin = websocket ? foreignOrigin(req, guard) : null;
  return origin === null ? null : { code: 'ORIGIN_NOT_ALLOWED', message: origin };
}

/** Why a WebSocket upgrade from a browser is refused, or null: one from another origin than the server's. */
function foreignOrigin(req: IncomingMessage, guard: BrowserGuard): string | null {
  const origin = req.headers.origin;
  // Programs other than browsers send none.
  if (origin === undefined) return null;
  if (guard.origins.has(origin.toLowerCase())) return null;
  if (sameHost(req.headers.host, origin)) return null;
  return `a WebSocket from a page of ${JSON.stringify(origin)} is refused: only pages of this server's own origin may open one (add the origin to ALLOWED_ORIGINS to allow it)`;
}

/** Why a request to an open server is refused, or null: one naming a host other than an IP address, localhost or ALLOWED_HOSTS. */
function foreignHost(req: IncomingMessage, guard: BrowserGuard): string | null {
  if (guard.keysRequired) return null;
  const host = req.headers.host;
  const name = host === undefined ? null : hostName(host);
  if (name !== null && (isIP(name.replace(/^\[|\]$/g, '')) !== 0 || name === 'localhost' || name.endsWith('.localhost') || guard.hosts.has(name))) return null;
  return `this server runs without API keys (AUTH off) and answers only to IP addresses, localhost and ALLOWED_HOSTS, not to the host ${JSON.stringify(host ?? '')}: add it to ALLOWED_HOSTS, or set AUTH=on`;
}

/**
 * Whether a page of `origin` is of the server the Host header names: the same name, and the same port where the
 * Host names one. The scheme and a default port are left out: behind a proxy that ends TLS and passes the Host
 * through, the page is https://vigil.example while this server itself speaks plain HTTP.
 */
function sameHost(host: string | undefined, origin: string): boolean {
  const page = parsed(origin);
  const own = host === undefined ? null : parsed(`http://${host}`);
  if (own === null || (page?.protocol !== 'http:' && page?.protocol !== 'https:')) return false;
  if (withoutDot(page.hostname) !== withoutDot(own.hostname)) return false;
  return own.port === '' || own.port === (page.port || (page.protocol === 'https:' ? '443' : '80'));
}

/** A Host header's name, lower-case, without the root's trailing dot (an IPv6 address in brackets); null if it is not one. */
function hostName(host: string): string | null {
  const name = parsed(`http://${host}`)?.hostname;
  return name === undefined ? null : withoutDot(name);
}

/** `vigil.internal.` is `vigil.internal`: the fully qualified spelling of the same name. */
export function withoutDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function parsed(text: string): URL | null {
  return URL.canParse(text) ? new URL(text) : null;
}
