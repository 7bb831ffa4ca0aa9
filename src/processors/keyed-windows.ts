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
  add(acc: Acc, event: In): Acc;
  output(series: Series, window: OpenWindow<Acc>, closed: boolean): Out;
}

/**
 * A processor keeping keyed windows per series. An event at time t joins
 * every window [s, s + size) with s aligned to the hop and s <= t < s + size;
 * each updated window is emitted with closed: false. A watermark w closes (emits
 * with closed: true, then forgets) every window whose end <= w, in ascending
 * (sizeMs, hopMs, start) order.
 *
 * Lateness is not decided here: the runtime drops events older than the
 * watermark before they arrive, so no event can reach a closed window. If one
 * did, the window would simply open again, fresh.
 *
 * Never mutates the state it is given: the runtime may still hold it for a checkpoint.
 */
export function createWindowedProcessor<Acc, Series, In, Out extends Output>(
  options: WindowedOptions<Acc, Series, In, Out>,
): Processor<WindowedState<Acc, Series>, In, Out> {
  const { name, specs, seriesOf, timeOf, create, add, output } = options;
  /**
   * Adds `events` to the windows holding them, starting from `state`: one copy of the open windows, and
   * each touched window emitted once, with what it holds after the last event, in the order first touched.
   * A window made in this call is this call's own, so later events update it in place; the windows of
   * `state` are never changed.
   */
  const addEvents = (state: WindowedState<Acc, Series>, events: readonly In[]): Step<WindowedState<Acc, Series>, Out> => {
    const series = state.series ?? seriesOf(events[0]!);
    const open = { ...state.open };
    const touched = new Map<string, OpenWindow<Acc>>();
    let nextEnd = state.nextEnd;
    for (const event of events) {
      const time = timeOf(event);
      for (const { sizeMs, hopMs } of specs) {
        // Oldest window first; the newest one holding `time` starts at its hop bucket.
        for (let start = bucketStart(time, hopMs) - sizeMs + hopMs; start <= time; start += hopMs) {
          const key = `${sizeMs}/${hopMs}/${start}`;
          const mine = touched.get(key);
          if (mine) {
            mine.acc = add(mine.acc, event);
            continue;
          }
          const window = { sizeMs, hopMs, start, acc: add(open[key]?.acc ?? create(), event) };
          open[key] = window;
          touched.set(key, window);
          if (nextEnd === null || start + sizeMs < nextEnd) nextEnd = start + sizeMs;
        }
      }
    }
    const out: Out[] = [];
    for (const window of touched.values()) out.push(output(series, window, false));
    return { state: { series, open, nextEnd }, out };
  };
  return {
    name,
    init: () => ({ series: null, open: {}, nextEnd: null }),
    onEvent: (state, event) => addEvents(state, [event]),
    onEvents: (state, events) => (events.length === 0 ? { state, out: [] } : addEvents(state, events)),
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
