import { createServer } from 'node:net';

/** A port on 127.0.0.1 that nothing listens on now (for a server to start on, or to find nothing at). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
