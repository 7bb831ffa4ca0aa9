import type uPlot from 'uplot';

export const AXIS_STROKE = '#a3b3c6';
export const GRID = { stroke: 'rgba(163, 179, 198, 0.12)', width: 1 };

const two = (n: number) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Time ticks in 24-hour time, as the rest of the page writes times: uPlot's own mixed am/pm ticks and put the
 * first one's US date over its neighbour on a narrow chart. Seconds when ticks are under a minute apart, the day
 * at midnight and when they are a day or more apart.
 */
function timeTicks(_u: uPlot, splits: number[], _axis: number, _space: number, incr: number): string[] {
  return splits.map((seconds) => {
    const d = new Date(seconds * 1000);
    const midnight = d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0;
    if (incr >= 86_400 || (midnight && incr >= 60)) return `${d.getDate()} ${MONTHS[d.getMonth()]}`;
    const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
    return incr < 60 ? `${time}:${two(d.getSeconds())}` : time;
  });
}

export function axes(yLabel?: string, yScale = 'y'): uPlot.Axis[] {
  return [
    // space: a tick label with seconds (21:28:45) is ~60 px wide; uPlot's default 50 ran neighbours together.
    { stroke: AXIS_STROKE, grid: GRID, ticks: GRID, values: timeTicks, space: 72 },
    { stroke: AXIS_STROKE, grid: GRID, ticks: GRID, scale: yScale, label: yLabel, labelSize: yLabel ? 18 : 0, size: 52 },
  ];
}

/**
 * Keeps a chart as wide as its container (a ResizeObserver: no layout
 * reads on the update path). Returns the disconnect.
 */
export function fitWidth(plot: uPlot, container: HTMLElement, height: number): () => void {
  let width = 0;
  const observer = new ResizeObserver((entries) => {
    const w = Math.floor(entries[0]!.contentRect.width);
    if (w > 0 && w !== width) {
      width = w;
      plot.setSize({ width: w, height });
    }
  });
  observer.observe(container);
  return () => observer.disconnect();
}
