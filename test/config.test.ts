import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, misspelledSettings } from '../src/config.js';

describe('configuration', () => {
  it('runs embedded with no configuration at all', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ driver: 'pglite', dataDir: './data', workMem: '32MB' });
    expect(config.pubsub).toEqual({ driver: 'memory' });
    expect(config.http).toMatchObject({ port: 4000, host: '127.0.0.1' });
    expect(config.ingest.maxBatch).toBe(10_000);
  });

  it('switches to PostgreSQL and Redis when their URLs are set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/vitals', REDIS_URL: 'rediss://cache:6380', DATABASE_SCHEMA: 'ward_a' });
    expect(config.database).toMatchObject({ driver: 'postgres', url: 'postgres://u:p@db:5432/vitals', schema: 'ward_a' });
    expect(config.pubsub).toMatchObject({ driver: 'redis', url: 'rediss://cache:6380' });
  });

  it('runs open on the embedded default and requires API keys as soon as DATABASE_URL is set, unless told otherwise', () => {
    expect(loadConfig({}).auth.required).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/vitals' }).auth.required).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/vitals', AUTH: 'off' }).auth.required).toBe(false);
    expect(loadConfig({ AUTH: 'on' }).auth.required).toBe(true);
    expect(() => loadConfig({ AUTH: 'maybe' })).toThrow(/expected on, off or auto[\s\S]*at AUTH/);
  });

  it('serves TLS only with both a certificate and a key', () => {
    expect(loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' }).http.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
    expect(() => loadConfig({ TLS_CERT_FILE: '/c.pem' })).toThrow('TLS_CERT_FILE and TLS_KEY_FILE go together');
  });

  it('takes the database sessions\' work_mem as PostgreSQL writes a memory size, and refuses anything else', () => {
    expect(loadConfig({ DATABASE_WORK_MEM: '256kB' }).database.workMem).toBe('256kB');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/vitals', DATABASE_WORK_MEM: '1GB' }).database).toMatchObject({ workMem: '1GB' });
    for (const bad of ['32', '32 MB', '0MB', "32MB'; drop table readings; --", '32mb']) {
      expect(() => loadConfig({ DATABASE_WORK_MEM: bad }), bad).toThrow(/expected a PostgreSQL memory size[\s\S]*at DATABASE_WORK_MEM/);
    }
  });

  it('caps connections and replays per key by default, and takes 0 as no limit (and, for REPLAY_WAIT, no wait)', () => {
    expect(loadConfig({}).limits).toMatchObject({ connectionsPerKey: 500, replays: { perKey: 4, waitMs: 30_000 } });
    expect(loadConfig({ MAX_CONNECTIONS_PER_KEY: '0', MAX_CONCURRENT_REPLAYS_PER_KEY: '0', REPLAY_WAIT: '0' }).limits).toMatchObject({
      connectionsPerKey: 0,
      replays: { perKey: 0, waitMs: 0 },
    });
  });

  it('treats an empty URL as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', REDIS_URL: ' ' }).database.driver).toBe('pglite');
  });

  it('parses durations people write', () => {
    const config = loadConfig({ RETAIN_FOR: '30d', LIVE_GAP_TIMEOUT: '500ms', SHUTDOWN_TIMEOUT: '2m' });
    expect(config.retention.retainForMs).toBe(30 * 86_400_000);
    expect(config.live.gapTimeoutMs).toBe(500);
    expect(config.http.shutdownTimeoutMs).toBe(120_000);
  });

  it('reads processor windows as sizes and size/hop pairs', () => {
    const config = loadConfig({ WINDOWS: '1m, 5m/1m ,1h', CANDLE_INTERVALS: '1s,1h', ALLOWED_LATENESS: '15s' });
    expect(config.processors.windows).toEqual([
      { sizeMs: 60_000, hopMs: 60_000 },
      { sizeMs: 300_000, hopMs: 60_000 },
      { sizeMs: 3_600_000, hopMs: 3_600_000 },
    ]);
    expect(config.processors.candleIntervalsMs).toEqual([1_000, 3_600_000]);
    expect(config.processors.latenessMs).toBe(15_000);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '0x10' }, 'PORT'],
    [{ PORT: '1e3' }, 'PORT'],
    [{ PORT: '   ' }, 'PORT'],
    [{ RATE_LIMIT: 'Infinity' }, 'RATE_LIMIT'],
    [{ ANOMALY_Z: '1e1' }, 'ANOMALY_Z'],
    // The travel check needs some distance: 0 passed here and stopped the server at start, naming no variable.
    [{ FRAUD_MIN_DISTANCE_KM: '0' }, 'FRAUD_MIN_DISTANCE_KM'],
    [{ HOST: '  ' }, 'HOST'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ DATABASE_URL: 'postgres://db/x?search_path=other' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db/x?sslmode=require&application_name=mine' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://[bad' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db:99999/x' }, 'DATABASE_URL'],
    [{ MAX_BATCH: '0' }, 'MAX_BATCH'],
    [{ RETAIN_FOR: 'forever' }, 'RETAIN_FOR'],
    [{ DATABASE_SCHEMA: 'Robert"); drop' }, 'DATABASE_SCHEMA'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ WINDOWS: '5m/2m' }, 'WINDOWS'],
    [{ WINDOWS: '1m,hourly' }, 'WINDOWS'],
    [{ CANDLE_INTERVALS: '1s,,x' }, 'CANDLE_INTERVALS'],
    [{ PROCESSORS: 'yes' }, 'PROCESSORS'],
    [{ ANOMALY_ALPHA: '2' }, 'ANOMALY_ALPHA'],
    [{ PROCESSOR_PARTITIONS: '0' }, 'PROCESSOR_PARTITIONS'],
    [{ RATE_LIMIT_WINDOW: '0s' }, 'RATE_LIMIT_WINDOW'],
    [{ KEY_CHECK_INTERVAL: '0ms' }, 'KEY_CHECK_INTERVAL'],
    [{ RETAIN_FOR: '0d' }, 'RETAIN_FOR'],
    [{ RETAIN_FOR: '100000000d' }, 'RETAIN_FOR'],
    [{ DEAD_LETTER_RETENTION: '3000000d' }, 'DEAD_LETTER_RETENTION'],
    [{ COMPRESS_AFTER: '36501d' }, 'COMPRESS_AFTER'],
    [{ RETAIN_FOR: '30s' }, 'RETAIN_FOR'],
    [{ MAX_CONNECTIONS_PER_KEY: '-1' }, 'MAX_CONNECTIONS_PER_KEY'],
    [{ MAX_CONCURRENT_REPLAYS_PER_KEY: 'four' }, 'MAX_CONCURRENT_REPLAYS_PER_KEY'],
    [{ REPLAY_WAIT: '30' }, 'REPLAY_WAIT'],
  ])('rejects %o with a message naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('refuses connection settings in DATABASE_URL that would replace the ones the server sets, and keeps the rest', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/x?search_path=other' })).toThrow('must not set search_path: the schema is DATABASE_SCHEMA');
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/x?application_name=mine' })).toThrow(/must not set application_name: .*db_connections/);
    // PostgreSQL reads setting names in any case.
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/x?Search_Path=other' })).toThrow('must not set search_path');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x?sslmode=require' }).database).toMatchObject({ url: 'postgres://db/x?sslmode=require' });
  });

  it('reads an empty variable as unset (its default), and takes 0 only where it means none', () => {
    expect(loadConfig({ PORT: '', RATE_LIMIT: '', MAX_ALIASES: '', DATABASE_URL: '', REDIS_URL: '', AUTH: '' })).toEqual(loadConfig({}));
    expect(loadConfig({ PORT: '' }).http.port).toBe(4000);
    expect(loadConfig({ ALLOWED_LATENESS: '0s', MAX_FUTURE_SKEW: '0s' }).processors.latenessMs).toBe(0);
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: '0s' })).toThrow('RATE_LIMIT_WINDOW');
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: '0s' })).toThrow('must be greater than 0, got "0s"');
    // A bare 0, as the settings table writes it for READ_KEY_REPLAY (no limit).
    expect(loadConfig({ READ_KEY_REPLAY: '0', MAX_FUTURE_SKEW: '0' })).toMatchObject({ auth: { readKeyReplayMs: 0 }, ingest: { maxFutureSkewMs: 0 } });
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: '0' })).toThrow('must be greater than 0, got "0"');
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: '5' })).toThrow('expected a whole number followed by ms, s, m, h or d');
  });

  it('refuses a retention that would expire events before their windows close, or put its cutoff out of range', () => {
    // 30s typed for 30d: the first sweep would delete nearly everything.
    expect(() => loadConfig({ RETAIN_FOR: '30s' })).toThrow(
      'RETAIN_FOR (30s) must be longer than the longest window or candle interval (1h) plus ALLOWED_LATENESS (1m): events would expire before their windows close',
    );
    expect(() => loadConfig({ RETAIN_FOR: '2h', CANDLE_INTERVALS: '1d' })).toThrow('longest window or candle interval (1d)');
    expect(loadConfig({ RETAIN_FOR: '2h' }).retention.retainForMs).toBe(7_200_000);
    expect(() => loadConfig({ RETAIN_FOR: '100000000d' })).toThrow('may be at most 36500d, got "100000000d"');
    expect(loadConfig({ RETAIN_FOR: '36500d', DEAD_LETTER_RETENTION: '36500d' }).retention.deadLetterMs).toBe(36_500 * 86_400_000);
  });

  it('reads numbers in decimal digits only, so 0x10, 1e3 or a value of spaces is not taken for another number', () => {
    expect(() => loadConfig({ PORT: '0x10' })).toThrow('expected a whole number in decimal digits, got "0x10"');
    // Number('   ') is 0: a random port, or RATE_LIMIT off.
    expect(() => loadConfig({ RATE_LIMIT: '   ' })).toThrow('expected a whole number in decimal digits, got "   "');
    expect(() => loadConfig({ ANOMALY_ALPHA: '5e-2' })).toThrow('expected a number in decimal digits such as 4 or 0.05, got "5e-2"');
    const config = loadConfig({ PORT: ' 4001 ', ANOMALY_ALPHA: '.5', ANOMALY_Z: '2.5' });
    expect(config.http.port).toBe(4001);
    expect(config.processors.anomaly).toMatchObject({ alpha: 0.5, threshold: 2.5 });
  });

  it('lists every bad variable at once', () => {
    try {
      loadConfig({ PORT: '-1', MAX_BATCH: 'lots', DATABASE_URL: 'postgres://[bad' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      for (const variable of ['PORT', 'MAX_BATCH', 'DATABASE_URL']) expect((error as Error).message).toContain(variable);
    }
  });

  it('names a variable a letter off a setting, which is ignored, with the setting it would be', () => {
    // DATABSE_URL ran the embedded database, open, and RETAIN_FRO kept ten years, without a word.
    const env = { DATABSE_URL: 'postgres://db/vitals', RETAIN_FRO: '30d', log_level: 'debug', DATABASE_SCHEMA: 'ward_a' };
    expect(misspelledSettings(env)).toEqual([
      { name: 'DATABSE_URL', meant: 'DATABASE_URL' },
      { name: 'RETAIN_FRO', meant: 'RETAIN_FOR' },
      { name: 'log_level', meant: 'LOG_LEVEL' },
    ]);
    // The system's own, two letters off a setting or more, are not taken for typos.
    expect(misspelledSettings({ HOME: '/root', HOSTNAME: 'ward', PATH: '/bin', SSL_CERT_FILE: '/etc/ssl/cert.pem', REDIS_PORT: 'tcp://10.0.0.5:6379', NODE_ENV: 'production', TERM: 'xterm' })).toEqual([]);

    // `start` says so in a warning before anything else, here before DATA_DIR (under a file) stops it.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    try {
      writeFileSync(join(dir, 'file'), '');
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
        env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: join(dir, 'file', 'data'), LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABSE_URL: 'postgres://db/vitals' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      const first = JSON.parse(run.stdout.split('\n')[0]!) as Record<string, unknown>;
      expect(first).toMatchObject({
        level: 40,
        variable: 'DATABSE_URL',
        meant: 'DATABASE_URL',
        msg: 'DATABSE_URL is not a setting, and is ignored: did you mean DATABASE_URL? (DATABASE_URL keeps its value, or its default)',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
