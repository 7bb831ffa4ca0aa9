import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';
import { waitFor } from './live.js';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

async function accepting(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A redis-server of the test's own on 127.0.0.1, so a fault test can stop and
 * start it without disturbing the shared one other suites use.
 */
export async function startPrivateRedis() {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(() => accepting(port), `redis-server on port ${port}`);
  };
  const stop = async () => {
    const exiting = child && new Promise((resolve) => child!.once('exit', resolve));
    child?.kill('SIGKILL');
    await exiting;
    child = undefined;
  };
  /** SIGSTOP / SIGCONT: a server that keeps its connections open and stops answering. */
  const pause = () => void child?.kill('SIGSTOP');
  const resume = () => void child?.kill('SIGCONT');
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    pause,
    resume,
    get running() {
      return child !== undefined;
    },
  };
}
