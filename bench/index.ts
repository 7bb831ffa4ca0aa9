/**
 * `npm run bench [-- name]`: runs the benchmarks (not part of `npm test`),
 * prints each platform figure beside its raw baseline from the same run, and
 * records them in bench/results.json under the mode (embedded or servers).
 */
import { printTable, saveResults, type Figure } from './report.js';

// Imported when run: ingest.ts parses argv as it loads and rejects other benchmarks' names and flags.
const benchmarks: Record<string, () => Promise<Figure[]>> = {
  ingest: async () => (await import('./ingest.js')).benchIngest(),
  processors: async () => (await import('./processors.js')).benchProcessors(),
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-') && a in benchmarks);
const mode = process.env.DATABASE_URL ? 'servers' : 'embedded';

const figures: Figure[] = [];
for (const name of wanted.length ? wanted : Object.keys(benchmarks)) figures.push(...(await benchmarks[name]!()));
console.log(`\nmode: ${mode}`);
printTable(figures);
saveResults(new URL('./results.json', import.meta.url).pathname, mode, figures);
