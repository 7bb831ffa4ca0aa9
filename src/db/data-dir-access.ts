import { accessSync, constants, readdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Entries looked at before giving up: a database's DATA_DIR holds about a thousand files. */
const MAX_ENTRIES = 20_000;

/**
 * Free space below which a failed open names it: the embedded database writes a 16 MB WAL segment and a checkpoint
 * as it opens.
 */
export const LOW_FREE_BYTES = 64 * 1024 * 1024;

/**
 * Why this process cannot write the embedded database in `dataDir`: the first file or directory in it that it may
 * not write and who owns it, or the file system's free space when it is below `minFreeBytes`; null when neither.
 * PGlite fails on either with a bare "Aborted(). Build with -sASSERTIONS for more info.", which points to neither:
 * a DATA_DIR made by one user (a first `npm start` as root) and opened by another (the service's user), or a full disk.
 */
export function unwritableProblem(dataDir: string, minFreeBytes = LOW_FREE_BYTES): string | null {
  const pending = [dataDir];
  let seen = 0;
  while (pending.length > 0 && seen < MAX_ENTRIES) {
    const path = pending.pop()!;
    seen++;
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      // Missing (a DATA_DIR not made yet) is not this problem; a read-only file system is.
      if (!['EACCES', 'EPERM', 'EROFS'].includes(String((error as NodeJS.ErrnoException).code))) continue;
      let owner = '';
      try {
        owner = `, owned by uid ${statSync(path).uid}`;
      } catch {
        // Gone meanwhile: its name is still the clue.
      }
      const user = typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'this user';
      return `${path} is not writable by this process (${user}${owner}): run the server as the user that owns DATA_DIR, or give DATA_DIR and everything in it to this one (chown -R)`;
    }
    try {
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory() || entry.isFile()) pending.push(join(path, entry.name));
      }
    } catch {
      // A file, not a directory: nothing below it.
    }
  }
  // A full disk (the database grew, or a log beside it): restarting cannot help until space is freed.
  try {
    const { bavail, bsize } = statfsSync(dataDir);
    const free = bavail * bsize;
    if (free < minFreeBytes) return `the file system of DATA_DIR has ${(free / 1024 / 1024).toFixed(1)} MB free: free some space (or grow it), then start again`;
  } catch {
    // Not there (not made yet): the caller's own error says so.
  }
  return null;
}
