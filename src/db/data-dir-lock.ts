import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

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
  return lockFile(join(dataDir, LOCK_FILE), dataDir);
}

/** Creates `file` naming this process, taking over one whose holder is gone; keeps it fresh until released (once). */
function lockFile(file: string, dataDir: string): () => void {
  const key = resolve(file);
  const mine = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) throw error;
      let holder: { pid: number; host: string | undefined; content: string };
      try {
        const content = readFileSync(file, 'utf8');
        const [pid, host] = content.trim().split(' ');
        holder = { pid: Number.parseInt(pid ?? '', 10), host, content };
      } catch (readError) {
        // Gone between the two calls: its holder released it, or another process took it over; try again.
        if ((readError as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw readError;
      }
      // Another host's pid (a container sharing the volume) cannot be checked from here, but its holder touches the
      // file while it holds it: one untouched for a while is a container that is gone (a recreated one has a new name).
      const elsewhere = holder.host !== undefined && holder.host !== hostname();
      const alive = elsewhere
        ? Date.now() - modifiedAt(file) < STALE_AFTER_MS
        : Number.isSafeInteger(holder.pid) && holder.pid !== process.pid && isRunning(holder.pid) && !startedAfter(holder.pid, modifiedAt(file));
      if (alive) {
        throw new DataDirError(
          `DATA_DIR ${dataDir} is in use by another process (pid ${holder.pid}${elsewhere ? ` on ${holder.host}` : ''}): the embedded database takes one process at a time. ` +
            `Stop that process first. If no such process runs, delete ${file}.`,
        );
      }
      // Moved aside in one step, then checked: another process may have taken it over since it was read, and a check
      // before an unlink left a moment in which its fresh lock went instead, and both held the database. A fresh
      // lock moved aside is put back (unless a third process has made one meanwhile).
      const aside = `${file}.${randomBytes(6).toString('hex')}.stale`;
      try {
        renameSync(file, aside);
      } catch (renameError) {
        if ((renameError as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw renameError;
      }
      try {
        if (readFileSync(aside, 'utf8') !== holder.content) linkSync(aside, file);
      } catch (linkError) {
        if ((linkError as NodeJS.ErrnoException).code !== 'EEXIST') throw linkError;
      } finally {
        unlinkSync(aside);
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
  return () => {
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
}

/** DATA_DIR cannot be opened for a reason the operator resolves (another process has it, it holds other files): said without a stack. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

/** Kernel clock ticks per second in /proc/<pid>/stat (USER_HZ: 100 on every architecture Linux runs Node on). */
const CLOCK_TICKS_PER_SECOND = 100;
/** Boot time and start time are whole seconds and ticks: a process this close after the lock's last touch is not judged. */
const START_SLACK_MS = 2_000;

/**
 * Whether process `pid` started after `at` (ms since the epoch), read from /proc (Linux); false where that cannot
 * be read. A holder writes its lock after it starts and touches it every TOUCH_EVERY_MS, so a process that started
 * after the lock was last touched is not its holder but a later one given the same pid: after a reboot (a power
 * cut, the host patched) pids start again from low numbers, and a lock left by a process that was killed names
 * one that an unrelated process (or a second vigil) may have by then. Such a lock was refused as held, and the
 * server would not start until someone deleted it.
 */
function startedAfter(pid: number, at: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or parentheses: fields are counted after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return false;
    return bootSeconds * 1000 + (startTicks / CLOCK_TICKS_PER_SECOND) * 1000 > at + START_SLACK_MS;
  } catch {
    return false;
  }
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
