import { readdirSync, readFileSync } from 'node:fs';
import { Kind, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { schema } from '../src/schema/index.js';
import { queryCost } from '../src/transport/query-cost.js';

const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) => queryCost(schema, parse(query), operationName, variables).cost;

describe('query cost', () => {
  it("lets every committed operation (the dashboard's, the tests', the benchmarks') through at the largest pages its fields allow", () => {
    const { maxCost } = loadConfig({}).limits.query;
    const documents = new URL('../documents/', import.meta.url);
    const costs: Record<string, number> = {};
    for (const file of readdirSync(documents)) {
      const document = parse(readFileSync(new URL(file, documents), 'utf8'));
      for (const operation of document.definitions) {
        if (operation.kind !== Kind.OPERATION_DEFINITION) continue;
        // Every page variable at far above any field's maximum: counted at that maximum.
        const variables = Object.fromEntries(operation.variableDefinitions?.map((v) => [v.variable.name.value, v.variable.name.value === 'first' ? 1e6 : undefined]) ?? []);
        costs[operation.name!.value] = queryCost(schema, document, operation.name!.value, variables).cost;
      }
    }
    expect(Object.keys(costs).length).toBeGreaterThan(30);
    expect(Object.entries(costs).filter(([, c]) => c > maxCost)).toEqual([]);
    // The largest: a full history (10,000 buckets) and a registration of 10,000 sources; then a page of 500 NEWS2
    // scores with their six parameters (500 edges, 500 scores, 3,000 parameters, the page and its info).
    expect(Math.max(...Object.values(costs))).toBe(10_000);
    expect(costs.News2Scores).toBe(4_002);
  });

  it("counts a connection's edges at the page asked for: literal, variable, the variable's default, the field's default; above the maximum at the maximum", () => {
    const page = '{ edges { node { value } } }';
    expect(cost(`{ readings(first: 150) ${page} }`)).toBe(1 + 150 * 2);
    expect(cost(`query($f: Int) { readings(first: $f) ${page} }`, { f: 150 })).toBe(1 + 150 * 2);
    expect(cost(`query($f: Int = 7) { readings(first: $f) ${page} }`)).toBe(1 + 7 * 2);
    expect(cost(`{ readings ${page} }`)).toBe(1 + 100 * 2);
    expect(cost(`{ alerts ${page.replace('value', 'id')} }`)).toBe(1 + 50 * 2);
    expect(cost(`{ readings(first: 5000000) ${page} }`)).toBe(1 + 1_000 * 2);
    // Not a number: its coercion error comes later; the default stands in.
    expect(cost(`query($f: Int) { readings(first: $f) ${page} }`, { f: 'many' })).toBe(1 + 100 * 2);
  });

  it('multiplies nested lists and counts scalars as nothing', () => {
    // Each source, its edge, and its newest reading of each metric named (or of the whole catalog).
    expect(cost('{ sources(first: 200) { edges { cursor node { id name latest(metrics: ["spo2", "heart_rate"]) { value time } } } } }')).toBe(1 + 200 * (2 + 2));
    expect(cost('{ metrics { name } }')).toBe(cost('{ metrics { name unit min max description } }'));
    // A fraud signal's transactions at the most a signal names (a burst's first 100), each with its location.
    expect(cost('{ fraudSignals(first: 40) { edges { node { transactions { id location { lat } } } } } }')).toBe(1 + 40 * (1 + 1 + 100 * 2));
    expect(cost('{ transactions(cardId: "c", first: 500) { edges { node { id location { lat } } } } }')).toBe(1 + 500 * 3);
  });

  it("costs a history at the buckets its range holds, and at MAX_BUCKETS when its arguments don't tell", () => {
    const history = (from: string, to: string, bucket: string) => `{ history(sourceId: "p", metric: "spo2", from: ${from}, to: ${to}, bucket: ${bucket}) { value } }`;
    expect(cost(history('"2026-01-01T00:00:00Z"', '"2026-01-02T00:00:00Z"', '"1m"'))).toBe(1_441);
    expect(cost('query($from: DateTime!, $to: DateTime!) ' + history('$from', '$to', '"1h"'), { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toBe(25);
    expect(cost(history('"2026-01-01T00:00:00Z"', '"2027-01-01T00:00:00Z"', '"1m"'))).toBe(10_000);
    expect(cost(history('"yesterday"', '"2026-01-02T00:00:00Z"', '"1m"'))).toBe(10_000);
  });

  it('sums aliases and fragments as they expand, in time linear in the document', () => {
    expect(cost('{ a: readings(first: 10) { edges { node { value } } } b: readings(first: 20) { edges { node { value } } } }')).toBe(21 + 41);
    // Each fragment spreads the next twice: 2^40 expansions of `metrics`, counted without walking them.
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    const bomb = `{ ...F0 } ${fragments} fragment F40 on Query { metrics { name } }`;
    expect(cost(bomb)).toBe(2 ** 40 * cost('{ metrics { name } }'));
    expect(queryCost(schema, parse(bomb), undefined, {}).costliest).toBe('...F0');
  });

  it('counts the operation named, among several', () => {
    const document = 'query Small { readings(first: 1) { edges { cursor } } } query Large { readings(first: 900) { edges { cursor } } }';
    expect(cost(document, {}, 'Small')).toBe(2);
    expect(cost(document, {}, 'Large')).toBe(901);
  });
});
