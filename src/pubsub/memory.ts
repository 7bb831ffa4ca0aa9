import { memoryCounter } from '../auth/rate-limit.js';
import type { PubSub, SubscribeOptions } from './pubsub.js';

/** Single-process pub/sub for the embedded default. Delivers asynchronously, like a broker. */
export class MemoryPubSub implements PubSub {
  readonly driver = 'memory' as const;
  readonly countInWindow = memoryCounter();
  readonly reconnects = 0;
  private readonly channels = new Map<string, Set<(message: string) => void>>();

  async publish(channel: string, message: string): Promise<void> {
    const handlers = this.channels.get(channel);
    if (!handlers) return;
    queueMicrotask(() => {
      for (const handler of handlers) handler(message);
    });
  }

  async subscribe(channel: string, onMessage: (message: string) => void, { skipPrefix }: SubscribeOptions = {}) {
    let handlers = this.channels.get(channel);
    if (!handlers) this.channels.set(channel, (handlers = new Set()));
    const handler = (message: string) => {
      if (skipPrefix === undefined || !message.startsWith(skipPrefix)) onMessage(message);
    };
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
    };
  }

  /** Nothing between publisher and subscriber to lose. */
  onResubscribed(): () => void {
    return () => undefined;
  }

  onLost(): () => void {
    return () => undefined;
  }

  /** No broker shared with another deployment. */
  async claim(): Promise<void> {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.channels.clear();
  }
}
