import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redactUrl, type Logger } from '../log.js';
import { PrefixInUse, type PrefixOwner } from './pubsub.js';

/** Redis's own clock, in ms: every node of a deployment counts expiries on the same clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Whether KEYS[1] holds ARGV[1]'s deployment's record; `held` is then its record. A record not JSON of ours is another's. */
const OURS = `local held = redis.call('GET', KEYS[1])
local ours = false
if held then
  local ok, holder = pcall(cjson.decode, held)
  ours = ok and type(holder) == 'table' and holder.id == ARGV[1]
end`;

/**
 * KEYS[1]: the hold (the deployment's record); KEYS[2]: its nodes, scored by when each one's renewal lapses.
 * Sets or renews the hold and this node's place for ARGV[3] ms, unless another deployment holds it: then its record.
 */
const CLAIM = `${OURS}
if held and not ours then return held end
${NOW}
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
return false`;

/** Takes this node (ARGV[2]) off the hold, and gives the hold up if no node of its deployment is left. */
const RELEASE = `${OURS}
if not ours then return 0 end
${NOW}
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`;

/** How long a prefix stays held after its deployment's last node stopped renewing it (killed, or cut off). */
const HOLD_TTL_MS = 30_000;
const RENEW_EVERY_MS = 10_000;

/**
 * A Redis channel prefix held by one deployment (its database: db/deployment.ts), so that two deployments on one
 * Redis never share their streams. The hold is `<prefix>deployment`; the deployment's nodes that renew it are
 * `<prefix>deployment:nodes`. Each node renews every 10 s, and at once when its connection is made again (a Redis
 * restarted empty); the hold lapses 30 s after the last node stopped renewing, and a node that stops gives it up
 * only when it is the last.
 */
export class PrefixHold {
  /** Why the prefix is not this deployment's, since a renewal found another deployment holding it. */
  taken: string | undefined;
  private owner: PrefixOwner | undefined;
  private renewal: NodeJS.Timeout | undefined;
  private readonly node = randomBytes(8).toString('hex');
  private readonly keys: [string, string];

  constructor(
    private readonly options: {
      prefix: string;
      url: string;
      /** The publishing connection, which the hold's commands are run on (through `run`). */
      redis: Redis;
      run: <T>(command: () => Promise<T>) => Promise<T>;
      log: Logger;
      /** Called when a renewal finds the prefix taken by another deployment (true), and when it is this one's again. */
      onTaken?: (taken: boolean) => void;
    },
  ) {
    this.keys = [`${options.prefix}deployment`, `${options.prefix}deployment:nodes`];
  }

  /** Holds the prefix for `owner`; rejects with PrefixInUse, naming the holder, when another deployment holds it. */
  async claim(owner: PrefixOwner): Promise<void> {
    const { prefix, log } = this.options;
    let holder: string | undefined;
    try {
      holder = await this.hold(owner);
    } catch (error) {
      const reason = (error as Error).message;
      // A Redis user confined by ACL to pub/sub (no keys, or no EVAL) ran before this check existed: it still runs.
      if (reason.startsWith('NOPERM')) {
        log.warn({ prefix, err: reason }, `this Redis user may not read or write ${this.keys[0]} (ACL): nothing keeps another deployment off this channel prefix, so make sure none uses it`);
        return;
      }
      throw new Error(`cannot hold REDIS_CHANNEL_PREFIX "${prefix}" on Redis at ${redactUrl(this.options.url)} (REDIS_URL): ${reason}`, { cause: error });
    }
    if (holder !== undefined) throw new PrefixInUse(this.inUse(holder));
    this.owner = owner;
    this.renewal = setInterval(() => void this.renew(), RENEW_EVERY_MS).unref();
    // Made again after a loss: a Redis that restarted empty holds nothing, and another deployment may be starting.
    this.options.redis.on('ready', this.renewNow);
  }

  /**
   * Renews the hold now (every 10 s otherwise). One that finds another deployment holding the prefix makes `taken`
   * say so (for /ready and the driver, which then neither sends nor takes messages on it) and logs an error.
   */
  async renew(): Promise<void> {
    if (!this.owner) return;
    let holder: string | undefined;
    try {
      holder = await this.hold(this.owner);
    } catch {
      // Redis away: the link reports it, and the hold is renewed once it is back.
      return;
    }
    const taken = holder === undefined ? undefined : this.inUse(holder);
    const { prefix, log } = this.options;
    const was = this.taken;
    this.taken = taken;
    if (taken !== undefined && was === undefined) {
      log.error({ prefix }, `${taken}. Until it is this deployment's again, this node neither publishes on it nor takes what is published there: its live streams come from the database alone, a poll interval late`);
      this.options.onTaken?.(true);
    }
    if (taken === undefined && was !== undefined) {
      log.info({ prefix }, "the channel prefix is this deployment's again: publishing and receiving on it again");
      this.options.onTaken?.(false);
    }
  }

  /** Stops renewing, and gives the hold up if this node is its deployment's last. */
  async release(): Promise<void> {
    clearInterval(this.renewal);
    this.options.redis.off('ready', this.renewNow);
    if (!this.owner) return;
    const owner = this.owner;
    this.owner = undefined;
    await this.options.run(() => this.options.redis.eval(RELEASE, 2, ...this.keys, owner.id, this.node)).catch(() => undefined);
  }

  private readonly renewNow = () => void this.renew();

  /** Undefined once the prefix is held for `owner`; else the holder's record. */
  private async hold(owner: PrefixOwner): Promise<string | undefined> {
    const held = (await this.options.run(() => this.options.redis.eval(CLAIM, 2, ...this.keys, owner.id, JSON.stringify(owner), HOLD_TTL_MS, this.node))) as string | null;
    return held ?? undefined;
  }

  private inUse(record: string): string {
    let holder = 'a deployment of another database';
    try {
      const { database, host } = JSON.parse(record) as Partial<PrefixOwner>;
      if (typeof database === 'string' && typeof host === 'string') holder = `the deployment of ${database} (a node on ${host})`;
    } catch {
      holder = `something else (${this.keys[0]} holds ${JSON.stringify(record.slice(0, 80))})`;
    }
    return (
      `REDIS_CHANNEL_PREFIX "${this.options.prefix}" is in use on this Redis by ${holder}: deployments sharing a prefix receive each ` +
      `other's readings, trades and transactions, and compute windows, alerts and fraud signals from them. Give each ` +
      `deployment a prefix of its own. A deployment gives its prefix up when its last node stops, or ${HOLD_TTL_MS / 1000} s ` +
      `after the last of them was killed`
    );
  }
}
