import { ConfigError, loadConfig, misspelledSettings } from './config.js';
import { createLogger, messageOf } from './log.js';

const USAGE = `usage: vigil <command>
  start      serve the API (default)
  migrate    apply database migrations and exit
  simulate   post realistic vitals to a running server (see --help)
  keys       create, revoke and list API keys (see keys --help)`;

/** A signal this long after the first forces an exit without the rest of the shutdown; one sooner is the same request. */
const SECOND_SIGNAL_AFTER_MS = 1_000;

// Each command loads only its own modules: `keys` and `simulate` start without the server's (GraphQL, yoga, the schema).
async function main(argv: string[]): Promise<number> {
  const [command = 'start', ...rest] = argv;
  switch (command) {
    case 'start': {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { pretty: config.logPretty });
      for (const { name, meant } of misspelledSettings(process.env)) {
        log.warn({ variable: name, meant }, `${name} is not a setting, and is ignored: did you mean ${meant}? (${meant} keeps its value, or its default)`);
      }
      if (config.database.driver === 'pglite' && config.database.dataDir.startsWith('memory://')) {
        log.warn('DATA_DIR=memory:// keeps nothing: every reading, alert, rule and key is gone when this server stops. Point DATA_DIR at a directory, or set DATABASE_URL, to keep them');
      }
      const { createServer } = await import('./server.js');
      let server: Awaited<ReturnType<typeof createServer>> | undefined;
      let stoppingSince: number | null = null;
      const shutDown = (running: NonNullable<typeof server>) => {
        // A close that hangs (a broken disk, a wedged driver) must not keep the process alive past its orchestrator's patience.
        const deadline = config.http.shutdownTimeoutMs + 10_000;
        setTimeout(() => {
          log.error({ afterMs: deadline }, 'shutdown did not finish in time; exiting without it');
          process.exit(1);
        }, deadline).unref();
        running.close().then(
          () => process.exit(0),
          (error: unknown) => {
            log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      const stop = (signal: string) => {
        if (stoppingSince !== null) {
          // Ctrl-C in a terminal, `kill` of the process group and systemd's default signal npm and this process
          // together, milliseconds apart (npm forwards its own): that is one request to stop, not a second.
          if (Date.now() - stoppingSince < SECOND_SIGNAL_AFTER_MS) return;
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stoppingSince = Date.now();
        if (server) {
          log.info({ signal }, 'signal received');
          return shutDown(server);
        }
        // PostgreSQL rolls back a migration cut short, and nothing else of a start needs finishing: exit now, as the
        // signal's default did, rather than after waiting out another node's migrations.
        if (config.database.driver === 'postgres') {
          log.info({ signal }, 'signal received while starting: exiting');
          process.exit(0);
        }
        // Killed by the signal's default, a start would stop partway through writing the embedded database's files or
        // applying a migration: an orchestrator stopping a pod that is still starting (a rollout) must not do that.
        log.info({ signal }, 'signal received while starting: stopping once the embedded database is open and migrated; a second signal exits at once');
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      try {
        const created = await createServer(config, { log });
        server = created;
        // Stopped while it started: closed without listening; shutDown exits the process.
        if (stoppingSince !== null) shutDown(created);
        else await created.listen();
      } catch (error) {
        // A dependency down at start (the database, Redis, the port): one line saying which, for the operator or
        // the orchestrator that restarts the process, not a stack trace.
        log.fatal({ err: messageOf(error) }, 'not started: exiting; start it again once what err names is fixed or reachable');
        // LOG_LEVEL=silent would end a failed start without a word.
        if (!log.isLevelEnabled('fatal')) process.stderr.write(`not started: ${messageOf(error)}\n`);
        return 1;
      }
      return new Promise<number>(() => undefined);
    }
    case 'migrate': {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { pretty: config.logPretty });
      const { openDatabase } = await import('./db/client.js');
      let database: Awaited<ReturnType<typeof openDatabase>>;
      try {
        database = await openDatabase(config.database, log);
      } catch (error) {
        // As `start` says it: one line naming the database and why, not a stack trace.
        log.fatal({ err: messageOf(error) }, 'migrations not applied: exiting; run it again once what err names is fixed or reachable');
        return 1;
      }
      await database.close();
      log.info('migrations applied');
      return 0;
    }
    case 'simulate':
      return (await import('./simulate.js')).runSimulator(rest);
    case 'keys':
      return (await import('./keys-cli.js')).runKeys(rest);
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    // DATA_DIR open in another process or holding other files (db/data-dir-lock.ts): what to do is in the message.
    if ((error as Error | undefined)?.name === 'DataDirError') {
      console.error((error as Error).message);
      process.exit(1);
    }
    // A mistyped flag (node:util parseArgs: unknown option, missing value) is the caller's to fix: say which, not a stack.
    if (/^ERR_PARSE_ARGS_/.test(String((error as { code?: unknown })?.code))) {
      const command = process.argv[2] ?? 'start';
      console.error(`${(error as Error).message}\nsee: npm run ${command} -- --help`);
      process.exit(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
