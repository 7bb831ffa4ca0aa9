import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log.js';

/**
 * A migrated embedded data directory, made once per set of migrations (and
 * PGlite build) and shared by every test process through the temp directory.
 * A new embedded database spends about half of its ~3 s start on the
 * migrations; a copy of this one opens in ~1.5 s and starts exactly as a
 * fresh one would, with nothing in it but the schema.
 */
let template: Promise<string> | undefined;

function templateKey(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url)));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(entry.name).update(readFileSync(path));
    }
  };
  walk(MIGRATIONS_FOLDER);
  return hash.digest('hex').slice(0, 16);
}

async function build(): Promise<string> {
  const final = join(tmpdir(), `vigil-test-template-${templateKey()}`);
  if (existsSync(join(final, 'PG_VERSION'))) return final;
  const building = mkdtempSync(join(tmpdir(), 'vigil-test-template-building-'));
  const config = loadConfig({ DATA_DIR: building });
  const database = await openDatabase(config.database, createLogger('silent'));
  await database.close();
  try {
    renameSync(building, final);
  } catch (error) {
    // Another test process finished first: its copy is the same.
    if (!existsSync(join(final, 'PG_VERSION'))) throw error;
    rmSync(building, { recursive: true, force: true });
  }
  return final;
}

/**
 * Fills `dir` (which must not exist, or be empty) with a copy of the
 * migrated template, so a server opening it skips the migrations.
 */
export async function seedEmbeddedDataDir(dir: string): Promise<void> {
  template ??= build();
  cpSync(await template, dir, { recursive: true });
}

/** A new data directory seeded from the template, and how to remove it. */
export async function freshEmbeddedDataDir(): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-db-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  await seedEmbeddedDataDir(dir).catch((error: unknown) => {
    remove();
    throw error;
  });
  return { dir, remove };
}
