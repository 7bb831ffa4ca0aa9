/**
 * What a test sees of one live subscription: results in arrival order, and
 * waits that resolve on a condition (never a sleep), failing with what
 * arrived so far when the condition does not come true in time.
 */
export class LiveResults<T> {
  readonly items: T[] = [];
  readonly errors: unknown[] = [];
  completed = false;
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  push(item: T) {
    this.items.push(item);
    this.notify();
  }

  error(error: unknown) {
    this.errors.push(error);
    this.notify();
  }

  complete(closeCode?: number) {
    this.completed = true;
    this.closeCode ??= closeCode;
    this.notify();
  }

  async until(condition: (items: T[]) => boolean, what: string, timeoutMs = 10_000): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.items)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${this.items.length} items, errors ${JSON.stringify(this.errors)}, completed ${this.completed}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items;
  }

  async untilComplete(timeoutMs = 10_000) {
    await this.until(() => this.completed, 'the subscription to complete', timeoutMs);
  }

  private notify() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `what` may be a function, to describe the state at the moment of timing out. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
