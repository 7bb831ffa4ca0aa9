import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/** In DATA_DIR while a process has the embedded database open: that process's pid and host name. */
export const LOCK_FILE = 'vigil.pid';

/** How often a holder touches its lock file, and how long another host's lock may go untouched before it is stale. */
const TOUCH_EVERY_MS = 10_000;
const STALE_AFTER_MS = 60_000;

function modifiedAt(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Lock files this process holds. A lock file naming this pid is another's: a container's process often gets the same pid after a restart. */
const held = new Set<string>();

/**
 * Claims `dataDir` for this process, or throws naming the process that has it. PGlite keeps no lock of its own,
 * and a second process on the same files (`npm run keys` beside a running server, a second `npm start`) left
 * the database unopenable for good once the first one closed ("Aborted()"). A lock whose process is gone (a
 * crash, a kill -9) is taken over. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  if (held.has(resolve(dataDir, LOCK_FILE))) throw new Error(`DATA_DIR ${dataDir} is already open in this process`);
  return lockFile(join(dataDir, LOCK_FILE), dataDir).release;
}

/** What claimDataDir found and holds. */
export interface DataDirClaim {
  release(): void;
  /**
   * The pid of a process that began creating the database in this then-empty DATA_DIR and stopped before the
   * database was whole (a kill, an orchestrator's restart of a slow first start): its claim was left behind, and
   * no lock was ever taken in DATA_DIR. Everything in DATA_DIR is that creation's.
   */
  interruptedCreation?: number;
}

/** Marks a claim taken on an empty DATA_DIR, whose database is about to be created in it. */
const CREATING = 'creating';

/**
 * Claims `dataDir` while it is opened, before lockDataDir can be taken: the embedded database is created in an
 * empty directory (so no lock can be in it yet), and initdb writes PG_VERSION long before the database is whole.
 * Two processes starting on the same new DATA_DIR (a second `npm start`, `npm run keys` while the first server
 * starts) both created a database in it, or one opened the other's half-made one, and left it unopenable. The
 * claim sits beside DATA_DIR, `.<name>.vigil-init.pid` in its parent; where the parent is read-only (a volume's
 * mount point), in the system's temporary directory, which only processes on this host with the same one share.
 * A claim on an empty DATA_DIR says so, so that the process after one killed while creating the database knows
 * the half-made files are that creation's (PGlite fails on them with a bare "Aborted()" for good).
 * The caller takes lockDataDir once the database exists, then releases this.
 */
export function claimDataDir(dataDir: string): DataDirClaim {
  const full = resolve(dataDir);
  const parent = dirname(full);
  let writable = true;
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    writable = false;
  }
  const file = writable ? join(parent, `.${basename(full) || 'root'}.vigil-init.pid`) : join(tmpdir(), `vigil-init-${createHash('sha256').update(full).digest('hex').slice(0, 16)}.pid`);
  // A creation interrupted before the lock was taken in DATA_DIR: the files are its own, and the database will be
  // created again, under a claim that says so in turn.
  const interruptedBy = (holder: Holder | undefined) => (holder?.state === CREATING && !existsIn(full, LOCK_FILE) ? holder.pid : undefined);
  const { release, tookOver } = lockFile(file, dataDir, (holder) => (readdirSync(full).length === 0 || interruptedBy(holder) !== undefined ? CREATING : undefined));
  const interrupted = interruptedBy(tookOver);
  return interrupted === undefined ? { release } : { release, interruptedCreation: interrupted };
}

function existsIn(dir: string, name: string): boolean {
  try {
    statSync(join(dir, name));
    return true;
  } catch {
    return false;
  }
}

interface Holder {
  pid: number;
  host: string | undefined;
  /** What the holder was doing, when it said (CREATING). */
  state: string | undefined;
  content: string;
}

/**
 * Creates `file` naming this process (and what `stateOf` says it does, given the gone holder it took over),
 * taking over one whose holder is gone; keeps it fresh until released (once). `tookOver`: that gone holder.
 */
function lockFile(file: string, dataDir: string, stateOf: (tookOver: Holder | undefined) => string | undefined = () => undefined): { release: () => void; tookOver?: Holder } {
  const key = resolve(file);
  if (held.has(key)) throw new Error(`DATA_DIR ${dataDir} is already being opened in this process`);
  let mine = '';
  let tookOver: Holder | undefined;
  for (let attempt = 0; ; attempt++) {
    const state = stateOf(tookOver);
    mine = `${process.pid} ${hostname()}${state === undefined ? '' : ` ${state}`}\n`;
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
      let holder: Holder;
      try {
        const content = readFileSync(file, 'utf8');
        const [pid, host, holderState] = content.trim().split(' ');
        holder = { pid: Number.parseInt(pid ?? '', 10), host, state: holderState, content };
      } catch (readError) {
        // Gone between the two calls: its holder released it, or another process took it over; try again.
        if ((readError as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw readError;
      }
      // Another host's pid (a container sharing the volume) cannot be checked from here, but its holder touches the
      // file while it holds it: one untouched for a while is a container that is gone (a recreated one has a new name).
      const elsewhere = holder.host !== undefined && holder.host !== hostname();
      const alive = elsewhere ? Date.now() - modifiedAt(file) < STALE_AFTER_MS : Number.isSafeInteger(holder.pid) && holder.pid !== process.pid && isRunning(holder.pid);
      if (alive) {
        throw new DataDirError(
          `DATA_DIR ${dataDir} is in use by another process (pid ${holder.pid}${elsewhere ? ` on ${holder.host}` : ''}): the embedded database takes one process at a time. ` +
            `Stop that process first, or manage keys through the running server's API (createApiKey, revokeApiKey). ` +
            `If no such process runs, delete ${file}`,
        );
      }
      try {
        // Another process may have taken it over since it was read: only the stale holder's file goes.
        if (readFileSync(file, 'utf8') === holder.content) {
          unlinkSync(file);
          tookOver = holder;
        }
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
    }
  }
  held.add(key);
  const touch = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // Gone (deleted by hand): nothing to keep fresh.
    }
  }, TOUCH_EVERY_MS);
  touch.unref();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(touch);
    held.delete(key);
    try {
      if (readFileSync(file, 'utf8') === mine) unlinkSync(file);
    } catch {
      // Already gone: nothing to release.
    }
  };
  return tookOver === undefined ? { release } : { release, tookOver };
}

/** DATA_DIR cannot be opened for a reason the operator resolves (another process has it, it holds other files): said without a stack. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
