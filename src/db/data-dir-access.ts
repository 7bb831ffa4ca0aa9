import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Entries looked at before giving up: a database's DATA_DIR holds about a thousand files. */
const MAX_ENTRIES = 20_000;

/**
 * Why this process cannot write the embedded database in `dataDir`, naming the first file or directory in it that
 * it may not write and who owns it; null when it may write them all. PGlite fails on such a file with a bare "Aborted(). Build with -sASSERTIONS for more
 * info.": the usual cause is a DATA_DIR made by one user (a first `npm start` as root) and opened by another (the
 * service's user), which nothing in that message points to.
 */
export function unwritableProblem(dataDir: string): string | null {
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
  return null;
}
