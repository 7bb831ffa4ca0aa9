import { z } from 'zod';
import { DURATION_HINT, formatDuration, parseDuration, parseWindowSpec, WINDOW_HINT } from './duration.js';
import { withoutDot } from './transport/browser-guard.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DAY_MS = 86_400_000;
/** The longest a retention setting may be: a century. Longer ones put the cutoff before any date PostgreSQL keeps. */
const RETENTION_MAX_DAYS = 36_500;

/** A duration; 0 only where `zero` says it means something (no skew, no lateness), since 0 as an interval spins. */
const duration = (fallback: string, options: { zero?: boolean; maxDays?: number } = {}) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      // Nothing is ambiguous about a bare 0, which the rows of the settings where it has a meaning write.
      const ms = text.trim() === '0' ? 0 : parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got "${text}"` });
        return z.NEVER;
      }
      if (ms === 0 && !options.zero) {
        ctx.addIssue({ code: 'custom', message: `must be greater than 0, got "${text}"` });
        return z.NEVER;
      }
      if (options.maxDays !== undefined && ms > options.maxDays * DAY_MS) {
        ctx.addIssue({ code: 'custom', message: `may be at most ${options.maxDays}d, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

/**
 * A number written in decimal digits. `z.coerce.number` took whatever `Number` does: `0x10`, `1e3`, `Infinity` and a
 * value of spaces, which is 0 (PORT: a random port; RATE_LIMIT: off).
 */
const decimal = (pattern: RegExp, expected: string) =>
  z
    .string()
    .transform((text, ctx) => {
      if (!pattern.test(text.trim())) {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}, got "${text}"` });
        return z.NEVER;
      }
      return Number(text);
    });
const wholeNumber = (bounds: z.ZodNumber, fallback: number) =>
  decimal(/^[+-]?\d+$/, 'a whole number in decimal digits').pipe(bounds.int()).default(fallback);
const realNumber = (bounds: z.ZodNumber, fallback: number) =>
  decimal(/^[+-]?(\d+(\.\d*)?|\.\d+)$/, 'a number in decimal digits such as 4 or 0.05').pipe(bounds).default(fallback);

const optionalUrl = (protocols: RegExp, what: string) =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.url({ protocol: protocols, error: `expected a ${what} URL` }).optional())
    .optional();

/** `1m,5m,1h,5m/1m`: tumbling windows by size, hopping ones as size/hop. */
const windowSpecs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const specs: { sizeMs: number; hopMs: number }[] = [];
      for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
        const spec = parseWindowSpec(item);
        if (!spec) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not a window: expected ${WINDOW_HINT}` });
          return z.NEVER;
        }
        specs.push(spec);
      }
      return specs;
    });

const durations = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const items = text.split(',').map((s) => s.trim()).filter(Boolean);
      const parsed = items.map((item) => parseDuration(item));
      const bad = items.find((_, i) => !parsed[i]);
      if (bad !== undefined || items.length === 0) {
        ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of durations (${DURATION_HINT}), got "${bad ?? text}"` });
        return z.NEVER;
      }
      return parsed as number[];
    });

/** A comma-separated list, each item lower-cased and checked by `parse` (null: not one, named in the error). */
const list = (what: string, parse: (item: string) => string | null) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const items = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      const bad = items.find((item) => parse(item) === null);
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${what}, got "${bad}"` });
        return z.NEVER;
      }
      return new Set(items.map((item) => parse(item)!));
    });

/** `https://wall.example.org`: an origin as browsers send it, with no path. */
const origin = (item: string) => (URL.canParse(item) && /^https?:\/\/[^/?#]+$/.test(item) ? new URL(item).origin : null);
/** `vigil.internal`: a host name, with no port. */
const hostname = (item: string) => (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(item) ? withoutDot(item) : null);

/** Connection settings the server sets itself, which a `DATABASE_URL` query would silently replace. */
const URL_SETTINGS_OWNED = [
  ['search_path', 'the schema is DATABASE_SCHEMA'],
  ['application_name', 'the server names its connections vigil:<DATABASE_SCHEMA>, and db_connections counts them by that name'],
] as const;

/** Every environment variable the server reads. README's config table mirrors this. */
export const Env = z.object({
  PORT: wholeNumber(z.number().min(0).max(65535), 4000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalUrl(/^postgres(ql)?$/, 'postgres://').superRefine((url, ctx) => {
    // Runs on a URL the check above refused too: that one is reported already.
    if (url === undefined || !URL.canParse(url)) return;
    // postgres.js lets the URL's query replace the connection settings the server gives; PostgreSQL reads
    // setting names in any case.
    const names = new Set([...new URL(url).searchParams.keys()].map((name) => name.toLowerCase()));
    for (const [name, why] of URL_SETTINGS_OWNED) if (names.has(name)) ctx.addIssue({ code: 'custom', message: `must not set ${name}: ${why}` });
  }),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('public'),
  DATABASE_POOL_SIZE: wholeNumber(z.number().min(1).max(200), 10),
  DATABASE_WORK_MEM: z
    .string()
    .regex(/^[1-9][0-9]{0,6}(kB|MB|GB)$/, 'expected a PostgreSQL memory size such as 32MB (kB, MB or GB)')
    .default('32MB'),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: optionalUrl(/^rediss?$/, 'redis:// or rediss://'),
  REDIS_CHANNEL_PREFIX: z.string().default('vigil:'),
  MAX_BATCH: wholeNumber(z.number().positive().max(100_000), 10_000),
  MAX_FUTURE_SKEW: duration('5m', { zero: true }),
  PARALLEL_INGEST: z.enum(['on', 'off'], { error: 'expected on or off' }).default('off'),
  COMPRESS_AFTER: duration('7d', { maxDays: RETENTION_MAX_DAYS }),
  RETAIN_FOR: duration('3650d', { maxDays: RETENTION_MAX_DAYS }),
  DEAD_LETTER_RETENTION: duration('7d', { maxDays: RETENTION_MAX_DAYS }),
  LIVE_GAP_TIMEOUT: duration('250ms'),
  LIVE_POLL_INTERVAL: duration('1s'),
  SUBSCRIBER_BUFFER: wholeNumber(z.number().min(10).max(1_000_000), 10_000),
  SHUTDOWN_TIMEOUT: duration('10s'),
  REQUEST_TIMEOUT: duration('15s'),
  PROCESSORS: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  GRAPHIQL: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  PROCESSOR_PARTITIONS: wholeNumber(z.number().min(1).max(1024), 16),
  ALLOWED_LATENESS: duration('1m', { zero: true }),
  WINDOWS: windowSpecs('1m,5m,1h,5m/1m'),
  CANDLE_INTERVALS: durations('1s,1m,5m,1h'),
  ANOMALY_Z: realNumber(z.number().positive(), 4),
  ANOMALY_ALPHA: realNumber(z.number().positive().max(1), 0.05),
  ANOMALY_WARMUP: wholeNumber(z.number().min(2), 30),
  NEWS2_MAX_AGE: duration('12h'),
  CHECKPOINT_INTERVAL: duration('5s'),
  FORMING_FLUSH_INTERVAL: duration('1s', { zero: true }),
  PROCESSOR_LEASE: duration('10s'),
  PROCESSOR_QUEUE_LIMIT: wholeNumber(z.number().min(100).max(10_000_000), 100_000),
  ESCALATE_AFTER: duration('5m'),
  ALERT_CHECK_INTERVAL: duration('1s'),
  READ_KEY_REPLAY: duration('1h', { zero: true }),
  FRAUD_VELOCITY_WINDOW: duration('10m'),
  FRAUD_VELOCITY_MIN_AMOUNT: realNumber(z.number().positive(), 500),
  FRAUD_VELOCITY_MAX_COUNT: wholeNumber(z.number().min(1), 3),
  FRAUD_MAX_SPEED_KMH: realNumber(z.number().positive(), 900),
  FRAUD_MIN_DISTANCE_KM: realNumber(z.number().positive(), 100),
  FRAUD_AMOUNT_Z: realNumber(z.number().positive(), 3),
  FRAUD_AMOUNT_WARMUP: wholeNumber(z.number().min(2), 10),
  FRAUD_AMOUNT_ALPHA: realNumber(z.number().positive().max(1), 0.1),
  MAX_BODY_BYTES: wholeNumber(z.number().min(1_024).max(256 * 1024 * 1024), 4 * 1024 * 1024),
  MAX_QUERY_DEPTH: wholeNumber(z.number().min(2).max(100), 12),
  MAX_QUERY_COST: wholeNumber(z.number().min(10), 50_000),
  MAX_ALIASES: wholeNumber(z.number().min(0), 15),
  MAX_DIRECTIVES: wholeNumber(z.number().min(0), 50),
  MAX_TOKENS: wholeNumber(z.number().min(100), 10_000),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: wholeNumber(z.number().min(1).max(10_000), 50),
  MAX_CONNECTIONS_PER_KEY: wholeNumber(z.number().min(0), 500),
  MAX_CONCURRENT_REPLAYS_PER_KEY: wholeNumber(z.number().min(0), 4),
  REPLAY_WAIT: duration('30s', { zero: true }),
  RATE_LIMIT: wholeNumber(z.number().min(0), 200),
  RATE_LIMIT_WINDOW: duration('1s'),
  AUTH: z.enum(['on', 'off', 'auto'], { error: 'expected on, off or auto' }).default('auto'),
  KEY_CHECK_INTERVAL: duration('500ms'),
  ALLOWED_ORIGINS: list('origins such as https://wall.example.org', origin),
  ALLOWED_HOSTS: list('host names such as vigil.internal', hostname),
  TLS_CERT_FILE: z.string().trim().optional(),
  TLS_KEY_FILE: z.string().trim().optional(),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' }).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof Env>) {
  return {
    http: {
      port: env.PORT,
      host: env.HOST,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
      /** Longest a client may take to send a whole request (headers and body); SSE responses are not limited. */
      requestTimeoutMs: env.REQUEST_TIMEOUT,
      tls: env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : null,
      /** Pages of these origins may open WebSockets besides the server's own (transport/browser-guard.ts). */
      allowedOrigins: env.ALLOWED_ORIGINS,
      /** Names besides IP addresses and localhost an open server (AUTH off) answers to. */
      allowedHosts: env.ALLOWED_HOSTS,
      /** Whether a browser's GET of /graphql gets GraphiQL (a 9 MB page that needs no key). */
      graphiql: env.GRAPHIQL === 'on',
    },
    auth: {
      /** auto: keys required whenever DATABASE_URL is set (a shared deployment); the embedded default runs open. */
      required: env.AUTH === 'on' || (env.AUTH === 'auto' && env.DATABASE_URL !== undefined),
      keyCheckIntervalMs: env.KEY_CHECK_INTERVAL,
      /** How far back a `read` key may resume a subscription (0: no limit); analysts read history. */
      readKeyReplayMs: env.READ_KEY_REPLAY,
    },
    database: env.DATABASE_URL
      ? ({
          driver: 'postgres',
          url: env.DATABASE_URL,
          schema: env.DATABASE_SCHEMA,
          poolSize: env.DATABASE_POOL_SIZE,
          workMem: env.DATABASE_WORK_MEM,
        } as const)
      : ({ driver: 'pglite', dataDir: env.DATA_DIR, workMem: env.DATABASE_WORK_MEM } as const),
    pubsub: env.REDIS_URL
      ? ({ driver: 'redis', url: env.REDIS_URL, prefix: env.REDIS_CHANNEL_PREFIX } as const)
      : ({ driver: 'memory' } as const),
    ingest: { maxBatch: env.MAX_BATCH, maxFutureSkewMs: env.MAX_FUTURE_SKEW, retainForMs: env.RETAIN_FOR, parallel: env.PARALLEL_INGEST === 'on' },
    retention: {
      compressAfterMs: env.COMPRESS_AFTER,
      retainForMs: env.RETAIN_FOR,
      deadLetterMs: env.DEAD_LETTER_RETENTION,
    },
    live: {
      gapTimeoutMs: env.LIVE_GAP_TIMEOUT,
      pollIntervalMs: env.LIVE_POLL_INTERVAL,
      subscriberBuffer: env.SUBSCRIBER_BUFFER,
    },
    processors: {
      enabled: env.PROCESSORS === 'on',
      partitions: env.PROCESSOR_PARTITIONS,
      latenessMs: env.ALLOWED_LATENESS,
      windows: env.WINDOWS,
      candleIntervalsMs: env.CANDLE_INTERVALS,
      anomaly: { threshold: env.ANOMALY_Z, alpha: env.ANOMALY_ALPHA, warmup: env.ANOMALY_WARMUP },
      /** How far behind the newest of the six a NEWS2 parameter may be measured and still count. */
      news2MaxAgeMs: env.NEWS2_MAX_AGE,
      checkpointIntervalMs: env.CHECKPOINT_INTERVAL,
      formingFlushMs: env.FORMING_FLUSH_INTERVAL,
      leaseMs: env.PROCESSOR_LEASE,
      queueLimit: env.PROCESSOR_QUEUE_LIMIT,
      fraud: {
        velocity: { windowMs: env.FRAUD_VELOCITY_WINDOW, minAmount: env.FRAUD_VELOCITY_MIN_AMOUNT, maxCount: env.FRAUD_VELOCITY_MAX_COUNT },
        travel: { maxSpeedKmh: env.FRAUD_MAX_SPEED_KMH, minDistanceKm: env.FRAUD_MIN_DISTANCE_KM },
        amount: { threshold: env.FRAUD_AMOUNT_Z, warmup: env.FRAUD_AMOUNT_WARMUP, alpha: env.FRAUD_AMOUNT_ALPHA },
      },
    },
    alerts: { escalateAfterMs: env.ESCALATE_AFTER, checkIntervalMs: env.ALERT_CHECK_INTERVAL },
    limits: {
      maxBodyBytes: env.MAX_BODY_BYTES,
      query: {
        maxDepth: env.MAX_QUERY_DEPTH,
        maxCost: env.MAX_QUERY_COST,
        maxAliases: env.MAX_ALIASES,
        maxDirectives: env.MAX_DIRECTIVES,
        maxTokens: env.MAX_TOKENS,
      },
      subscriptionsPerConnection: env.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      /** graphql-ws sockets and SSE streams one key (or client address when open) may hold open on this node; 0: no limit. */
      connectionsPerKey: env.MAX_CONNECTIONS_PER_KEY,
      /**
       * Subscriptions of one key (or address) replaying stored rows at once on this node (0: no limit); a further one
       * waits up to `replayWaitMs` for a turn, then is refused with TOO_MANY_REPLAYS (0: refused at once).
       */
      replays: { perKey: env.MAX_CONCURRENT_REPLAYS_PER_KEY, waitMs: env.REPLAY_WAIT },
      /** Operations per key (or per client address when open) per window; 0 turns the limit off. */
      rate: { limit: env.RATE_LIMIT, windowMs: env.RATE_LIMIT_WINDOW },
    },
    logLevel: env.LOG_LEVEL,
    /** undefined: pretty when stdout is a terminal, JSON lines otherwise. */
    logPretty: env.LOG_FORMAT === 'auto' ? undefined : env.LOG_FORMAT === 'pretty',
  };
}

/** Single-letter edits (insert, delete, replace, or swap two neighbours) between `a` and `b`. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i]![j] = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i]![j] = Math.min(rows[i]![j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * Variables in `env` named a letter or two off a setting's (`DATABSE_URL`, `log_level`): zod reads only the names
 * it knows, so such a one was ignored without a word, and its setting kept its default (DATABASE_URL unset runs the
 * embedded database, open). One edit, not two: two would take the system's SSL_CERT_FILE for TLS_CERT_FILE, and
 * HOME for HOST.
 */
export function misspelledSettings(env: Record<string, string | undefined>): { name: string; meant: string }[] {
  const settings = Object.keys(Env.shape);
  const found: { name: string; meant: string }[] = [];
  for (const name of Object.keys(env)) {
    if (settings.includes(name)) continue;
    const upper = name.toUpperCase();
    const meant = settings.find((setting) => editDistance(upper, setting) <= 1);
    if (meant !== undefined) found.push({ name, meant });
  }
  return found;
}

/** Parses the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // `PORT=` in an env file or a manifest means "not set": the default, not 0 (a random port, or RATE_LIMIT off).
  const parsed = Env.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  }
  if (Boolean(parsed.data.TLS_CERT_FILE) !== Boolean(parsed.data.TLS_KEY_FILE)) {
    throw new ConfigError('invalid configuration:\nTLS_CERT_FILE and TLS_KEY_FILE go together: set both to serve HTTPS and WSS, or neither');
  }
  // A RETAIN_FOR that expires events before their longest window closes deletes outputs still forming, every
  // sweep; far shorter (30s typed for 30d) it deletes nearly everything at the next start.
  const { RETAIN_FOR, ALLOWED_LATENESS, WINDOWS, CANDLE_INTERVALS } = parsed.data;
  const longest = Math.max(...WINDOWS.map((w) => w.sizeMs), ...CANDLE_INTERVALS);
  if (RETAIN_FOR <= longest + ALLOWED_LATENESS) {
    throw new ConfigError(
      `invalid configuration:\nRETAIN_FOR (${formatDuration(RETAIN_FOR)}) must be longer than the longest window or candle interval (${formatDuration(longest)}) plus ALLOWED_LATENESS (${formatDuration(ALLOWED_LATENESS)}): events would expire before their windows close`,
    );
  }
  return toConfig(parsed.data);
}
