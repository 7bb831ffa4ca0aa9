/**
 * What the page exposes on `window.__vigil` for tests and the console: the
 * store's cursors and counts (set in store.ts). test/dashboard.test.ts reads
 * the same declaration.
 */
export interface VigilProbe {
  /** The readings subscription's last cursor applied. */
  readonly lastCursor: string | null;
  /** Cursors the readings subscription was started or resumed after, oldest first. */
  readonly resumes: string[];
  /** The seq of the newest alert transition applied, or named by the page's first read of open alerts. */
  readonly lastAlertSeq: string | null;
  /** Seqs the alerts subscription was started or resumed after, oldest first. */
  readonly alertResumes: string[];
  readonly readingsApplied: number;
  readonly patients: number;
  relist(): Promise<void>;
}

declare global {
  interface Window {
    __vigil: VigilProbe;
  }
}
