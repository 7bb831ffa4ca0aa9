import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export interface ServerProcess {
  url: string;
  /** The server's own process (node itself, no wrapper). */
  pid: number;
  /** POSTs an operation; fails on GraphQL errors. */
  mutate<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  /** SIGKILL: no shutdown, no final checkpoint, as a crash or the OOM killer would. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
  /** The exit code once it has exited (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * `src/main.ts start` in its own process on a free port, as an operator runs
 * it, for tests and benchmarks. The environment is inherited, then `env` on
 * top (pass `DATABASE_URL: ''` for the embedded database). `onLog` gets each
 * JSON log line and when it arrived; TEST_SERVER_LOGS=1 echoes them to stderr.
 * SERVER_NODE_ARGS adds node flags NODE_OPTIONS refuses (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 * A child that fails to start is stopped before the error is thrown.
 */
export async function startServerProcess(
  env: Record<string, string>,
  onLog?: (entry: Record<string, unknown>, at: number) => void,
): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(process.env.SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'src/main.ts', 'start'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', AUTH: 'off', RATE_LIMIT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  const stop = async () => {
    const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await signal('SIGTERM');
    clearTimeout(force);
  };
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start within 60s')), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const at = performance.now();
        if (process.env.TEST_SERVER_LOGS) process.stderr.write(`${line}\n`);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return; // not a log line
        }
        onLog?.(entry, at);
        if (typeof entry.msg === 'string' && entry.msg.startsWith('listening') && typeof entry.url === 'string') {
          clearTimeout(timer);
          resolve(entry.url);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${child.exitCode}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    pid: child.pid!,
    async mutate(document, variables) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: print(document), variables }) });
      const body = (await response.json()) as { data?: never; errors?: unknown[] };
      if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data!;
    },
    kill: () => signal('SIGKILL'),
    stop,
    exited,
  };
}
