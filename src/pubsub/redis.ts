import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import { windowAt } from '../auth/rate-limit.js';
import { redactUrl, type Logger } from '../log.js';
import { PrefixHold } from './prefix-hold.js';
import { PrefixInUse, type PrefixOwner, type PubSub, type SubscribeOptions } from './pubsub.js';

const identity = (value: unknown) => value;

/**
 * INCR of one window's key, which expires a window after that window ends (room for clocks that differ). The
 * expiry is relative (ms from now, as this node reckons it), so a Redis whose clock differs from the nodes' keeps
 * the key as long as they count in it.
 */
const COUNT_IN_WINDOW = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** How long a command on the publishing connection waits for its reply before it fails. */
const REPLY_TIMEOUT_MS = 1_000;

/** The two connections' recent history: for the reconnects metric and a reason /ready can show. */
interface LinkState {
  reconnects: number;
  /** The last connection error, until a connection is ready again. */
  lastError: string | undefined;
  /** close() was called: the connections' ends are ours, not an outage. */
  closing: boolean;
}

/**
 * ioredis sends SUBSCRIBE again after a reconnect, and graphql-redis-subscriptions sends UNSUBSCRIBE and PUNSUBSCRIBE,
 * each without listening to the command's promise. When the connection drops before the reply (an outage, a Redis
 * that goes away again), the promise rejects with nobody listening, and Node ends the process on an unhandled
 * rejection. Their outcome is the link's to tell (`lost`, `resubscribed`); a caller that awaits one still hears it.
 */
function hearDroppedSubscriptionReplies(client: Redis): void {
  const commands = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']) {
    const send = commands[name]!.bind(client);
    commands[name] = (...args) => {
      const reply = send(...args);
      reply.catch(() => undefined);
      return reply;
    };
  }
}

/**
 * Redis through graphql-redis-subscriptions: one publisher and one subscriber
 * connection per node, messages passed through as the strings we serialized
 * (no second JSON round trip). ioredis reconnects on its own and
 * re-subscribes; what was published meanwhile is repaired by the stream tail.
 *
 * Received messages stay bytes until a subscription takes them: ioredis's
 * `message` event decodes each one to a string, and graphql-redis-subscriptions
 * then encodes it back to bytes for a deserializer (three passes over every
 * message, a node's own publishes included). On `messageBuffer` a node's own
 * message is dropped by its first bytes and another node's is decoded once.
 */
export class RedisPubSubDriver implements PubSub {
  readonly driver = 'redis' as const;
  /** This deployment's hold on the channel prefix (claim). */
  readonly hold: PrefixHold;

  private constructor(
    private readonly engine: RedisPubSub,
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly link: LinkState,
    private readonly resubscribed: Set<() => void>,
    private readonly lost: Set<() => void>,
    url: string,
    log: Logger,
  ) {
    // While another deployment holds the prefix, nothing is sent or taken on it (publish, subscribe), and listeners
    // hear it as a lost connection: the stream tails go on from the database alone, and catch up when it is back.
    const listeners = (taken: boolean) => (taken ? lost : resubscribed).forEach((listener) => listener());
    this.hold = new PrefixHold({ prefix, url, redis: publisher, run: (command) => this.command(command), log, onTaken: listeners });
  }

  onResubscribed(listener: () => void): () => void {
    this.resubscribed.add(listener);
    return () => this.resubscribed.delete(listener);
  }

  onLost(listener: () => void): () => void {
    this.lost.add(listener);
    return () => this.lost.delete(listener);
  }

  /** Connections to Redis re-established after a loss (publisher and subscriber each count). */
  get reconnects(): number {
    return this.link.reconnects;
  }

  static async connect(url: string, prefix: string, log: Logger): Promise<RedisPubSubDriver> {
    const options = {
      lazyConnect: true,
      // Publishing must not hang an ingest while Redis is away: fail fast and let the tail repair.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    };
    // A Redis that stops answering without closing the connection must not hold up the rate limit's count (which
    // then counts on the node), /ready's ping or a publish: each fails after a second instead of waiting, and the
    // connection is then dropped and made again (see `command`). What was sent and not answered is not sent again:
    // a publish is repaired by the tail, and a count sent twice would count twice.
    const publisher = new Redis(url, {
      ...options,
      commandTimeout: REPLY_TIMEOUT_MS,
      autoResendUnfulfilledCommands: false,
      connectionName: 'vigil-pub',
    });
    const subscriber = new Redis(url, { ...options, enableOfflineQueue: true, connectionName: 'vigil-sub' });
    hearDroppedSubscriptionReplies(subscriber);
    const link: LinkState = { reconnects: 0, lastError: undefined, closing: false };
    const resubscribed = new Set<() => void>();
    const lost = new Set<() => void>();
    for (const [name, client] of [
      ['publisher', publisher],
      ['subscriber', subscriber],
    ] as const) {
      // One warning per outage and one line when it ends; each retry only at debug.
      let downSince: number | undefined;
      // Messages stop arriving the moment the subscriber's connection goes: those listening are told at once.
      const wentDown = () => {
        downSince = Date.now();
        if (name === 'subscriber') lost.forEach((listener) => listener());
      };
      client.on('error', (error: Error) => {
        link.lastError = error.message;
        if (downSince !== undefined) return log.debug({ connection: name, err: error.message }, 'redis still unreachable');
        log.warn({ connection: name, err: error.message }, 'redis connection lost; reconnecting');
        wentDown();
      });
      // Redis may close a connection without an error: CLIENT KILL, a subscriber past its output buffer limit (when
      // messages are being lost), a proxy's reset. What was published until it is back never arrives either.
      client.on('close', () => {
        if (downSince !== undefined || link.closing) return;
        log.warn({ connection: name }, 'redis connection closed; reconnecting');
        wentDown();
      });
      client.on('ready', () => {
        if (downSince === undefined) return;
        link.reconnects++;
        link.lastError = undefined;
        log.info({ connection: name, downMs: Date.now() - downSince }, 'redis connection restored');
        downSince = undefined;
        // ioredis sends the SUBSCRIBEs again after 'ready'; a PING's reply comes after theirs, on the same connection.
        if (name === 'subscriber') {
          subscriber.ping().then(
            () => resubscribed.forEach((listener) => listener()),
            () => undefined,
          );
        }
      });
    }
    try {
      await Promise.all([publisher.connect(), subscriber.connect()]);
    } catch (error) {
      link.closing = true;
      publisher.disconnect();
      subscriber.disconnect();
      // ioredis rejects with "Connection is closed."; the socket's own error says why.
      throw new Error(`cannot reach Redis at ${redactUrl(url)} (REDIS_URL): ${link.lastError ?? (error as Error).message}`);
    }
    const engine = new RedisPubSub({
      publisher,
      subscriber,
      serializer: identity as (value: unknown) => string,
      deserializer: identity as (value: string | Buffer) => unknown,
      messageEventName: 'messageBuffer',
      pmessageEventName: 'pmessageBuffer',
    });
    return new RedisPubSubDriver(engine, publisher, subscriber, prefix, link, resubscribed, lost, url, log);
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.hold.taken !== undefined) return;
    await this.command(() => this.engine.publish(this.prefix + channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void, { skipPrefix }: SubscribeOptions = {}) {
    const skip = skipPrefix === undefined ? undefined : Buffer.from(skipPrefix, 'latin1');
    const id = await this.engine.subscribe(this.prefix + channel, (message: Buffer) => {
      if (this.hold.taken !== undefined) return;
      if (skip && message.length >= skip.length && message.compare(skip, 0, skip.length, 0, skip.length) === 0) return;
      onMessage(message.toString('utf8'));
    });
    return async () => this.engine.unsubscribe(id);
  }

  readonly countInWindow = async (key: string, windowMs: number) => {
    const now = Date.now();
    const { index, endsAt } = windowAt(windowMs, now);
    const keepMs = endsAt + windowMs - now;
    const count = (await this.command(() => this.publisher.eval(COUNT_IN_WINDOW, 1, `${this.prefix}rate:${key}:${index}`, keepMs))) as number;
    return { count, resetInMs: Math.max(1, endsAt - Date.now()) };
  };

  /** Holds the channel prefix for `owner`'s deployment while this node runs (pubsub/prefix-hold.ts). */
  claim(owner: PrefixOwner): Promise<void> {
    return this.hold.claim(owner);
  }

  async ping(): Promise<void> {
    if (this.hold.taken !== undefined) throw new PrefixInUse(this.hold.taken);
    await this.command(() => this.publisher.ping());
    // The publishing connection alone says nothing of the one that brings other nodes' messages.
    const { status } = this.subscriber;
    if (status !== 'ready') throw new Error(`subscriber connection not ready (${status})${this.link.lastError ? `: ${this.link.lastError}` : ''}`);
  }

  /**
   * Runs a command on the publishing connection. While that connection is not ready it fails at once: ioredis
   * would write some commands (PUBLISH among them) to a connection still being made, where a hung Redis leaves
   * them to pile up, and its own words when it refuses name its internals where /ready's reader needs the
   * connection's state and why it failed. When a command's reply does not come within a second, the connection
   * is dropped and made again, so until it is ready every command fails at once rather than each waiting out its
   * own second, and publishes stop piling up unsent behind a Redis that may never read them.
   */
  private async command<T>(run: () => Promise<T>): Promise<T> {
    const { status, stream } = this.publisher;
    if (status !== 'ready' || !stream?.writable) {
      // A dropped connection reads 'ready' until its close event: it is closing.
      const state = status === 'ready' ? 'close' : status;
      throw new Error(`not connected (${state})${this.link.lastError ? `: ${this.link.lastError}` : ''}`);
    }
    try {
      return await run();
    } catch (error) {
      // Dropped before the caller hears of it, so what the caller sends next is refused rather than sent to it.
      if ((error as Error).message === 'Command timed out') await this.dropIfSilent(stream);
      throw error;
    }
  }

  /**
   * Drops `stream` if Redis has sent nothing on it. Not ioredis's socketTimeout: its timer outlives the connection
   * it was set on and can drop the next one (ioredis #2147). The check waits one turn of the event loop, so a
   * reply that arrived while this process was too busy to read it (the timer fires before pending reads are
   * handled) keeps the connection; and only the connection the command was sent on is dropped, not one made since.
   */
  private async dropIfSilent(stream: NonNullable<Redis['stream']>) {
    const bytesRead = stream.bytesRead;
    await new Promise((resolve) => setImmediate(resolve));
    if (stream !== this.publisher.stream || stream.destroyed || stream.bytesRead !== bytesRead) return;
    this.link.lastError = `no reply within ${REPLY_TIMEOUT_MS} ms`;
    stream.destroy(new Error(this.link.lastError));
  }

  /** Quits politely; if Redis does not answer within a second (it may be down), drops the sockets. */
  async close(): Promise<void> {
    await this.hold.release();
    this.link.closing = true;
    const quit = this.engine.close().then(() => true, () => false);
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref());
    if (!(await Promise.race([quit, timeout]))) {
      this.publisher.disconnect();
      this.subscriber.disconnect();
    }
  }
}
