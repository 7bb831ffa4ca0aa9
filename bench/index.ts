/**
 * `npm run bench [-- name ...]`: runs the benchmarks (not part of `npm test`),
 * prints each platform figure beside its raw baseline from the same run, and
 * records them in bench/results.json under the mode (embedded or servers).
 *
 *   ingest      GraphQL batch ingest vs multi-row insert
 *   processors  processors, runtime catch-up and end-to-end delay vs hand-written loops and SQL
 *   live        commit → subscriber latency (graphql-ws, SSE) and top delivery rate vs Redis + raw ws/SSE
 *   memory      RSS per idle subscription vs a raw ws connection; RSS and heap over a steady run
 *   history     bucketed history query through GraphQL vs the same SQL sent directly
 *   dashboard   frame times of the wall (200 tiles at 5 Hz) in Chromium vs a raw page at the same rate
 *
 * Each module's header lists its settings (flags for ingest/processors, BENCH_* variables for the others).
 * test/bench-smoke.test.ts runs ingest, processors and history at tiny sizes;
 * test/bench-smoke-live.test.ts runs live and memory; test/dashboard.test.ts runs dashboard.
 */
import { existsSync } from 'node:fs';
import { CHROMIUM } from './support/chromium.js';
import { printTable, saveResults, type Figure } from './report.js';

// Imported when run, so a benchmark's module (and its argv parsing) loads only when it is wanted.
const benchmarks: Record<string, () => Promise<Figure[]>> = {
  ingest: async () => (await import('./ingest.js')).benchIngest(),
  processors: async () => (await import('./processors.js')).benchProcessors(),
  live: async () => (await import('./live.js')).benchLive(),
  memory: async () => (await import('./memory.js')).benchMemory(),
  history: async () => (await import('./history.js')).benchHistory(),
  dashboard: async () => (await import('./dashboard.js')).benchDashboard(),
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-') && a in benchmarks);
const mode = process.env.DATABASE_URL ? 'servers' : 'embedded';
const results = new URL('./results.json', import.meta.url).pathname;

let names = wanted.length ? wanted : Object.keys(benchmarks);
if (!wanted.length && !existsSync(CHROMIUM)) {
  console.warn(`dashboard skipped: it needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  names = names.filter((name) => name !== 'dashboard');
}
const figures: Figure[] = [];
for (const name of names) {
  const measured = await benchmarks[name]!();
  figures.push(...measured);
  // Saved as each finishes: a later benchmark that fails loses none of the earlier ones' figures.
  saveResults(results, mode, measured);
}
console.log(`\nmode: ${mode}`);
printTable(figures);
