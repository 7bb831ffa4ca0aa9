/**
 * The processor contract (DESIGN.md "Processors"): pure logic over its own
 * state. No I/O, no clock, no randomness, no globals, so a processor is
 * tested with plain values and the runtime can replay it after a restart and
 * get the same outputs. State must survive JSON.stringify/parse unchanged
 * (plain objects, arrays, finite numbers, strings, booleans, null): the
 * runtime checkpoints it that way.
 *
 * Times are epoch milliseconds (event time, never wall-clock time).
 */
export interface Processor<State, In, Out extends Output> {
  /** Stable name; it keys the processor's state in checkpoints. */
  readonly name: string;
  /** Fresh state for one series key. */
  init(key: string): State;
  /**
   * One event of the series, in the order the stream delivers them (commit order). `behind`: the series' watermark
   * when the event came, given only to a processor with openUntil for an event older than it: the event belongs in
   * none of the outputs ending at or before it (they were closed), only in those still open.
   */
  onEvent(state: State, event: In, behind?: number): Step<State, Out>;
  /**
   * Optional: several events of one series at once, in stream order (the
   * runtime hands over a batch's events series by series). Must give the
   * state that folding onEvent over them gives and, for each output id, the
   * last output that fold emits, in the order the fold first emits each id:
   * the runtime keeps only the last output per id of a batch anyway. A
   * windowed processor then copies its state and emits each window it
   * touched once per batch, not once per event.
   */
  onEvents?(state: State, events: readonly In[], behind?: readonly (number | undefined)[]): Step<State, Out>;
  /**
   * Optional: the latest end among the outputs an event at `time` joins. A processor with it takes an event behind
   * the watermark while one of those is still open (a trade 20 minutes behind belongs in its hour's candle, which is
   * forming), with `behind`; without it, such an event is left out of the processor.
   */
  openUntil?(time: number): number;
  /** Event time has advanced: every event still to come has time >= watermark. */
  onWatermark(state: State, watermark: number): Step<State, Out>;
}

export interface Step<State, Out> {
  state: State;
  out: Out[];
}

/**
 * Every output names itself: `id` identifies the thing it describes (a
 * window, a candle, a flag), so a newer output with the same id supersedes an
 * older one. The runtime keeps only the last per id within a batch and
 * persists by id, which makes replays idempotent.
 */
export interface Output {
  id: string;
}
