import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The dashboard build (dist/web) is never committed: `npm start` (prestart)
 * and the browser tests call this to build it when it is missing or older
 * than its sources. `--force` always builds.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const INPUTS = ['web/index.html', 'web/vite.config.ts', 'web/src', 'package-lock.json'];
const OUTPUT = join(root, 'dist/web/index.html');

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

export function buildWeb() {
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(root, 'web/vite.config.ts'), '--logLevel', 'warn'], {
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
  if (process.argv.includes('--force')) buildWeb();
  else if (ensureWebBuilt()) console.log('dashboard built into dist/web');
}
