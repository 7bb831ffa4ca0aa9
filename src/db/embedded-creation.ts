import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { DataDirError, LOCK_FILE } from './data-dir-lock.js';

/**
 * A new embedded database is made in CREATING, a subdirectory of DATA_DIR; once PGlite has created it and closed
 * it, CREATING is renamed CREATED (the database in it is whole), and its files are moved up into DATA_DIR,
 * PG_VERSION last. Made in DATA_DIR itself (initdb needs an empty directory, and writes PG_VERSION long before the
 * database is whole), a creation killed halfway (a slow first start ended by an orchestrator) left a database
 * that every later open failed on with PGlite's bare "Aborted()", and nothing told its files from a real
 * database's. Under these names there is only ever a creation's work, so what an interrupted one left is removed
 * or finished by name, and nothing else in DATA_DIR is touched.
 */
const CREATING = '.vigil-creating';
const CREATED = '.vigil-created';
const VERSION_FILE = 'PG_VERSION';

/**
 * Makes sure `dataDir` (locked by the caller, lockDataDir) holds a whole embedded database: when it holds none,
 * `create(dir)` makes one in an empty `dir` (opens PGlite there and closes it). A DATA_DIR with other files in
 * it and no database is refused by name (PGlite's initdb said only "Program terminated with exit(1)").
 */
export async function ensureEmbeddedDatabase(dataDir: string, create: (dir: string) => Promise<void>, log: Logger): Promise<void> {
  const creating = join(dataDir, CREATING);
  const created = join(dataDir, CREATED);
  if (existsSync(join(dataDir, VERSION_FILE))) {
    // Whole (PG_VERSION comes last): anything under the creation's names beside it is left over.
    for (const leftover of [creating, created]) rmSync(leftover, { recursive: true, force: true });
    return;
  }
  if (existsSync(creating)) {
    log.warn({ dataDir }, 'the embedded database in DATA_DIR was never finished: the process creating it stopped first; it held no data, and is created again');
    rmSync(creating, { recursive: true, force: true });
  }
  if (!existsSync(created)) {
    // The lock, and what a takeover of a stale one moves aside for a moment (data-dir-lock.ts).
    const others = readdirSync(dataDir).filter((entry) => !entry.startsWith(LOCK_FILE));
    if (others.length > 0) {
      const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? `, and ${others.length - 3} more` : '');
      throw new DataDirError(`DATA_DIR ${dataDir} holds no embedded database and is not empty (${shown}): set DATA_DIR to an empty or new directory`);
    }
    mkdirSync(creating);
    await create(creating);
    renameSync(creating, created);
  } else {
    log.warn({ dataDir }, 'the embedded database in DATA_DIR was created whole, but its process stopped while moving it into place; moving the rest');
  }
  // Files an interrupted move left in DATA_DIR are already in place; the rest follow, PG_VERSION last.
  const rest = readdirSync(created).sort((a, b) => Number(a === VERSION_FILE) - Number(b === VERSION_FILE));
  for (const entry of rest) renameSync(join(created, entry), join(dataDir, entry));
  rmSync(created, { recursive: true, force: true });
}
