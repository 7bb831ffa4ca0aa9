import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { runKeys } from '../src/keys-cli.js';
import { startTestApp } from './support/app.js';
import { gql } from './support/keyed-client.js';

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-keys-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `npm run keys -- …` as an operator runs it, on the embedded database (the server is not running). */
function keys(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', ...args], {
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

/** As keys(), its stdout's reader gone at once, as `npm run keys -- … | head -1` leaves it once head has its line. */
async function keysStdoutClosed(...args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', ...args], {
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
  return { code, err };
}

/**
 * `count` runs of `npm run keys -- list` on `dir` started at once: each lists, or is refused by name because another
 * has the database open; at least one lists.
 */
async function keysListAtOnce(dir: string, count: number) {
  const runs = await Promise.all(
    Array.from({ length: count }, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'list'], {
        env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dir, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      return { code, err };
    }),
  );
  for (const run of runs) if (run.code !== 0) expect(run, run.err).toMatchObject({ code: 1, err: expect.stringContaining('is in use by another process') });
  expect(runs.some((run) => run.code === 0)).toBe(true);
}

/**
 * `check` with `runKeys` in this process (a process each costs seconds) on the embedded database in `dir`, with what
 * it prints captured.
 */
async function inProcess(dir: string, check: (printed: { out: MockInstance<typeof console.log>; err: MockInstance<typeof console.error> }) => Promise<void>) {
  const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  vi.stubEnv('DATABASE_URL', '');
  vi.stubEnv('DATA_DIR', dir);
  try {
    await check({ out, err });
  } finally {
    vi.unstubAllEnvs();
    out.mockRestore();
    err.mockRestore();
  }
}

const embedded = { name: 'embedded', database: 'pglite' as const, pubsub: 'memory' as const };

describe('npm run keys', () => {
  it('creates a tenant and a key shown once, lists it, and revokes it so the server refuses it', async () => {
    const created = keys('create', '--tenant', 'st-marys', '--role', 'admin', '--name', 'ward ops', '--tenant-name', "St Mary's", '--expires-in', '30d');
    expect(created.code, created.err).toBe(0);
    const summary = JSON.parse(created.out.split('\n')[0]!);
    expect(summary).toMatchObject({ tenant: 'st-marys', role: 'admin', name: 'ward ops', expiresAt: expect.any(String) });
    const [key, secret] = created.out.match(/vgl_[a-z2-7]{12}_([A-Za-z0-9_-]{43})/)!;
    expect(created.out).toContain('This is the only time the key is shown');
    // A new tenant is said to be one, on stderr: a mistyped --tenant made an empty tenant without a word.
    expect(created.err).toContain('tenant "st-marys" did not exist: created it. If you meant one of "default", revoke this key');
    const typo = keys('create', '--tenant', 'st-mary', '--role', 'ingest', '--name', 'monitors');
    expect(typo.code, typo.err).toBe(0);
    const typoId = JSON.parse(typo.out.split('\n')[0]!).id as string;
    expect(typo.err).toContain(`tenant "st-mary" did not exist: created it. If you meant one of "default", "st-marys", revoke this key (npm run keys -- revoke ${typoId}) and create it there.`);
    const again = keys('create', '--tenant', 'st-marys', '--role', 'read', '--name', 'wall');
    expect(again.code, again.err).toBe(0);
    expect(again.err).not.toContain('did not exist');

    const listed = keys('list', '--tenant', 'st-marys');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`"id":"${summary.id}"`);
    // The whole secret: base64url may hold '_', so splitting the key on it could leave a character or two.
    expect(listed.out).not.toContain(secret);

    let app = await startTestApp(embedded, { dataDir, env: { AUTH: 'on' } });
    const accepted = await gql(`${app.url}/graphql`)(key, 'mutation { registerSources(sources: [{ id: "sm-bed-1", kind: PATIENT, name: "Bed 1" }]) { id } }');
    expect(accepted.body).toEqual({ data: { registerSources: [{ id: 'sm-bed-1' }] } });
    await app.close();

    // The whole key where its id goes: refused, naming the id, without printing the secret back.
    await inProcess(dataDir, async ({ err }) => {
      expect(await runKeys(['revoke', key])).toBe(1);
      expect(await runKeys(['revoke', `Bearer ${key}\n`])).toBe(1);
      // Not a key, and long enough to hold a secret: not quoted back.
      expect(await runKeys(['revoke', `x${secret}`])).toBe(1);
      expect(err.mock.calls.flat().join('\n')).toContain(`that is a whole API key, secret included: pass its id, ${summary.id}, to revoke it`);
      expect(err.mock.calls.flat().join('\n').match(/pass its id/g)).toHaveLength(2);
      expect(err.mock.calls.flat().join('\n')).toContain('no API key with that id (an id is 12 characters of a-z and 2-7)');
      expect(err.mock.calls.flat().join('\n')).not.toContain(secret);
    });
    expect(keys('revoke', summary.id).code).toBe(0);
    app = await startTestApp(embedded, { dataDir, env: { AUTH: 'on' } });
    const refused = await gql(`${app.url}/graphql`)(key, '{ metrics { name } }');
    expect(refused.status).toBe(401);
    expect(refused.body.errors[0].message).toBe('the API key was revoked');
    await app.close();
  }, 180_000);

  it('answers --help, and refuses a key that expires at once or one kept nowhere (DATA_DIR=memory://)', async () => {
    // These return before the database opens.
    await inProcess('memory://', async ({ out, err }) => {
      expect(await runKeys(['--help'])).toBe(0);
      expect(String(out.mock.calls[0]![0])).toContain('usage: npm run keys -- <command>');
      expect(await runKeys(['create', '--tenant', 't', '--role', 'read', '--name', 'x', '--expires-in', '1ms'])).toBe(2);
      expect(String(err.mock.calls.at(-1)![0])).toContain('--expires-in must be a duration of a minute or more');
      expect(await runKeys(['create', '--tenant', 't', '--role', 'read', '--name', 'x'])).toBe(2);
      expect(String(err.mock.calls.at(-1)![0])).toContain('DATA_DIR=memory:// keeps nothing');
      expect(out.mock.calls.flat().join('\n')).not.toContain('vgl_');
    });
  });

  it('refuses to open the embedded database while the server has it, and leaves it whole', async () => {
    const app = await startTestApp(embedded, { dataDir });
    try {
      // A second process on the same files left the database unopenable for good once the server closed it.
      const listed = keys('list');
      expect(listed.code).toBe(1);
      expect(listed.err).toMatch(new RegExp(`^DATA_DIR .* is in use by another process \\(pid ${process.pid}\\): .*createApiKey`));
      expect(listed.err).not.toContain('    at ');
    } finally {
      await app.close();
    }
    const after = keys('list');
    expect(after.code, after.err).toBe(0);
    // A lock left by a process that is gone (kill -9) is taken over.
    writeFileSync(join(dataDir, 'vigil.pid'), `2147483646 ${hostname()}\n`);
    expect(keys('list').code).toBe(0);
    expect(existsSync(join(dataDir, 'vigil.pid'))).toBe(false);
    // One from another host (a container sharing the volume) cannot be checked: refused while its holder keeps
    // touching it, taken over once it has not for a minute (a container recreated under a new name).
    writeFileSync(join(dataDir, 'vigil.pid'), '7 ward-node-2\n');
    const elsewhere = keys('list');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain('is in use by another process (pid 7 on ward-node-2)');
    const longAgo = new Date(Date.now() - 120_000);
    utimesSync(join(dataDir, 'vigil.pid'), longAgo, longAgo);
    expect(keys('list').code).toBe(0);

    // Four operators at once on a lock left by a process that is gone: one takes it over and the others wait their
    // turn or are refused by name; none opens the database while another has it, and nothing is left beside it.
    writeFileSync(join(dataDir, 'vigil.pid'), `2147483646 ${hostname()}\n`);
    await keysListAtOnce(dataDir, 4);
    expect(readdirSync(dataDir).filter((entry) => entry.startsWith('vigil.pid'))).toEqual([]);
    const whole = keys('list');
    expect(whole.code, whole.err).toBe(0);
  }, 120_000);

  it('takes over a lock whose pid now belongs to a process that started after the lock was last touched', async () => {
    // After a reboot (or long after a kill -9) the pid in vigil.pid is some other process's: the holder touches its
    // lock every 10 s from when it starts, so a process younger than the lock's last touch cannot be the holder.
    const reused = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await sleep(3_000);
      const lock = join(dataDir, 'vigil.pid');
      writeFileSync(lock, `${reused.pid} ${hostname()}\n`);
      const beforeBoot = new Date(Date.now() - 3_600_000);
      utimesSync(lock, beforeBoot, beforeBoot);
      const taken = keys('list');
      expect(taken.code, taken.err).toBe(0);
      expect(existsSync(lock)).toBe(false);
      // Touched since that process started, the lock may be its own: refused as before.
      writeFileSync(lock, `${reused.pid} ${hostname()}\n`);
      const held = keys('list');
      expect(held.code).toBe(1);
      expect(held.err).toContain(`is in use by another process (pid ${reused.pid})`);
      rmSync(lock);
    } finally {
      reused.kill();
    }
  }, 120_000);

  it('refuses a new DATA_DIR while another process creates the database in it, and leaves it to that process', async () => {
    // The lock is taken in DATA_DIR before the database is made (in a subdirectory of it): here held by a live
    // process that is not this one.
    const fresh = join(dataDir, 'fresh');
    mkdirSync(fresh);
    const lock = join(fresh, 'vigil.pid');
    writeFileSync(lock, `${process.ppid} ${hostname()}\n`);
    await inProcess(fresh, async () => {
      await expect(runKeys(['list'])).rejects.toThrow(new RegExp(`^DATA_DIR .*fresh is in use by another process \\(pid ${process.ppid}\\)`));
    });
    expect(readdirSync(fresh)).toEqual(['vigil.pid']);
    rmSync(lock);
    await inProcess(fresh, async () => expect(await runKeys(['list'])).toBe(0));
    expect(existsSync(join(fresh, 'PG_VERSION'))).toBe(true);
    expect(existsSync(lock)).toBe(false);

    // Three operators at once on another new directory: each creates the database or is refused by name, and the
    // database opens afterwards (before the lock came first, the others failed with PGlite's "Aborted()").
    const racing = join(dataDir, 'racing');
    await keysListAtOnce(racing, 3);
    await inProcess(racing, async () => expect(await runKeys(['list'])).toBe(0));
  }, 120_000);

  it('creates the database again where the process creating it was killed before it was whole, and touches nothing else in DATA_DIR', async () => {
    /** `keys` on `dir` as an operator runs it, warnings shown. */
    const keysIn = (dir: string, ...args: string[]) => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', ...args], {
        env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dir, LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { code: run.status, printed: run.stdout + run.stderr };
    };

    // Killed (SIGKILL, as an orchestrator ends a slow first start) once initdb has begun writing. Before, the
    // half-made database was DATA_DIR itself, and every open after failed with PGlite's bare "Aborted()".
    const killed = join(dataDir, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'list'], {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: killed, LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    const closed = new Promise((resolve) => child.once('close', resolve));
    const begun = join(killed, '.vigil-creating', 'PG_VERSION');
    for (const until = Date.now() + 60_000; !existsSync(begun) && Date.now() < until; ) await sleep(5);
    expect(existsSync(begun), 'initdb began').toBe(true);
    child.kill('SIGKILL');
    await closed;
    expect(existsSync(join(killed, 'PG_VERSION'))).toBe(false);
    const recovered = keysIn(killed, 'create', '--tenant', 'st-marys', '--role', 'read', '--name', 'after the kill');
    expect(recovered, recovered.printed).toMatchObject({ code: 0, printed: expect.stringContaining('the embedded database in DATA_DIR was never finished') });
    const listed = keysIn(killed, 'list');
    expect(listed, listed.printed).toMatchObject({ code: 0, printed: expect.stringContaining('after the kill') });
    expect(listed.printed).not.toContain('never finished');
    expect(readdirSync(killed).filter((entry) => entry.startsWith('.vigil'))).toEqual([]);

    // Killed after the database was whole, while its files were moved into place: the move is finished.
    const moving = join(dataDir, 'moving');
    mkdirSync(join(moving, '.vigil-created'), { recursive: true });
    cpSync(killed, join(moving, '.vigil-created'), { recursive: true });
    for (const entry of ['base', 'global', 'pg_wal']) renameSync(join(moving, '.vigil-created', entry), join(moving, entry));
    const moved = keysIn(moving, 'list');
    expect(moved, moved.printed).toMatchObject({ code: 0, printed: expect.stringContaining('moving the rest') });
    expect(moved.printed).toContain('after the kill');
    expect(existsSync(join(moving, '.vigil-created'))).toBe(false);

    // A database put in place by hand (a backup restored after \`rm -rf data/*\`, which leaves dot files): what a
    // creation left beside it is removed, and the database is kept.
    mkdirSync(join(killed, '.vigil-creating'));
    writeFileSync(join(killed, '.vigil-creating', 'PG_VERSION'), '16\n');
    const restored = keysIn(killed, 'list');
    expect(restored, restored.printed).toMatchObject({ code: 0, printed: expect.stringContaining('after the kill') });
    expect(existsSync(join(killed, '.vigil-creating'))).toBe(false);

    // A directory with files of its own and no database is refused by name before anything is written in it (PGlite's
    // initdb said only "Program terminated with exit(1)"), and its files are left as they are.
    const shared = join(dataDir, 'shared');
    mkdirSync(shared);
    writeFileSync(join(shared, 'notes.txt'), 'ward notes');
    const refused = keysIn(shared, 'list');
    expect(refused).toEqual({
      code: 1,
      printed: `DATA_DIR ${shared} holds no embedded database and is not empty (notes.txt): set DATA_DIR to an empty or new directory\n`,
    });
    expect(readdirSync(shared)).toEqual(['notes.txt']);
    expect(readFileSync(join(shared, 'notes.txt'), 'utf8')).toBe('ward notes');
  }, 120_000);

  it('explains what is missing or wrong, before opening the database when the arguments alone show it', async () => {
    // Never created: these are refused before the database opens (as they must be while a server holds it).
    const unopened = join(dataDir, 'never-opened');
    await inProcess(unopened, async ({ err }) => {
      const refusal = async (...args: string[]) => {
        err.mockClear();
        const code = await runKeys(args);
        return { code, err: err.mock.calls.flat().join('\n') };
      };
      expect((await refusal('create', '--tenant', 'st-marys')).err).toContain('create needs --tenant, --role and --name');
      const badRole = await refusal('create', '--tenant', 'st-marys', '--role', 'root', '--name', 'x');
      expect(badRole).toMatchObject({ code: 2, err: expect.stringContaining('role must be one of ingest, read, analyst, admin, got "root"') });
      expect(await refusal('frobnicate')).toMatchObject({ code: 2, err: expect.stringMatching(/^unknown command "frobnicate": choose create, revoke or list\nusage:/) });
      expect((await refusal('create', '--tenant', 'St Marys', '--role', 'read', '--name', 'x')).err).toContain('tenant must be 1-63 of a-z');
      expect((await refusal('create', '--tenant', 'st-marys', '--role', 'read', '--name', 'x', '--expires-in', 'soon')).err).toContain(
        '--expires-in must be a duration of a minute or more, such as 30d or 12h, got "soon"',
      );
      // A date past the last one JavaScript can hold: refused by name, before any tenant is created.
      const endless = await refusal('create', '--tenant', 'st-marys', '--role', 'read', '--name', 'x', '--expires-in', '100000000d');
      expect(endless).toMatchObject({ code: 2, err: expect.stringContaining('expiresAt is past the last date a key can have') });
      expect(endless.err).not.toContain('    at ');
      expect((await refusal('revoke')).err).toContain('revoke needs a key id');
    });

    expect(existsSync(unopened)).toBe(false);
    expect(keys('revoke', 'nosuchkey').err).toContain('no API key "nosuchkey"');
    expect(keys('list', '--tenant', 'nobody')).toMatchObject({ code: 0, out: '', err: expect.stringContaining('no unrevoked keys of tenant "nobody"') });
    // A mistyped flag names the flag and where help is, with no stack trace.
    const typo = keys('create', '--tennant', 'st-marys');
    expect(typo.code).toBe(2);
    expect(typo.err).toContain("Unknown option '--tennant'");
    expect(typo.err).toContain('npm run keys -- --help');
    expect(typo.err).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('prints only its output on stdout, logs on stderr, and closes the database when its reader goes early', async () => {
    // stdout closed before the first line: the key is made, the operator told on stderr, the database closed (no lock left).
    const created = await keysStdoutClosed('create', '--tenant', 'st-marys', '--role', 'read', '--name', 'piped');
    expect(created.code, created.err).toBe(0);
    expect(created.err).not.toContain('EPIPE');
    const id = created.err.match(/stdout was closed before all of the output was written: key ([a-z2-7]{12}) was created; if its key was not seen, revoke it/)?.[1];
    expect(id, created.err).toBeDefined();
    expect(existsSync(join(dataDir, 'vigil.pid'))).toBe(false);
    const listedEarly = await keysStdoutClosed('list');
    expect(listedEarly).toEqual({ code: 0, err: '' });
    expect(existsSync(join(dataDir, 'vigil.pid'))).toBe(false);

    // LOG_LEVEL=info in the environment: its lines on stderr, every line of stdout a key.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'list', '--tenant', 'st-marys'], {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((row) => row.id)).toContain(id);
    for (const row of rows) expect(Object.keys(row)).toEqual(['id', 'tenant', 'role', 'name', 'createdAt', 'expiresAt', 'revokedAt']);
    expect(run.stderr).toContain('"msg":"database ready');
  }, 120_000);
});
