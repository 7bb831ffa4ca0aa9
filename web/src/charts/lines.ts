import uPlot from 'uplot';
import { axes, fitWidth } from './theme.js';

export interface LineSpec {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  points?: boolean;
  /** Draw as steps (window averages). */
  stepped?: boolean;
  digits?: number;
}

/** A time-series line chart (uPlot) that fills its container's width. */
export class LineChart {
  readonly el: HTMLDivElement;
  readonly plot: uPlot;
  private disconnect: () => void;
  private xRange: [number, number] | null = null;

  constructor(options: { lines: LineSpec[]; height?: number; yLabel?: string; label: string }) {
    const height = options.height ?? 180;
    this.el = document.createElement('div');
    this.el.className = 'chart';
    this.el.setAttribute('role', 'img');
    this.el.setAttribute('aria-label', options.label);
    const opts: uPlot.Options = {
      width: 400,
      height,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: (_u, min, max) => this.xRange ?? [min, max] } },
      axes: axes(options.yLabel),
      legend: { live: true },
      series: [
        {},
        ...options.lines.map<uPlot.Series>((line) => ({
          label: line.label,
          stroke: line.color,
          width: line.width ?? 1.5,
          dash: line.dash,
          spanGaps: true,
          points: { show: line.points ?? false, size: 4 },
          paths: line.stepped ? uPlot.paths.stepped!({ align: 1 }) : undefined,
          value: (_u, v) => (v === null || v === undefined ? '–' : v.toFixed(line.digits ?? 1)),
        })),
      ],
    };
    this.plot = new uPlot(opts, [[], ...options.lines.map(() => [])], this.el);
    this.disconnect = fitWidth(this.plot, this.el, height);
  }

  /** New data; `xRange` (seconds) pins the time axis, e.g. to a sliding window. */
  setData(data: uPlot.AlignedData, xRange?: [number, number]) {
    this.xRange = xRange ?? null;
    this.plot.setData(data);
  }

  destroy() {
    this.disconnect();
    this.plot.destroy();
  }
}
