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
   * PostgreSQL only: cuts the link once the server has finished
   * (ReadyForQuery) an autocommit statement whose text includes
   * `sqlIncludes` and that was sent after this call, dropping its whole
   * answer. The server has committed the statement; the client never hears
   * of it. Resolves once cut.
   */
  cutAtResult(sqlIncludes: string): Promise<void>;
  /**
   * Stops forwarding in both directions, keeping every connection open (and accepting new ones, which hear
   * nothing either): a server or network that stops answering without closing anything. `thaw()` forwards again.
   */
  freeze(): void;
  thaw(): void;
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
 * It reads the PostgreSQL protocol's messages going back to the client (for
 * `cutAtResult`) and forwards everything unchanged.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const links = new Set<Link>();
  let accepted = 0;
  let port = 0;
  let server: Server | undefined;
  let resultTrap: { sqlIncludes: string; sprung: () => void } | undefined;
  let frozen = false;
  const hold = ({ client, upstream }: Link) => {
    client.pause();
    upstream.pause();
  };

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
    if (frozen) hold(link);

    // Client → server: which Sync-delimited units run a statement whose text the trap wants (Parse names
    // the statement and carries its text; Bind names the statement it runs; each Sync is answered by one
    // ReadyForQuery). The first message (startup, or an SSL request) has no type byte.
    const units: boolean[] = [];
    const statements = new Map<string, string>();
    let unitWanted = false;
    let untyped = true;
    let fromClient = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      const buffer = fromClient.length > 0 ? Buffer.concat([fromClient, chunk]) : chunk;
      let offset = 0;
      while (untyped && buffer.length - offset >= 8) {
        const length = buffer.readInt32BE(offset);
        if (buffer.length - offset < length) break;
        const code = buffer.readInt32BE(offset + 4);
        offset += length;
        untyped = code === 80877103 /* SSLRequest */ || code === 80877104 /* GSSENCRequest */;
      }
      while (!untyped && buffer.length - offset >= 5) {
        const length = buffer.readInt32BE(offset + 1);
        if (buffer.length - offset < 1 + length) break;
        const type = buffer[offset];
        if (type === 0x50 /* 'P' Parse: name, text */) {
          const nameEnd = buffer.indexOf(0, offset + 5);
          const name = buffer.toString('utf8', offset + 5, nameEnd);
          statements.set(name, buffer.toString('utf8', nameEnd + 1, buffer.indexOf(0, nameEnd + 1)));
        } else if (type === 0x42 /* 'B' Bind: portal, statement */) {
          const portalEnd = buffer.indexOf(0, offset + 5);
          const text = statements.get(buffer.toString('utf8', portalEnd + 1, buffer.indexOf(0, portalEnd + 1)));
          if (resultTrap && text?.includes(resultTrap.sqlIncludes)) unitWanted = true;
        } else if (type === 0x53 /* 'S' Sync */ || type === 0x51 /* 'Q' simple query */) {
          units.push(unitWanted);
          unitWanted = false;
        }
        offset += 1 + length;
      }
      fromClient = Buffer.from(buffer.subarray(offset));
    });

    // Server → client: whole protocol messages (type byte, int32 length including itself, payload).
    // The answer to a wanted unit is held back; at its ReadyForQuery (the statement has committed) the link is cut.
    let pending = Buffer.alloc(0);
    let started = false;
    upstream.on('data', (chunk: Buffer) => {
      const buffer = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let offset = 0;
      let forward = 0;
      while (buffer.length - offset >= 5) {
        const length = buffer.readInt32BE(offset + 1);
        if (buffer.length - offset < 1 + length) break;
        const holding = resultTrap !== undefined && units[0] === true;
        if (!holding) forward = offset + 1 + length;
        if (buffer[offset] === 0x5a /* 'Z' ReadyForQuery */ && !started) started = true; // the startup's, answering no Sync
        else if (buffer[offset] === 0x5a) {
          units.shift();
          if (holding) {
            if (forward > 0 && !client.destroyed) client.write(buffer.subarray(0, forward));
            const { sprung } = resultTrap!;
            resultTrap = undefined;
            void stopListening();
            destroyAll();
            sprung();
            return;
          }
        }
        offset += 1 + length;
      }
      // Held messages stay in `pending` until their ReadyForQuery comes.
      pending = Buffer.from(buffer.subarray(forward));
      if (forward > 0 && !client.destroyed && !client.write(buffer.subarray(0, forward))) {
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
    cutAtResult(sqlIncludes) {
      return new Promise<void>((resolve) => {
        resultTrap = { sqlIncludes, sprung: resolve };
      });
    },
    freeze() {
      frozen = true;
      for (const link of links) hold(link);
    },
    thaw() {
      frozen = false;
      for (const { client, upstream } of links) {
        client.resume();
        upstream.resume();
      }
    },
    async restore() {
      if (!server) await listen();
    },
    async close() {
      resultTrap = undefined;
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

