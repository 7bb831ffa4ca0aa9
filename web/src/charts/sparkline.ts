import type { Series } from '../store.js';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A small line of the newest values of a series, as an SVG polyline: one
 * attribute write per update, repainting that element alone (200 canvases
 * cost the compositor far more than 200 polylines).
 */
export class Sparkline {
  readonly el: SVGSVGElement;
  private line: SVGPolylineElement;
  private dot: SVGCircleElement;

  constructor(
    private readonly width = 220,
    private readonly height = 34,
  ) {
    this.el = document.createElementNS(SVG, 'svg');
    this.el.setAttribute('class', 'spark');
    this.el.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.el.setAttribute('preserveAspectRatio', 'none');
    this.el.setAttribute('aria-hidden', 'true');
    this.el.setAttribute('focusable', 'false');
    this.line = document.createElementNS(SVG, 'polyline');
    this.line.setAttribute('fill', 'none');
    this.line.setAttribute('stroke-width', '1.5');
    this.line.setAttribute('vector-effect', 'non-scaling-stroke');
    this.line.setAttribute('stroke-linejoin', 'round');
    this.dot = document.createElementNS(SVG, 'circle');
    this.dot.setAttribute('r', '2');
    this.el.append(this.line, this.dot);
  }

  draw(series: Series | undefined, points = 60, color = '#7dd3fc') {
    if (this.line.getAttribute('stroke') !== color) {
      this.line.setAttribute('stroke', color);
      this.dot.setAttribute('fill', color);
    }
    if (!series || series.v.length < 2) {
      this.line.setAttribute('points', '');
      this.dot.setAttribute('r', '0');
      return;
    }
    const n = Math.min(points, series.v.length);
    const start = series.v.length - n;
    let min = Infinity;
    let max = -Infinity;
    for (let i = start; i < series.v.length; i++) {
      const v = series.v[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (max - min < 1e-9) {
      max += 1;
      min -= 1;
    }
    const pad = 2;
    const step = (this.width - 2 * pad) / (points - 1);
    const offset = pad + (points - n) * step;
    const scale = (this.height - 2 * pad) / (max - min);
    let text = '';
    let x = 0;
    let y = 0;
    for (let i = start; i < series.v.length; i++) {
      x = offset + (i - start) * step;
      y = this.height - pad - (series.v[i]! - min) * scale;
      text += `${x.toFixed(1)},${y.toFixed(1)} `;
    }
    this.line.setAttribute('points', text);
    this.dot.setAttribute('cx', x.toFixed(1));
    this.dot.setAttribute('cy', y.toFixed(1));
    this.dot.setAttribute('r', '2');
  }
}
