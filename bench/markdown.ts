/**
 * Prints bench/results.json as the markdown tables of docs/operations.md
 * (one per mode, with the machine): `npm run bench:table`.
 */
import { readFileSync } from 'node:fs';
import { formatRatio, formatValue, machineLabel, type Machine, type SavedFigure } from './report.js';

interface Entry {
  machine: Machine;
  figures: SavedFigure[];
}

const results = JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8')) as Record<string, Entry>;
const titles: Record<string, string> = { embedded: 'Embedded (PGlite + in-process pub/sub)', servers: 'PostgreSQL 15 + Redis 7 (local servers)' };
const number = (n: number) => (Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : formatValue(n));

for (const [mode, entry] of Object.entries(results)) {
  const machineOf = (f: SavedFigure) => f.machine ?? machineLabel(entry.machine);
  const machines = [...new Set(entry.figures.map(machineOf))];
  console.log(`### ${titles[mode] ?? mode}\n`);
  // Figures measured on different machines say which, beside when.
  console.log(machines.length === 1 ? `Machine: ${machines[0]}.\n` : `Machines: ${machines.join('; ')} (each figure's is beside when it was measured).\n`);
  console.log('| figure | unit | platform | raw baseline | ratio | target | measured |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of entry.figures) {
    const when = `${f.measuredAt.slice(0, 16).replace('T', ' ')} (${f.commit}${machines.length > 1 ? `, ${machineOf(f)}` : ''})`;
    console.log(`| ${f.name} | ${f.unit} | ${number(f.platform)} | ${f.baseline === null ? '—' : number(f.baseline)} | ${formatRatio(f, '—')} | ${f.target ?? ''} | ${when} |`);
  }
  const notes = entry.figures.filter((f) => f.note);
  if (notes.length) console.log(`\n${notes.map((f) => `- ${f.name}: ${f.note}.`).join('\n')}`);
  console.log('');
}
