import type { Output, Processor, Step } from './processor.js';
import { bucketStart } from './series.js';

/** A window shape: tumbling when hopMs === sizeMs, hopping (overlapping) when hopMs < sizeMs. */
export interface WindowSpec {
  sizeMs: number;
  hopMs: number;
}

/** One open window and what it has accumulated so far. */
export interface OpenWindow<Acc> {
  sizeMs: number;
  hopMs: number;
  start: number;
  acc: Acc;
}

/**
 * The open windows of one series, shared by every windowed processor
 * (windows, candles). `series` is the identity outputs need; it is taken from
 * the first event, since onWatermark has no event to read it from.
 */
export interface WindowedState<Acc, Series> {
  series: Series | null;
  /** Keyed by `${sizeMs}/${hopMs}/${start}`; a plain object so the state survives JSON. */
  open: Record<string, OpenWindow<Acc>>;
  /** Earliest end among open windows, null when none: lets onWatermark return at once when nothing closes. */
  nextEnd: number | null;
}

export interface WindowedOptions<Acc, Series, In, Out extends Output> {
  name: string;
  /** Already validated, without duplicates: a duplicate would add every event to one window twice. */
  specs: readonly WindowSpec[];
  seriesOf(event: In): Series;
  timeOf(event: In): number;
  create(): Acc;
  /** A copy the processor then owns: a window's accumulator in the state it was given is never changed. */
  copy(acc: Acc): Acc;
  /** Adds an event to an accumulator this processor owns (from create or copy), in place. */
  addInPlace(acc: Acc, event: In): void;
  output(series: Series, window: OpenWindow<Acc>, closed: boolean): Out;
}

/**
 * A processor keeping keyed windows per series. An event at time t joins
 * every window [s, s + size) with s aligned to the hop and s <= t < s + size;
 * each updated window is emitted with closed: false. A watermark w closes (emits
 * with closed: true, then forgets) every window whose end <= w, in ascending
 * (sizeMs, hopMs, start) order.
 *
 * Lateness is decided with the runtime: it hands over an event older than the
 * watermark only while one of its windows is open (openUntil), with that
 * watermark (`behind`), and the event joins only the windows ending after it.
 * A window is never opened again once closed.
 *
 * Never mutates the state it is given: the runtime may still hold it for a checkpoint.
 */
export function createWindowedProcessor<Acc, Series, In, Out extends Output>(
  options: WindowedOptions<Acc, Series, In, Out>,
): Processor<WindowedState<Acc, Series>, In, Out> {
  const { name, specs, seriesOf, timeOf, create, copy, addInPlace, output } = options;
  /**
   * Adds `events` to the windows holding them, starting from `state`: one copy of the open windows, and
   * each touched window emitted once, with what it holds after the last event, in the order first touched.
   * A window touched in this call is a new object with its own accumulator, updated in place by later
   * events (found by its start, per spec); the windows of `state` are never changed.
   */
  const addEvents = (state: WindowedState<Acc, Series>, events: readonly In[], behind?: readonly (number | undefined)[]): Step<WindowedState<Acc, Series>, Out> => {
    const series = state.series ?? seriesOf(events[0]!);
    const open = { ...state.open };
    const touched: OpenWindow<Acc>[] = [];
    const mine = specs.map(() => new Map<number, OpenWindow<Acc>>());
    let nextEnd = state.nextEnd;
    for (let e = 0; e < events.length; e++) {
      const event = events[e]!;
      const time = timeOf(event);
      // Windows ending at or before the watermark the event came behind were closed: it joins none of them.
      const closedThrough = behind?.[e] ?? -Infinity;
      for (let s = 0; s < specs.length; s++) {
        const { sizeMs, hopMs } = specs[s]!;
        const made = mine[s]!;
        // Oldest window first; the newest one holding `time` starts at its hop bucket.
        for (let start = bucketStart(time, hopMs) - sizeMs + hopMs; start <= time; start += hopMs) {
          if (start + sizeMs <= closedThrough) continue;
          const window = made.get(start);
          if (window) {
            addInPlace(window.acc, event);
            continue;
          }
          const key = `${sizeMs}/${hopMs}/${start}`;
          const before = open[key];
          const acc = before ? copy(before.acc) : create();
          addInPlace(acc, event);
          const fresh = { sizeMs, hopMs, start, acc };
          open[key] = fresh;
          made.set(start, fresh);
          touched.push(fresh);
          if (nextEnd === null || start + sizeMs < nextEnd) nextEnd = start + sizeMs;
        }
      }
    }
    return { state: { series, open, nextEnd }, out: touched.map((window) => output(series, window, false)) };
  };
  return {
    name,
    init: () => ({ series: null, open: {}, nextEnd: null }),
    onEvent: (state, event, behind) => addEvents(state, [event], behind === undefined ? undefined : [behind]),
    onEvents: (state, events, behind) => (events.length === 0 ? { state, out: [] } : addEvents(state, events, behind)),
    openUntil: (time) => Math.max(...specs.map(({ sizeMs, hopMs }) => bucketStart(time, hopMs) + sizeMs)),
    onWatermark(state, watermark): Step<WindowedState<Acc, Series>, Out> {
      if (state.nextEnd === null || state.nextEnd > watermark || state.series === null) return { state, out: [] };
      const open: Record<string, OpenWindow<Acc>> = {};
      const closed: OpenWindow<Acc>[] = [];
      let nextEnd: number | null = null;
      for (const [key, window] of Object.entries(state.open)) {
        const end = window.start + window.sizeMs;
        if (end <= watermark) {
          closed.push(window);
        } else {
          open[key] = window;
          if (nextEnd === null || end < nextEnd) nextEnd = end;
        }
      }
      closed.sort((a, b) => a.sizeMs - b.sizeMs || a.hopMs - b.hopMs || a.start - b.start);
      const { series } = state;
      return { state: { series, open, nextEnd }, out: closed.map((window) => output(series, window, true)) };
    },
  };
}

/** Throws unless every spec is a positive whole number of ms and specs do not repeat. */
export function validateWindowSpecs(specs: readonly WindowSpec[], what: string): void {
  if (specs.length === 0) throw new Error(`${what}: at least one window is required`);
  const seen = new Set<string>();
  for (const { sizeMs, hopMs } of specs) {
    const label = `${what}: window { sizeMs: ${sizeMs}, hopMs: ${hopMs} }`;
    if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0) throw new Error(`${label}: sizeMs must be a positive whole number of milliseconds`);
    if (!Number.isSafeInteger(hopMs) || hopMs <= 0) throw new Error(`${label}: hopMs must be a positive whole number of milliseconds`);
    if (sizeMs % hopMs !== 0) throw new Error(`${label}: sizeMs must be a whole multiple of hopMs`);
    const key = `${sizeMs}/${hopMs}`;
    if (seen.has(key)) throw new Error(`${label} appears twice`);
    seen.add(key);
  }
}
