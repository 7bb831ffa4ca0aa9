/**
 * Prints bench/results.json as the markdown tables of docs/operations.md
 * (one per mode, with the machine): `npm run bench:table`.
 */
import { readFileSync } from 'node:fs';
import { formatValue, type Figure } from './report.js';

interface Entry {
  machine: { cpus: number; cpuModel?: string; memoryGiB: number; node: string };
  figures: (Figure & { measuredAt: string; commit: string })[];
}

const results = JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8')) as Record<string, Entry>;
const titles: Record<string, string> = { embedded: 'Embedded (PGlite + in-process pub/sub)', servers: 'PostgreSQL 15 + Redis 7 (local servers)' };
const number = (n: number) => (Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : formatValue(n));

for (const [mode, entry] of Object.entries(results)) {
  const { machine } = entry;
  console.log(`### ${titles[mode] ?? mode}\n`);
  console.log(`Machine: ${machine.cpus} × ${machine.cpuModel ?? 'CPU'}, ${machine.memoryGiB} GiB, Node ${machine.node}.\n`);
  console.log('| figure | unit | platform | raw baseline | ratio | target | measured |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of entry.figures) {
    const when = f.measuredAt.slice(0, 16).replace('T', ' ');
    console.log(`| ${f.name} | ${f.unit} | ${number(f.platform)} | ${f.baseline === null ? '—' : number(f.baseline)} | ${f.ratio === null ? '—' : f.ratio.toFixed(2)} | ${f.target ?? ''} | ${when} (${f.commit}) |`);
  }
  console.log('');
}
