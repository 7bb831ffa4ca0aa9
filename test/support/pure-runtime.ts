import { expect } from 'vitest';
import type { Output, Processor } from '../../src/processors/processor.js';

/**
 * What the tests' stand-in runtimes check on every processor step: states
 * survive a JSON checkpoint unchanged, and a processor never mutates the
 * state it is given.
 */

/** Where `value` holds something JSON would not give back unchanged, or null. */
export function notJson(value: unknown): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? null : `: ${Object.is(value, -0) ? '-0' : value}`;
  if (typeof value !== 'object' || (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)) return `: ${String(value)}`;
  for (const [key, item] of Object.entries(value)) {
    const problem = notJson(item);
    if (problem !== null) return `.${key}${problem}`;
  }
  return null;
}

/** Frozen all the way down: a processor that mutates the state it is given then throws (modules are strict). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** The final watermark: every window closes. (Infinity would not survive a JSON checkpoint.) */
export const END_OF_TIME = 8.64e15;

export interface Plan {
  /** Call onWatermark(max time seen - lateness) after the i-th delivered event when true. */
  watermarkAfter?: boolean[];
  lateness?: number;
  /** JSON round-trip every state just before the i-th event, as a restart from a checkpoint would. */
  checkpointAt?: number;
}

/** An event the stand-in gave the processor, and the watermark it came behind (undefined: on time). */
export interface Kept<In> {
  event: In;
  behind?: number;
}

/**
 * What the runtime does around a processor: one state per key, a watermark of
 * max event time minus lateness, an event older than it given (with `behind`)
 * only to a processor with openUntil while an output holding it is open and
 * dropped otherwise, a final watermark. Asserts that every state and output
 * survives JSON unchanged, and freezes each state and event so that a
 * processor mutating its input throws.
 */
export function runPure<S, In extends { time: number }, Out extends Output>(
  processor: Processor<S, In, Out>,
  keyOf: (event: In) => string,
  events: readonly In[],
  plan: Plan = {},
) {
  let states = new Map<string, S>();
  const out: Out[] = [];
  const taken: Kept<In>[] = [];
  let watermark = -Infinity;
  let maxTime = -Infinity;
  const keep = (key: string, step: { state: S; out: Out[] }) => {
    const problem = notJson(step.state) ?? notJson(step.out);
    if (problem !== null) expect.fail(`not JSON-safe: ${problem}`);
    states.set(key, deepFreeze(step.state));
    out.push(...step.out);
  };
  const advance = (to: number) => {
    watermark = to;
    for (const [key, state] of states) keep(key, processor.onWatermark(state, to));
  };
  events.forEach((event, i) => {
    if (i === plan.checkpointAt) {
      const restored = new Map([...states].map(([key, state]) => [key, JSON.parse(JSON.stringify(state)) as S]));
      expect(restored).toStrictEqual(states);
      states = restored;
    }
    const behind = event.time < watermark ? watermark : undefined;
    if (behind !== undefined && !(processor.openUntil && processor.openUntil(event.time) > behind)) return;
    taken.push({ event, behind });
    const key = keyOf(event);
    keep(key, processor.onEvent(states.get(key) ?? processor.init(key), deepFreeze({ ...event }), behind));
    maxTime = Math.max(maxTime, event.time);
    if (plan.watermarkAfter?.[i]) advance(maxTime - (plan.lateness ?? 0));
  });
  advance(END_OF_TIME);
  return { out, kept: taken.map((k) => k.event), taken, states };
}
