/**
 * `npm start`'s prestart (web/ensure-built.ts) in a production install: vite, a dev dependency, missing. It ran
 * vite anyway and stopped start with node's "Cannot find module …/vite.js" and a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// A copy of the script in a root of its own, as a checkout after `npm ci --omit=dev`: no node_modules/vite, no dist/web.
const root = mkdtempSync(join(tmpdir(), 'vigil-web-build-'));
mkdirSync(join(root, 'web'));
copyFileSync('web/ensure-built.ts', join(root, 'web/ensure-built.ts'));
writeFileSync(join(root, 'web/index.html'), '<!doctype html>');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function ensureBuilt(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'web/ensure-built.ts'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('building the dashboard without vite (npm ci --omit=dev)', () => {
  it('lets start go on with the API only, saying what to run; --force fails saying the same', () => {
    const missing = ensureBuilt();
    expect(missing.code, missing.err).toBe(0);
    expect(missing.err).toContain('the dashboard is not built, and vite is not installed (a dev dependency, which npm ci --omit=dev leaves out): the server starts with the API only');
    expect(missing.err).toContain('run npm run build:web where dev dependencies are installed');
    const forced = ensureBuilt('--force');
    expect(forced.code).toBe(1);
    expect(forced.err).toContain('cannot build the dashboard: vite is not installed');
    for (const run of [missing, forced]) {
      expect(run.err).not.toContain('Cannot find module');
      expect(run.err).not.toMatch(/\n\s+at /);
    }
  });

  it('serves a build there is, stale or not', () => {
    mkdirSync(join(root, 'dist/web'), { recursive: true });
    writeFileSync(join(root, 'dist/web/index.html'), '<!doctype html>');
    const longAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, 'dist/web/index.html'), longAgo, longAgo);
    const stale = ensureBuilt();
    expect(stale.code, stale.err).toBe(0);
    expect(stale.err).toContain("dist/web looks older than the dashboard's sources, and vite is not installed");
    utimesSync(join(root, 'web/index.html'), longAgo, new Date(longAgo.getTime() - 60_000));
    expect(ensureBuilt()).toEqual({ code: 0, out: '', err: '' });
  });
});
