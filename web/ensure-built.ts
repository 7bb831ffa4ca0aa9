import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The dashboard build (dist/web) is never committed: `npm start` (prestart)
 * and the browser tests call this to build it when it is missing or older
 * than its sources. `--force` always builds. Building needs vite, a dev
 * dependency: without it (`npm ci --omit=dev`) start goes on with a warning
 * saying what to run, serving the build there is, or the API alone.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const INPUTS = ['web/index.html', 'web/vite.config.ts', 'web/src', 'package-lock.json'];
const OUTPUT = join(root, 'dist/web/index.html');
const VITE = join(root, 'node_modules/vite/bin/vite.js');
const HOW = 'run npm run build:web where dev dependencies are installed (npm install or npm ci), and ship dist/web with this install';

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), stat.mtimeMs);
}

export function webBuildIsStale(): boolean {
  if (!existsSync(OUTPUT)) return true;
  const built = statSync(OUTPUT).mtimeMs;
  return INPUTS.some((input) => existsSync(join(root, input)) && newest(join(root, input)) > built);
}

/** Why the dashboard cannot be built here, if it cannot: vite is missing from a production install. */
export function cannotBuildWeb(): string | undefined {
  return existsSync(VITE) ? undefined : 'vite is not installed (a dev dependency, which npm ci --omit=dev leaves out)';
}

export function buildWeb() {
  // Otherwise node's "Cannot find module …/vite.js" and a stack trace, saying nothing of what to do.
  const why = cannotBuildWeb();
  if (why) throw new Error(`cannot build the dashboard: ${why}; ${HOW}`);
  execFileSync(process.execPath, [VITE, 'build', '--config', join(root, 'web/vite.config.ts'), '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
}

export function ensureWebBuilt(): boolean {
  if (!webBuildIsStale()) return false;
  buildWeb();
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--force');
  const why = (force || webBuildIsStale()) && cannotBuildWeb();
  if (!why) {
    if (force) buildWeb();
    else if (ensureWebBuilt()) console.log('dashboard built into dist/web');
  } else if (force) {
    console.error(`cannot build the dashboard: ${why}; ${HOW}`);
    process.exitCode = 1;
  } else if (existsSync(OUTPUT)) {
    // A production install's sources do not change; what looks newer is most likely a copy's mtime.
    console.warn(`dist/web looks older than the dashboard's sources, and ${why}: it is served as built. To rebuild it, ${HOW}`);
  } else {
    // The API needs no dashboard: start without one rather than not at all (its page says it is not built).
    console.warn(`the dashboard is not built, and ${why}: the server starts with the API only. To serve the dashboard, ${HOW}`);
  }
}
