import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The 127.0.0.1 port the proxy listens on; the same after cut and restore. */
  readonly port: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Whether the link is cut now. */
  readonly isCut: boolean;
  /**
   * Cuts the link: destroys every connection (both ends, so each side sees its
   * socket close, as when the server or the network goes away) and stops
   * listening, so new connections are refused (ECONNREFUSED) until `restore()`.
   */
  cut(): Promise<void>;
  /**
   * PostgreSQL only: cuts the link the moment the server answers COMMIT to a
   * transaction whose command tags (UPDATE 1, INSERT 0 5, … since its BEGIN)
   * satisfy `match`, dropping that answer. The server has committed, the
   * client cannot know it: the ambiguous failure every client of a remote
   * database must handle. Resolves once cut.
   */
  cutAtCommit(match: (tags: readonly string[]) => boolean): Promise<void>;
  /** Listens again on the same port and forwards new connections. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
}

/**
 * An in-process TCP forwarder on 127.0.0.1 in front of `target`, for fault
 * tests: the server under test connects to the proxy's port, and the test
 * cuts and restores the link without touching the real server behind it.
 * It reads the PostgreSQL protocol's CommandComplete messages going back to
 * the client (for `cutAtCommit`) and forwards everything unchanged.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const links = new Set<Link>();
  let accepted = 0;
  let port = 0;
  let server: Server | undefined;
  let trap: { match: (tags: readonly string[]) => boolean; sprung: () => void } | undefined;

  const destroyAll = () => {
    for (const { client, upstream } of links) {
      client.destroy();
      upstream.destroy();
    }
    links.clear();
  };

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
    });

  const onConnection = (client: Socket) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    const link = { client, upstream };
    links.add(link);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);

    // Server → client: whole protocol messages (type byte, int32 length including itself, payload).
    let pending = Buffer.alloc(0);
    let tags: string[] = [];
    upstream.on('data', (chunk: Buffer) => {
      const buffer = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let offset = 0;
      while (buffer.length - offset >= 5) {
        const length = buffer.readInt32BE(offset + 1);
        if (buffer.length - offset < 1 + length) break;
        if (buffer[offset] === 0x43 /* 'C' CommandComplete */) {
          const tag = buffer.toString('utf8', offset + 5, offset + length); // without the NUL
          if (tag === 'BEGIN') tags = [];
          else if (tag === 'COMMIT' && trap?.match(tags)) {
            // Everything before this answer reaches the client; the answer never does.
            if (offset > 0 && !client.destroyed) client.write(buffer.subarray(0, offset));
            const { sprung } = trap;
            trap = undefined;
            void stopListening();
            destroyAll();
            sprung();
            return;
          } else tags.push(tag);
        }
        offset += 1 + length;
      }
      pending = Buffer.from(buffer.subarray(offset));
      if (offset > 0 && !client.destroyed && !client.write(buffer.subarray(0, offset))) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get isCut() {
      return server === undefined;
    },
    async cut() {
      const closing = stopListening();
      destroyAll();
      await closing;
    },
    cutAtCommit(match) {
      return new Promise<void>((resolve) => {
        trap = { match, sprung: resolve };
      });
    },
    async restore() {
      if (!server) await listen();
    },
    async close() {
      trap = undefined;
      const closing = stopListening();
      destroyAll();
      await closing;
    },
  };
}

/** `url` with its host and port replaced by the proxy's (127.0.0.1:port). */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}
