import { describe, expect, it } from 'vitest';
import { Channel } from '../src/live/channel.js';

describe('subscriber channel', () => {
  it('on overflow reports the last item the consumer read, not the last one buffered, then ends', async () => {
    const channel: Channel<number> = new Channel<number>(3, (): Error => new Error(`resume after ${channel.lastRead}`), () => undefined);
    channel.push([1]);
    expect(await channel.next()).toEqual({ value: [1], done: false });
    channel.push([2, 3]);
    channel.push([4, 5]);
    const failure = await channel.next();
    expect(failure.value).toBeInstanceOf(Error);
    expect((failure.value as Error).message).toBe('resume after 1');
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });

  it('hands a push straight to a waiting consumer and ends cleanly on return()', async () => {
    const channel = new Channel<number>(2, () => new Error('overflow'), () => undefined);
    const pending = channel.next();
    channel.push([7, 8, 9]);
    expect(await pending).toEqual({ value: [7, 8, 9], done: false });
    expect(channel.lastRead).toBe(9);
    await channel.return();
    expect(channel.closed).toBe(true);
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });
});
