import type { WebSocket, WebSocketServer } from 'ws';

/** graphql-ws's close code for a socket that sent no connection_init in time. */
export const INIT_TIMED_OUT = 4408;

/**
 * The two timers graphql-ws's server keeps per socket, done without holding
 * anything per socket for its life (graphql-ws keeps both timers and their
 * closures until the socket closes, long after the first has fired):
 *
 * - keep-alive: every `pingEveryMs` each open socket is pinged, and one
 *   that has not answered the previous ping by then is cut (a peer gone
 *   without a close), from one interval for all sockets;
 * - initialisation: a socket that sends no connection_init within
 *   `initWaitMs` is closed with 4408; its timer goes once `initialised`.
 *
 * Pass graphql-ws a keep-alive and connectionInitWaitTimeout of 0 beside it.
 */
export function watchSockets(wss: WebSocketServer, options: { pingEveryMs: number; initWaitMs: number }) {
  const unanswered = new WeakSet<WebSocket>();
  // One listener function for every socket: `this` is the socket that answered.
  const answered = function (this: WebSocket) {
    unanswered.delete(this);
  };
  const initialising = new Map<WebSocket, NodeJS.Timeout>();
  wss.on('connection', (socket) => {
    socket.on('pong', answered);
    initialising.set(
      socket,
      setTimeout(() => {
        initialising.delete(socket);
        socket.close(INIT_TIMED_OUT, 'Connection initialisation timeout');
      }, options.initWaitMs),
    );
  });
  const ping = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  }, options.pingEveryMs);
  ping.unref();

  return {
    /** The socket's connection_init arrived. */
    initialised(socket: WebSocket): void {
      clearTimeout(initialising.get(socket));
      initialising.delete(socket);
    },
    stop(): void {
      clearInterval(ping);
      for (const timer of initialising.values()) clearTimeout(timer);
      initialising.clear();
    },
  };
}
