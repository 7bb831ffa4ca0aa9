import type uPlot from 'uplot';

export const AXIS_STROKE = '#a3b3c6';
export const GRID = { stroke: 'rgba(163, 179, 198, 0.12)', width: 1 };

export function axes(yLabel?: string, yScale = 'y'): uPlot.Axis[] {
  return [
    { stroke: AXIS_STROKE, grid: GRID, ticks: GRID },
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
