import uPlot from 'uplot';
import { axes, fitWidth } from './theme.js';
import { formatPrice, formatVolume, tickDecimals } from '../prices.js';

export interface CandlePoint {
  start: number; // seconds
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  closed: boolean;
}

const UP = '#4ade80';
const DOWN = '#f87171';

/**
 * OHLC candles with volume bars beneath, on uPlot: the price series are
 * invisible (they only give the scales their range) and a draw hook paints
 * the candles. Rising candles are hollow, falling ones filled (so the
 * direction does not rest on colour alone); the forming candle is dashed.
 */
/**
 * The theme's axes with price ticks in as many decimals as their step needs, and room for them: uPlot's default
 * labels read 1.085 four times over EUR/USD ticks 0.00002 apart, and the fixed 52 px cut 150.126 to 50.126.
 */
function priceAxes(): uPlot.Axis[] {
  const [time, price] = axes(undefined, 'price');
  return [
    time!,
    {
      ...price,
      values: (_u, splits, _axis, _space, step) => splits.map((v) => v.toFixed(tickDecimals(step))),
      // ~7 px a character at the axis font, beside the tick and gap.
      size: (_u, values) => Math.max(52, 18 + 7 * Math.max(0, ...(values ?? []).map((v) => v.length))),
    },
  ];
}

export class CandleChart {
  readonly el: HTMLDivElement;
  readonly plot: uPlot;
  private candles: CandlePoint[] = [];
  private disconnect: () => void;

  constructor(
    private intervalSeconds: number,
    label: string,
    height = 240,
  ) {
    this.el = document.createElement('div');
    this.el.className = 'chart candle-chart';
    this.el.setAttribute('role', 'img');
    this.el.setAttribute('aria-label', label);
    const hidden = (name: string, scale: string, format: (v: number) => string = formatPrice): uPlot.Series => ({
      label: name,
      scale,
      paths: () => null,
      points: { show: false },
      stroke: 'transparent',
      value: (_u, v) => (v === null || v === undefined ? '–' : format(v)),
    });
    const opts: uPlot.Options = {
      width: 400,
      height,
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => [min - this.intervalSeconds * 0.75, max + this.intervalSeconds * 0.75] },
        price: {
          range: (_u, min, max) => {
            const pad = (max - min) * 0.08 || Math.abs(max) * 0.001 || 1;
            return [min - pad, max + pad];
          },
        },
        // Volume uses the bottom quarter of the plot.
        vol: { range: (_u, _min, max) => [0, (max || 1) * 4] },
      },
      axes: priceAxes(),
      legend: { live: true },
      series: [{}, hidden('Open', 'price'), hidden('High', 'price'), hidden('Low', 'price'), hidden('Close', 'price'), hidden('Volume', 'vol', formatVolume)],
      hooks: { draw: [(u) => this.drawCandles(u)] },
    };
    this.plot = new uPlot(opts, [[], [], [], [], [], []], this.el);
    this.disconnect = fitWidth(this.plot, this.el, height);
  }

  setInterval(seconds: number) {
    this.intervalSeconds = seconds;
  }

  setCandles(candles: CandlePoint[]) {
    this.candles = candles;
    this.plot.setData([candles.map((c) => c.start), candles.map((c) => c.open), candles.map((c) => c.high), candles.map((c) => c.low), candles.map((c) => c.close), candles.map((c) => c.volume)]);
  }

  private drawCandles(u: uPlot) {
    const ctx = u.ctx;
    const ratio = window.devicePixelRatio || 1;
    const step = Math.abs(u.valToPos(this.intervalSeconds, 'x', true) - u.valToPos(0, 'x', true));
    const body = Math.max(1 * ratio, Math.min(24 * ratio, step * 0.7));
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (const c of this.candles) {
      const x = Math.round(u.valToPos(c.start, 'x', true));
      const vTop = u.valToPos(c.volume, 'vol', true);
      const vBase = u.valToPos(0, 'vol', true);
      ctx.fillStyle = 'rgba(148, 163, 184, 0.35)';
      ctx.fillRect(x - body / 2, vTop, body, vBase - vTop);

      const up = c.close >= c.open;
      const color = up ? UP : DOWN;
      const yHigh = u.valToPos(c.high, 'price', true);
      const yLow = u.valToPos(c.low, 'price', true);
      const yOpen = u.valToPos(c.open, 'price', true);
      const yClose = u.valToPos(c.close, 'price', true);
      ctx.strokeStyle = color;
      ctx.lineWidth = 1 * ratio;
      ctx.setLineDash(c.closed ? [] : [3 * ratio, 2 * ratio]);
      ctx.globalAlpha = c.closed ? 1 : 0.7;
      ctx.beginPath();
      ctx.moveTo(x + 0.5, yHigh);
      ctx.lineTo(x + 0.5, yLow);
      ctx.stroke();
      const top = Math.min(yOpen, yClose);
      const height = Math.max(1 * ratio, Math.abs(yClose - yOpen));
      if (up) {
        ctx.fillStyle = '#0b1220';
        ctx.fillRect(x - body / 2, top, body, height);
        ctx.strokeRect(x - body / 2 + 0.5, top + 0.5, body - 1, height - 1);
      } else {
        ctx.fillStyle = color;
        ctx.fillRect(x - body / 2, top, body, height);
      }
    }
    ctx.globalAlpha = 1;
    ctx.restore();
  }

  destroy() {
    this.disconnect();
    this.plot.destroy();
  }
}
