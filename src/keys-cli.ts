import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { createApiKey, revokeKey, validateKeyRequest, type KeyRequest } from './auth/key-admin.js';
import { loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { DataDirError } from './db/data-dir-lock.js';
import { listApiKeys, listTenantIds } from './db/api-keys.js';
import { parseDuration } from './duration.js';
import { AppError } from './errors.js';
import { createLogger, messageOf } from './log.js';

export const KEYS_USAGE = `usage: npm run keys -- <command>
  create --tenant <id> --role <ingest|read|analyst|admin> --name <text> [--tenant-name <text>] [--expires-in <duration, e.g. 90d>]
         creates the tenant if it is new; prints the key once (only its hash is stored)
  revoke <key id>
         refuses the key from now on and closes its open connections within a second
  list   [--tenant <id>] [--all]   (--all includes revoked keys)
Uses DATABASE_URL (or the embedded DATA_DIR, which only one process can open: stop the server first,
or use the createApiKey / revokeApiKey mutations with an admin key).`;

/** Set once stdout's reader has gone (EPIPE): `keys list | head -1` closes the pipe while rows are still being printed. */
let stdoutGone = false;
let watchingStdout = false;

/**
 * One line of the command's output on stdout; dropped once its reader has gone. Without a listener, that EPIPE
 * crashed the process before the database was closed (the embedded one's lock left behind).
 */
function print(line: string) {
  if (!watchingStdout) {
    watchingStdout = true;
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      stdoutGone = true;
    });
  }
  if (stdoutClosed()) return;
  console.log(line);
}

/** A failed synchronous write (a pipe's) marks the stream errored at once; its 'error' event comes a tick later. */
function stdoutClosed(): boolean {
  return stdoutGone || process.stdout.errored != null;
}

/** `vigil keys …`: API key administration from a shell, with the server's own database configuration. */
export async function runKeys(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      'tenant-name': { type: 'string' },
      'expires-in': { type: 'string' },
      all: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (command === '--help' || command === 'help' || values.help) {
    print(KEYS_USAGE);
    return 0;
  }
  if (!command || !['create', 'revoke', 'list'].includes(command)) {
    console.error(command ? `unknown command "${command}": choose create, revoke or list\n${KEYS_USAGE}` : KEYS_USAGE);
    return 2;
  }
  // Everything the arguments alone can show is checked before the database opens (the embedded one takes seconds).
  let request: KeyRequest | undefined;
  if (command === 'create') {
    if (!values.tenant || !values.role || !values.name) {
      console.error(`create needs --tenant, --role and --name\n${KEYS_USAGE}`);
      return 2;
    }
    let expiresAt: Date | null = null;
    if (values['expires-in']) {
      const ms = parseDuration(values['expires-in']);
      // Shorter than a minute, the key would be expired before anyone could use it.
      if (!ms || ms < 60_000) {
        console.error(`--expires-in must be a duration of a minute or more, such as 30d or 12h, got "${values['expires-in']}"`);
        return 2;
      }
      expiresAt = new Date(Date.now() + ms);
    }
    request = { tenantId: values.tenant, role: values.role, name: values.name, expiresAt, createdBy: `cli:${userInfo().username}` };
    try {
      validateKeyRequest(request);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      // The arguments alone are wrong, as with the checks above.
      console.error(error.message);
      return 2;
    }
  }
  if (command === 'revoke' && !positionals[0]) {
    console.error(`revoke needs a key id\n${KEYS_USAGE}`);
    return 2;
  }
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  if (config.database.driver === 'pglite' && config.database.dataDir.startsWith('memory://')) {
    console.error('DATA_DIR=memory:// keeps nothing: a key made there would be gone when this command exits. Point DATA_DIR at the server\'s data, or set DATABASE_URL');
    return 2;
  }
  // Logs on stderr: stdout is the command's output, for scripts to read.
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(config.database, createLogger(config.logLevel, { pretty: config.logPretty, stream: process.stderr }));
  } catch (error) {
    if (error instanceof DataDirError) {
      if (/in use by another process/.test(error.message)) error.message += " Meanwhile keys can be managed through the running server's API (createApiKey, revokeApiKey).";
      throw error;
    }
    // The database unreachable, refused, or DATA_DIR not writable: the message names which and what to do, as the
    // server's one fatal line does; a stack trace under it said nothing more.
    console.error(messageOf(error));
    return 1;
  }
  try {
    if (request) {
      const { key, row, tenantCreated } = await createApiKey(database.db, request, { createTenant: values['tenant-name'] ?? '' });
      print(JSON.stringify({ id: row.id, tenant: row.tenantId, role: row.role, name: row.name, expiresAt: row.expiresAt }));
      // A mistyped --tenant makes a new, empty tenant whose key sees none of the intended one's sources: said where
      // the operator sees it (stderr, so stdout stays the output), with the tenants that were there.
      if (tenantCreated) {
        const others = (await listTenantIds(database.db)).filter((id) => id !== row.tenantId);
        const shown = others.slice(0, 10).map((id) => `"${id}"`).join(', ') + (others.length > 10 ? `, and ${others.length - 10} more` : '');
        const meant = others.length > 0 ? ` If you meant one of ${shown}, revoke this key (npm run keys -- revoke ${row.id}) and create it there.` : '';
        console.error(`tenant "${row.tenantId}" did not exist: created it.${meant}`);
      }
      print(`\n${key}\n\nThis is the only time the key is shown. Send it as "Authorization: Bearer <key>".`);
      // The key exists, but only its hash is kept: say so where the operator still sees it.
      if (stdoutClosed()) {
        console.error(`stdout was closed before all of the output was written: key ${row.id} was created; if its key was not seen, revoke it (npm run keys -- revoke ${row.id}) and create another`);
      }
      return 0;
    }
    if (command === 'revoke') {
      const row = await revokeKey(database.db, positionals[0]!, null);
      print(JSON.stringify({ id: row.id, tenant: row.tenantId, revokedAt: row.revokedAt }));
      return 0;
    }
    const rows = await listApiKeys(database.db, { tenantId: values.tenant ?? null, includeRevoked: values.all ?? false, limit: 10_000 });
    for (const row of rows) {
      print(JSON.stringify({ id: row.id, tenant: row.tenantId, role: row.role, name: row.name, createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt }));
    }
    // On stderr: stdout stays the rows (none), for scripts; a person sees why nothing came.
    if (rows.length === 0) console.error(`no ${values.all ? '' : 'unrevoked '}keys${values.tenant ? ` of tenant "${values.tenant}"` : ''}`);
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
}
