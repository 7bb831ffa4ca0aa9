import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

const optionalUrl = (protocols: RegExp, what: string) =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.url({ protocol: protocols, error: `expected a ${what} URL` }).optional())
    .optional();

/** Every environment variable the server reads. README's config table mirrors this. */
export const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalUrl(/^postgres(ql)?$/, 'postgres://'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('public'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: optionalUrl(/^rediss?$/, 'redis:// or rediss://'),
  REDIS_CHANNEL_PREFIX: z.string().default('vigil:'),
  MAX_BATCH: z.coerce.number().int().positive().max(100_000).default(10_000),
  MAX_FUTURE_SKEW: duration('5m'),
  COMPRESS_AFTER: duration('7d'),
  RETAIN_FOR: duration('3650d'),
  DEAD_LETTER_RETENTION: duration('7d'),
  LIVE_GAP_TIMEOUT: duration('250ms'),
  LIVE_POLL_INTERVAL: duration('1s'),
  SUBSCRIBER_BUFFER: z.coerce.number().int().min(10).max(1_000_000).default(10_000),
  SHUTDOWN_TIMEOUT: duration('10s'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof Env>) {
  return {
    http: { port: env.PORT, host: env.HOST, shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT },
    database: env.DATABASE_URL
      ? ({
          driver: 'postgres',
          url: env.DATABASE_URL,
          schema: env.DATABASE_SCHEMA,
          poolSize: env.DATABASE_POOL_SIZE,
        } as const)
      : ({ driver: 'pglite', dataDir: env.DATA_DIR } as const),
    pubsub: env.REDIS_URL
      ? ({ driver: 'redis', url: env.REDIS_URL, prefix: env.REDIS_CHANNEL_PREFIX } as const)
      : ({ driver: 'memory' } as const),
    ingest: { maxBatch: env.MAX_BATCH, maxFutureSkewMs: env.MAX_FUTURE_SKEW },
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
    logLevel: env.LOG_LEVEL,
  };
}

/** Parses the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  }
  return toConfig(parsed.data);
}
