/** What each limit holder (auth/principal.ts limitHolder: a key, or an open server's client address) holds now. */
export class HolderCounts {
  private readonly counts = new Map<string, number>();

  of(holder: string): number {
    return this.counts.get(holder) ?? 0;
  }

  add(holder: string): void {
    this.counts.set(holder, this.of(holder) + 1);
  }

  /** One fewer; a holder at none is forgotten, so the map holds only those holding something. */
  remove(holder: string): void {
    const left = this.of(holder) - 1;
    if (left > 0) this.counts.set(holder, left);
    else this.counts.delete(holder);
  }

  get total(): number {
    let n = 0;
    for (const held of this.counts.values()) n += held;
    return n;
  }
}
