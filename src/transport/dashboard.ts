import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` puts the dashboard (never committed; `npm start` builds it first). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// The page talks to its own origin only (GraphQL over fetch and graphql-ws) and may not be framed.
const HTML_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'cache-control': 'no-cache',
};

/** The API's own paths, which never fall through to the dashboard. */
const API_PATHS = new Set(['/ready', '/health', '/metrics']);

/**
 * Serves the built dashboard for GET and HEAD requests outside the API's
 * paths: a file of the build directory with its content type, else (a path
 * without an extension: a client-side route) index.html. Answers true when
 * it took the request. Paths cannot leave the build directory.
 */
export function serveDashboard(req: IncomingMessage, res: ServerResponse, root = DASHBOARD_DIR): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const pathname = new URL(req.url ?? '/', 'http://host').pathname;
  if (pathname === '/graphql' || pathname.startsWith('/graphql/') || API_PATHS.has(pathname)) return false;
  void send(req, res, root, pathname);
  return true;
}

async function send(req: IncomingMessage, res: ServerResponse, root: string, pathname: string) {
  const head = req.method === 'HEAD';
  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    return answer(res, head, 400, 'text/plain; charset=utf-8', 'bad path');
  }
  const base = resolve(root);
  const file = resolve(join(base, relative));
  if (relative.includes('\0') || (file !== base && !file.startsWith(base + sep))) {
    return answer(res, head, 404, 'text/plain; charset=utf-8', 'not found');
  }
  // Only `/` is the page: the dashboard routes by hash (#/alerts), and a catch-all page answered 200 to a
  // mistyped probe (`/ready/`, `/metrics/`), which then passed whatever the server's state.
  const target = relative === '/' ? join(base, 'index.html') : (await isFile(file)) ? file : undefined;
  if (!target) return answer(res, head, 404, 'text/plain; charset=utf-8', 'not found');
  let body: Buffer;
  try {
    body = await readFile(target);
  } catch {
    return answer(
      res,
      head,
      404,
      'text/html; charset=utf-8',
      '<!doctype html><title>Vigil</title><p>The dashboard is not built. Run <code>npm run build:web</code> (<code>npm start</code> does it when dev dependencies are installed), or use the API at <a href="/graphql">/graphql</a>.</p>',
    );
  }
  const type = TYPES[extname(target).toLowerCase()] ?? 'application/octet-stream';
  // Vite names built assets by content hash: they never change under their name.
  const caching = target.startsWith(join(base, 'assets') + sep) ? { 'cache-control': 'public, max-age=31536000, immutable' } : { 'cache-control': 'no-cache' };
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'x-content-type-options': 'nosniff',
    ...caching,
    ...(type.startsWith('text/html') ? HTML_HEADERS : {}),
  });
  res.end(head ? undefined : body);
}

async function isFile(path: string) {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function answer(res: ServerResponse, head: boolean, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
  res.end(head ? undefined : body);
}
