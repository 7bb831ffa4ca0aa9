import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Forwarder {
  /** The 127.0.0.1 port browsers use; the same whatever the target. */
  readonly port: number;
  /** Forward new connections to this port from now on. */
  retarget(port: number): void;
  /** Drops every connection and refuses new ones (ECONNREFUSED) until `release()`. */
  hold(): Promise<void>;
  release(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP forwarder on a fixed 127.0.0.1 port in front of a server whose port
 * may change, as a reverse proxy keeps one origin for a browser while the
 * server behind it restarts elsewhere. `hold()` keeps clients out for a while.
 */
export async function startForwarder(targetPort: number): Promise<Forwarder> {
  let target = targetPort;
  let port = 0;
  let server: Server | undefined;
  const sockets = new Set<Socket>();

  const onConnection = (client: Socket) => {
    const upstream = connect(target, '127.0.0.1');
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    sockets.add(client).add(upstream);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    retarget(next) {
      target = next;
    },
    hold: stop,
    async release() {
      if (!server) await listen();
    },
    close: stop,
  };
}
