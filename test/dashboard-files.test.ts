/**
 * What the server answers for paths outside the API: the dashboard's page at `/`, its built files, and 404 for
 * anything else, so a mistyped probe path (`/ready/`) fails instead of answering the page with 200.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard } from '../src/transport/dashboard.js';

describe('dashboard files', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-dashboard-'));
  let server: Server;
  let url: string;
  beforeAll(async () => {
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Vigil</title>');
    writeFileSync(join(root, 'assets', 'app-1a2b.js'), 'console.log(1)');
    server = createServer((req, res) => {
      if (!serveDashboard(req, res, root)) res.writeHead(418).end('api');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the page at / and the built files by name', async () => {
    const page = await fetch(`${url}/`);
    expect([page.status, page.headers.get('content-type'), await page.text()]).toEqual([200, 'text/html; charset=utf-8', '<!doctype html><title>Vigil</title>']);
    const asset = await fetch(`${url}/assets/app-1a2b.js`);
    expect([asset.status, asset.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
  });

  it('answers 404 for any other path, probes with a trailing slash included, and leaves the API paths to the API', async () => {
    for (const path of ['/ready/', '/health/', '/metrics/', '/alerts', '/nope.js', '/assets/', '/%2e%2e/%2e%2e/etc/passwd']) {
      const answer = await fetch(`${url}${path}`);
      expect([path, answer.status]).toEqual([path, 404]);
    }
    for (const path of ['/ready', '/health', '/metrics', '/graphql']) expect([path, (await fetch(`${url}${path}`)).status]).toEqual([path, 418]);
  });
});
