import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Figure {
  name: string;
  unit: string;
  platform: number;
  /** null for a figure with no raw counterpart (e.g. a delay). */
  baseline: number | null;
  /** platform / baseline, in the direction where higher is better for throughput; null without a baseline. */
  ratio: number | null;
  /** The ratio is a bound, not a measurement (a limit one side did not reach): printed as ≤ or ≥. */
  ratioBound?: 'at most' | 'at least';
  /** Why a figure is not what it seems, printed under the table. */
  note?: string;
  target?: string;
}

/** A ratio as printed: two decimals, `≤`/`≥` when it is a bound, `-` when there is none. */
export function formatRatio(f: Pick<Figure, 'ratio' | 'ratioBound'>, none = '-'): string {
  if (f.ratio === null) return none;
  return `${f.ratioBound === 'at most' ? '≤ ' : f.ratioBound === 'at least' ? '≥ ' : ''}${f.ratio.toFixed(2)}`;
}

let lastProgressAt = 0;
/** One progress line, rewritten in place on a terminal, at most every 500 ms otherwise. */
export function progress(what: string, done: number, of: number) {
  const now = Date.now();
  if (done !== of && now - lastProgressAt < 500) return;
  lastProgressAt = now;
  const line = `${what}: ${done}/${of}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line.padEnd(70)}${done === of ? '\n' : ''}`);
  else process.stderr.write(`${line}\n`);
}

/** Whole numbers from 100 up, one decimal from 10, two below (latencies of a few ms). */
export function formatValue(n: number): string {
  const size = Math.abs(n);
  return size >= 100 || size === 0 || !Number.isFinite(n) ? n.toFixed(0) : size >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function printTable(figures: Figure[]) {
  const rows = figures.map((f) => [
    f.name,
    `${formatValue(f.platform)} ${f.unit}`,
    f.baseline === null ? '-' : `${formatValue(f.baseline)} ${f.unit}`,
    formatRatio(f),
    f.target ?? '',
  ]);
  const header = ['benchmark', 'platform', 'raw baseline', 'ratio', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
  for (const f of figures) if (f.note) console.log(`note: ${f.name}: ${f.note}`);
}

export interface Machine {
  cpus: number;
  cpuModel?: string;
  memoryGiB: number;
  node: string;
}

export type SavedFigure = Figure & { measuredAt: string; commit: string; machine?: string };

export const machineLabel = (m: Machine) => `${m.cpus} × ${m.cpuModel ?? 'CPU'}, ${m.memoryGiB} GiB, Node ${m.node}`;

export function saveResults(path: string, mode: string, figures: Figure[]) {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const previous = (() => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  })();
  // Figures are kept by name, each with when and at which commit it was measured, so running one
  // benchmark does not drop the others' figures.
  const measuredAt = new Date().toISOString();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  const before = previous[mode] as { machine?: Machine; figures?: SavedFigure[] } | undefined;
  // Each figure keeps the machine it was measured on: a later run of one benchmark on another machine must not
  // relabel the others.
  const kept = (before?.figures ?? [])
    .filter((old) => !figures.some((f) => f.name === old.name))
    .map((old) => ({ ...old, machine: old.machine ?? (before?.machine ? machineLabel(before.machine) : undefined) }));
  const entry = {
    measuredAt,
    commit,
    machine,
    figures: [...kept, ...figures.map((f) => ({ ...f, measuredAt, commit, machine: machineLabel(machine) }))],
  };
  writeFileSync(path, `${JSON.stringify({ ...previous, [mode]: entry }, null, 2)}\n`);
}
