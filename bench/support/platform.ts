/**
 * The platform under benchmark: `src/main.ts start` in its own process
 * (startServerProcess, so AUTH=off and RATE_LIMIT=0), embedded (PGlite +
 * in-process pub/sub, in a fresh data directory) or on the servers named by
 * `databaseUrl` / `redisUrl` (in a fresh schema and channel prefix, dropped
 * afterwards). Optionally:
 *
 * - commit times: LOG_LEVEL=debug, and each ingest's debug line 'batch stored'
 *   (cursor range and `committedAt`, taken right after commit, before the
 *   batch is encoded, published or handed to this node's subscribers) is kept
 *   as a committed range;
 * - a memory probe: NODE_OPTIONS loads bench/support/gc-hook.mjs with
 *   --expose-gc; `memory()` signals it, waits for its line, and reads VmRSS
 *   from /proc/<pid>/status.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import postgres from 'postgres';
import { startServerProcess, type ServerProcess } from '../../test/support/server-process.js';

export interface PlatformOptions {
  /** Names the schema / data directory. */
  name: string;
  /** Unset: embedded PGlite. */
  databaseUrl?: string;
  /** Unset: in-process pub/sub. */
  redisUrl?: string;
  processors: boolean;
  commitTimes?: boolean;
  memoryProbe?: boolean;
  /** An existing data directory (embedded) or schema (servers) to open instead of a fresh one; left in place. */
  existing?: { dataDir?: string; schema?: string };
  env?: Record<string, string>;
}

/** Committed cursor ranges (from, to] and the epoch ms they were committed at, in arrival order. */
export class CommitRanges {
  from: number[] = [];
  to: number[] = [];
  committedAt: number[] = [];

  push(from: number, to: number, committedAt: number) {
    this.from.push(from);
    this.to.push(to);
    this.committedAt.push(committedAt);
  }

  clear() {
    this.from = [];
    this.to = [];
    this.committedAt = [];
  }

  /** Commit time of the range ending at `to`. */
  committedAtOf(): Map<number, number> {
    return new Map(this.to.map((to, i) => [to, this.committedAt[i]!]));
  }
}

export interface MemorySample {
  /** VmRSS of the process, bytes. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface Platform {
  url: string;
  pid: number;
  mode: 'embedded' | 'servers';
  ranges: CommitRanges;
  /** Where the data lives: the data directory (embedded) or schema (servers). */
  dataDir?: string;
  schema?: string;
  gql<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
}

const HOOK = fileURLToPath(new URL('./gc-hook.mjs', import.meta.url));

/** CPU seconds (user + system, all threads) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** USER_HZ: Linux reports /proc times in hundredths of a second on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** VmRSS of a process in bytes, from /proc. */
export function vmRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const servers = Boolean(options.databaseUrl);
  const schema = options.existing?.schema ?? `bench_${options.name}_${process.pid}`;
  const fresh = !options.existing;
  const dataDir = servers ? undefined : (options.existing?.dataDir ?? mkdtempSync(join(tmpdir(), `vigil-bench-${options.name}-`)));
  const env: Record<string, string> = servers
    ? {
        DATABASE_URL: options.databaseUrl!,
        DATABASE_SCHEMA: schema,
        REDIS_URL: options.redisUrl ?? '',
        REDIS_CHANNEL_PREFIX: `vigil-bench-${options.name}-${process.pid}:`,
      }
    : { DATA_DIR: dataDir!, DATABASE_URL: '', REDIS_URL: '' };
  env.PROCESSORS = options.processors ? 'on' : 'off';
  env.LOG_FORMAT = 'json';
  if (options.commitTimes) env.LOG_LEVEL = 'debug';
  if (options.memoryProbe) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=${HOOK}`.trim();
  Object.assign(env, options.env);

  const ranges = new CommitRanges();
  let probeLoaded = false;
  let memoryWaiter: ((entry: Record<string, unknown>) => void) | undefined;
  const cleanup = async () => {
    if (servers && fresh) {
      const admin = postgres(options.databaseUrl!, { max: 1, onnotice: () => undefined });
      await admin.unsafe(`drop schema if exists "${schema}" cascade`).finally(() => admin.end());
    }
    if (dataDir && fresh) rmSync(dataDir, { recursive: true, force: true });
  };
  let server: ServerProcess;
  try {
    server = await startServerProcess(env, (entry) => {
      // committedAt, not the line's time: the line is written after this node's own subscribers got the batch.
      if (entry.msg === 'batch stored' && entry.stream === 'readings' && typeof entry.committedAt === 'number') {
        const from = Number(entry.from);
        const to = Number(entry.to);
        if (to > from) ranges.push(from, to, entry.committedAt);
      } else if (entry.msg === 'bench hook ready') probeLoaded = true;
      else if (entry.msg === 'bench memory') memoryWaiter?.(entry);
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  if (options.memoryProbe && !probeLoaded) throw new Error('the memory probe did not load in the server process');

  return {
    url: server.url,
    pid: server.pid,
    mode: servers ? 'servers' : 'embedded',
    ranges,
    dataDir,
    schema: servers ? schema : undefined,
    async gql(document, variables) {
      return server.mutate(document, variables);
    },
    async memory() {
      if (!probeLoaded) throw new Error('started without the memory probe');
      const entry = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the memory probe did not answer within 30 s')), 30_000);
        memoryWaiter = (e) => {
          clearTimeout(timer);
          memoryWaiter = undefined;
          resolve(e);
        };
        process.kill(server.pid, 'SIGUSR2');
      });
      if (entry.gc !== true) throw new Error('the server process has no global.gc (NODE_OPTIONS --expose-gc was not applied)');
      return {
        rss: vmRss(server.pid),
        heapUsed: Number(entry.heapUsed),
        heapTotal: Number(entry.heapTotal),
        external: Number(entry.external),
        arrayBuffers: Number(entry.arrayBuffers),
      };
    },
    async stop() {
      await server.stop();
      await cleanup();
    },
  };
}

/** POSTs an operation to `url`; fails on GraphQL errors. */
export async function gql<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: print(document), variables }) });
  const body = (await response.json()) as { data?: R; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL request failed: ${JSON.stringify(body).slice(0, 500)}`);
  return body.data;
}
