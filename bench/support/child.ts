/**
 * Benchmark helpers that run in their own process (the raw baseline server,
 * the client fleet), driven over Node's IPC channel with request/response
 * messages. Both sides of the protocol are here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}
interface Response {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface Child<Info> {
  pid: number;
  /** What the child sent with its `ready` message (e.g. its port). */
  info: Info;
  call<T>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to exit; SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** Starts `module` (a .ts file next to this one) with tsx, waits for its `ready` message (within 30 s). */
export async function startChild<Info>(module: string, options: { env?: Record<string, string>; execArgv?: string[] } = {}): Promise<Child<Info>> {
  const path = fileURLToPath(new URL(module, import.meta.url));
  const child: ChildProcess = fork(path, [], {
    execArgv: [...(options.execArgv ?? []), '--import', 'tsx'],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let info: Info | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${module} did not start within 30 s`)), 30_000);
    child.on('message', (message: { type?: string; info?: Info } & Partial<Response>) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        info = message.info;
        resolve();
        return;
      }
      const waiting = message.id === undefined ? undefined : pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id!);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(`${module}: ${message.error}`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${module} exited with ${child.exitCode ?? child.signalCode}`));
      for (const [, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error(`${module} exited with ${child.exitCode ?? child.signalCode}`));
      }
      pending.clear();
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(force);
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid!,
    info: info!,
    call: <T>(cmd: string, args?: unknown, timeoutMs = 120_000) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${module}: ${cmd} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        child.send({ id, cmd, args } satisfies Request);
      }),
    stop,
  };
}

/** The child's side: answers each request with its handler's result; exits on SIGTERM or when the parent goes away. */
export function serveChild(handlers: Record<string, (args: never) => unknown>, info: unknown, onExit?: () => Promise<void> | void): void {
  process.on('message', async (message: Request) => {
    const handler = handlers[message.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      const result = await handler(message.args as never);
      process.send!({ id: message.id, ok: true, result } satisfies Response);
    } catch (error) {
      process.send!({ id: message.id, ok: false, error: (error as Error).stack ?? String(error) } satisfies Response);
    }
  });
  const exit = async () => {
    await onExit?.();
    process.exit(0);
  };
  process.once('SIGTERM', () => void exit());
  process.once('disconnect', () => void exit());
  process.send!({ type: 'ready', info });
}

/** Wall-clock time in ms with sub-millisecond resolution, comparable between processes on one machine. */
export const wallClock = () => performance.timeOrigin + performance.now();
