import { describe, expect, it } from 'vitest';
import { News2Message } from '../src/live/output-wire.js';
import { createNews2Processor } from '../src/processors/news2.js';

const six = { resp_rate: 16, spo2: 97, bp_systolic: 120, heart_rate: 75, consciousness: 0, temperature: 37 };
const score = { id: 'bed-1', sourceId: 'bed-1', time: 1_000, cursor: '7', total: 0, risk: 'LOW', highestSingle: 0, scores: { ...six }, values: { ...six } };

describe('processor outputs on pub/sub across versions (a rolling upgrade)', () => {
  it('reads a NEWS2 score from a node of the previous version, which sends no stay, as of the first stay', () => {
    expect(News2Message.parse([score])).toEqual([{ ...score, stay: null }]);
  });

  it("keeps a readmitted patient's stay, and what the processor makes goes through unchanged", () => {
    expect(News2Message.parse([{ ...score, stay: 60_000 }])[0]!.stay).toBe(60_000);
    const news2 = createNews2Processor();
    let state = news2.init('bed-1');
    let made: unknown[] = [];
    for (const [i, [metric, value]] of Object.entries(six).entries()) {
      const step = news2.onEvent(state, { sourceId: 'bed-1', metric, value, time: 1_000 + i, cursor: String(i + 1) } as never);
      state = step.state;
      made = step.out;
    }
    expect(made).toHaveLength(1);
    const sent = JSON.parse(JSON.stringify(made));
    expect(News2Message.parse(sent)).toEqual(sent);
  });
});
