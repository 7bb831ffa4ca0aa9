import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/** One JSON log line as a person reads it: `12:00:01.234 INFO  listening url=… tls=false`. */
export function prettyLine(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = Number(entry.level);
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const name = LEVELS[level] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => {
      if (key === 'err' && value && typeof value === 'object' && 'stack' in value) return `\n${String((value as { stack: unknown }).stack)}`;
      return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    })
    .join(' ');
  const head = colour ? `\x1b[${COLOURS[level] ?? '0'}m${name}\x1b[0m` : name;
  return `${time} ${head} ${String(entry.msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}

/**
 * JSON lines on stdout (one object per line, for collectors), or, with
 * `pretty` (the default when that stream is a terminal), one readable line per
 * entry. Readings' values and key secrets never go in a log line. `stream`:
 * process.stderr for a command whose stdout is its output (the keys CLI), so
 * a script reading it gets no log lines.
 */
export function createLogger(level: string, options: { pretty?: boolean; stream?: NodeJS.WriteStream } = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const pretty = options.pretty ?? Boolean(stream.isTTY);
  const base = { level, base: { service: 'vigil' }, timestamp: pino.stdTimeFunctions.isoTime, serializers: { err: errorForLog } };
  if (!pretty) return stream === process.stdout ? pino(base) : pino(base, stream);
  const colour = Boolean(stream.isTTY) && !process.env.NO_COLOR;
  return pino(base, { write: (line: string) => void stream.write(prettyLine(line, colour)) });
}

/** A connection URL fit for a log line or an error message: its password replaced by ***. */
/** Query parameters that may carry a secret: ioredis and libpq take `?password=`, and TLS settings `sslpassword`. */
const SECRET_PARAMETER = /pass|secret|token|key|auth/i;

export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  for (const name of [...parsed.searchParams.keys()]) if (SECRET_PARAMETER.test(name)) parsed.searchParams.set(name, '***');
  return parsed.toString();
}

/**
 * The innermost message of an error and its causes, for logs: drizzle's "Failed query: <sql> params: <values>" says
 * nothing about why, and its values may be a patient's.
 */
export function reasonOf(error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error);
  for (let e = (error as { cause?: unknown })?.cause, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && e.message) reason = e.message;
  }
  return reason;
}

/**
 * An error's own message, where it says most (ours name the setting to look at and add the cause's reason); for
 * drizzle's wrapper, which carries the failed statement (`query`) and quotes it with its values, the reason.
 */
export function messageOf(error: unknown): string {
  return error instanceof Error && !('query' in error) ? error.message : reasonOf(error);
}

/**
 * An error as a log line holds it (`err`): its type, reason, code and stack frames. Not the error's own fields nor
 * its message's head, which pino's default would keep: drizzle's error carries the statement's `params` (readings'
 * values) and PostgreSQL's carries `detail` ("Failing row contains (…)").
 */
export function errorForLog(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const message = reasonOf(error);
  let code: unknown;
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && code === undefined && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
  }
  const frames = error.stack?.split('\n').filter((line) => line.startsWith('    at '));
  return { type: error.name, message, ...(code !== undefined && { code }), ...(frames?.length && { stack: [`${error.name}: ${message}`, ...frames].join('\n') }) };
}

/**
 * For a check that keeps failing while a dependency is down: the first failure a warning, the rest at debug, and one
 * line when it works again (with how many failures and for how long), so an hour of outage is two lines, not one a
 * second.
 */
export function outageLog(log: Logger, what: string) {
  let failures = 0;
  let since = 0;
  return {
    failed(error: unknown, details: Record<string, unknown> = {}) {
      if (failures++ === 0) since = Date.now();
      const fields = { ...details, err: error, failuresInARow: failures };
      if (failures === 1) log.warn(fields, `${what} failed; retrying (further failures at debug)`);
      else log.debug(fields, `${what} failed; retrying`);
    },
    succeeded() {
      if (failures === 0) return;
      // How long it failed, from its first failure: with failuresInARow, what the outage cost.
      log.info({ failuresInARow: failures, failingForMs: Date.now() - since }, `${what} works again`);
      failures = 0;
    },
  };
}
