import uPlot from 'uplot';
import { ApiError, live, request } from '../api.js';
import { LineChart } from '../charts/lines.js';
import { h, LiveText } from '../dom.js';
import {
  DashHistoryDocument,
  DashLiveWindowsDocument,
  DashRecentReadingsDocument,
  type Aggregate,
  type DashRecentReadingsQuery,
  type DashWindowFragment,
  type Fill,
} from '../generated/graphql.js';
import { store, type SourceState } from '../store.js';
import { formatAge, formatDateTime, formatTime, formatValue, METRIC_NAMES, metricName, SEVERITY_ICON, VITALS, type VitalSpec } from '../vitals.js';

const LIVE_SPAN_MS = 5 * 60_000;
const COLORS = ['#7dd3fc', '#fbbf24'];
const AVG_COLORS = ['#f0abfc', '#86efac'];
const WINDOW_SPECS = ['1m', '5m'];

/** One vital's live card: the current value, its window averages and a chart of the last five minutes. */
class VitalCard {
  readonly el: HTMLElement;
  private chart: LineChart;
  private current = new LiveText('–');
  private averages = new LiveText('');

  constructor(readonly spec: VitalSpec) {
    const lines = spec.metrics.flatMap((metric, i) => [
      { label: metricName(metric), color: COLORS[i]!, digits: spec.digits },
      { label: `${metricName(metric)}, 1-min avg`, color: AVG_COLORS[i]!, dash: [6, 4], digits: 1 },
    ]);
    this.chart = new LineChart({ lines, height: 170, label: `${spec.name}, last five minutes, with one-minute averages` });
    const headingId = `vital-${spec.key}`;
    this.el = h(
      'section',
      { class: 'card vital-card', 'aria-labelledby': headingId, 'data-vital': spec.key },
      h('h3', { id: headingId }, spec.name, ' ', h('span', { class: 'card-value' }, this.current.node, ` ${spec.unit}`)),
      h('p', { class: 'card-sub' }, this.averages.node),
      this.chart.el,
    );
  }

  update(source: SourceState, windows: Map<string, Map<string, DashWindowFragment>>, now: number) {
    const latest = this.spec.metrics.map((m) => source.latest.get(m));
    const quality = latest.find((r) => r && r.quality !== 'GOOD');
    this.current.set(latest.map((r) => formatValue(r?.value, this.spec.digits)).join('/') + (quality ? ` (${quality.quality.toLowerCase()})` : ''));
    const parts: string[] = [];
    for (const spec of WINDOW_SPECS) {
      const values = this.spec.metrics.map((m) => newest(windows.get(m), spec));
      if (values.every((w) => !w)) continue;
      parts.push(`${spec} avg ${values.map((w) => formatValue(w?.avg, 1)).join('/')}${values[0]?.closed === false ? ` (so far, ${values[0].count} readings)` : ''}`);
    }
    this.averages.set(parts.join(' · ') || 'Window averages appear once readings arrive');

    // Raw readings and one-minute averages, aligned on one time axis (seconds).
    const tables: uPlot.AlignedData[] = [];
    for (const metric of this.spec.metrics) {
      const series = source.series.get(metric);
      tables.push(series ? [series.t.map((t) => t / 1000), series.v] : [[], []]);
      // Each one-minute average as a flat segment over its window.
      const avg = [...(windows.get(metric)?.values() ?? [])].filter((w) => w.window === '1m').sort((a, b) => a.start.localeCompare(b.start));
      const xs: number[] = [];
      const ys: (number | null)[] = [];
      for (const w of avg) {
        const start = Date.parse(w.start) / 1000;
        xs.push(start, start + 59.999);
        ys.push(w.avg, w.avg);
      }
      tables.push([xs, ys]);
    }
    const right = Math.max(now, source.lastTime) / 1000;
    this.chart.setData(uPlot.join(tables), [right - LIVE_SPAN_MS / 1000, right + 2]);
  }

  destroy() {
    this.chart.destroy();
  }
}

function newest(byStart: Map<string, DashWindowFragment> | undefined, spec: string) {
  let best: DashWindowFragment | undefined;
  for (const w of byStart?.values() ?? []) if (w.window === spec && (!best || w.start > best.start)) best = w;
  return best;
}

export function patientView(root: HTMLElement, id: string): () => void {
  const title = new LiveText(id);
  const news2 = h('div', { class: 'news2-detail' });
  const alerts = h('ul', { class: 'patient-alerts' });
  const cards = VITALS.map((spec) => new VitalCard(spec));
  // metric → "window|start" → window
  const windows = new Map<string, Map<string, DashWindowFragment>>();
  const status = h('p', { class: 'muted', role: 'status' });

  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Ward wall')),
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, title.node)),
    h('div', { class: 'patient-top' }, h('section', { class: 'card', 'aria-label': 'NEWS2 score' }, h('h2', {}, 'NEWS2'), news2), h('section', { class: 'card', 'aria-label': 'Open alerts' }, h('h2', {}, 'Open alerts'), alerts)),
    h('h2', {}, 'Live, last five minutes'),
    status,
    h('div', { class: 'vital-grid' }, cards.map((c) => c.el)),
  );
  const history = historySection(id);
  root.append(history.el);

  const render = () => {
    const source = store.sources.get(id);
    if (!source) {
      status.textContent = store.loaded ? `No patient ${id} known yet.` : 'Loading…';
      return;
    }
    status.textContent = source.lastTime ? '' : 'No readings yet.';
    title.set(source.name === id ? id : `${source.name} · ${id}`);
    const now = Date.now();
    for (const card of cards) card.update(source, windows, now);
    renderNews2(source);
    renderAlerts(source);
  };

  const renderNews2 = (source: SourceState) => {
    const n = source.news2;
    if (!n) {
      news2.replaceChildren(h('p', { class: 'muted' }, 'No score yet: NEWS2 needs all six parameters (respiratory rate, SpO₂, systolic BP, pulse, consciousness, temperature).'));
      return;
    }
    news2.replaceChildren(
      h('p', { class: 'news2-total', 'data-risk': n.risk }, `${n.total}`, h('span', {}, ` ${n.risk.replace('_', '-').toLowerCase()} risk`), h('span', { class: 'muted' }, ` · at ${formatTime(n.time)}`)),
      h(
        'table',
        { class: 'compact' },
        h('caption', { class: 'sr-only' }, 'NEWS2 parameters'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Parameter'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Score'), h('th', { scope: 'col' }, 'Measured'))),
        h(
          'tbody',
          {},
          n.parameters.map((p) =>
            h(
              'tr',
              { 'data-score': p.score, 'data-metric': p.metric },
              h('th', { scope: 'row' }, METRIC_NAMES[p.metric] ?? p.metric),
              h('td', {}, formatValue(p.value, p.metric === 'temperature' ? 1 : 0)),
              h('td', { class: 'score' }, String(p.score)),
              h('td', { class: 'measured', title: p.time ? formatDateTime(p.time) : undefined }, p.time ? measured(p.time, n.time) : '–'),
            ),
          ),
        ),
      ),
    );
  };

  let alertsKey = '';
  const renderAlerts = (source: SourceState) => {
    const list = [...source.alerts.values()];
    const key = list.map((a) => `${a.id}:${a.state}:${a.severity}:${a.acknowledgement?.at ?? ''}`).join('|');
    if (key === alertsKey) return;
    alertsKey = key;
    alerts.replaceChildren(
      ...(list.length
        ? list.map((a) =>
            h(
              'li',
              { 'data-severity': a.severity, 'data-state': a.state },
              `${SEVERITY_ICON[a.severity] ?? '!'} ${a.severity} ${a.state.toLowerCase()}: ${a.message}`,
              a.acknowledgement ? h('span', { class: 'muted' }, ` · acknowledged by ${a.acknowledgement.by}`) : null,
              ' ',
              h('a', { href: `#/alerts?source=${encodeURIComponent(id)}` }, 'open in Alerts'),
            ),
          )
        : [h('li', { class: 'muted' }, '✓ None')]),
    );
  };

  const unlisten = store.onChange((changed, added) => {
    if (changed.has(id) || added) render();
  });
  const windowsStream = live(DashLiveWindowsDocument, () => ({ sourceIds: [id], windows: WINDOW_SPECS }), {
    next: (data) => {
      for (const w of data.windows) addWindow(w);
      store.touch(id);
    },
    // Resubscribed at once: the next window output brings the averages back; not worth a message that stays.
    error: (error) => {
      // A patient this page does not know (a mistyped or stale link): the status says so, not the refusal's words.
      if (!store.sources.get(id)) return render();
      if (error.code !== 'EVENTS_MISSED' && error.code !== 'SLOW_CONSUMER') status.textContent = `Window averages: ${error.message}`;
    },
  });
  const addWindow = (w: DashWindowFragment) => {
    let byStart = windows.get(w.metric);
    if (!byStart) windows.set(w.metric, (byStart = new Map()));
    byStart.set(`${w.window}|${w.start}`, w);
    // Keep what the chart can show.
    if (byStart.size > 40) {
      const oldest = [...byStart.keys()].sort((a, b) => a.split('|')[1]!.localeCompare(b.split('|')[1]!)).slice(0, byStart.size - 40);
      oldest.forEach((k) => byStart.delete(k));
    }
  };

  // Backfill: the last five minutes of readings, and one-minute averages (history AVG over 1m buckets equals
  // the closed 1m windows). Needs an analyst key; with a read key the charts fill from now on.
  const abort = new AbortController();
  void (async () => {
    const from = new Date(Date.now() - LIVE_SPAN_MS).toISOString();
    try {
      let after: string | null = null;
      for (let page = 0; page < 5; page++) {
        const data: DashRecentReadingsQuery = await request(DashRecentReadingsDocument, { sourceIds: [id], from, first: 1000, after }, { signal: abort.signal });
        store.backfill(data.readings.edges.map((e) => e.node));
        if (!data.readings.pageInfo.hasNextPage) break;
        after = data.readings.pageInfo.endCursor;
      }
      const to = new Date(Date.now() + 60_000).toISOString();
      const metrics = VITALS.flatMap((v) => v.metrics);
      const results = await Promise.all(metrics.map((metric) => request(DashHistoryDocument, { sourceId: id, metric, from, to, bucket: '1m', aggregate: 'AVG' }, { signal: abort.signal })));
      results.forEach((result, i) => {
        for (const point of result.history) {
          if (point.value === null) continue;
          const key = `1m|${point.bucket}`;
          if (windows.get(metrics[i]!)?.has(key)) continue;
          addWindow({ sourceId: id, metric: metrics[i]!, window: '1m', start: point.bucket, end: point.bucket, count: 0, avg: point.value, min: point.value, max: point.value, closed: true });
        }
      });
      store.touch(id);
    } catch (error) {
      if ((error as Error).name === 'AbortError') return;
      if (error instanceof ApiError && error.code === 'FORBIDDEN') status.textContent = 'Showing live data from now on: the key may not read history (needs analyst).';
      else status.textContent = `Could not load the last five minutes: ${(error as Error).message}`;
    }
  })();

  // Time passes even without readings: slide the charts once a second.
  const timer = setInterval(() => store.touch(id), 1_000);
  store.start();
  render();
  return () => {
    abort.abort();
    unlisten();
    windowsStream.stop();
    clearInterval(timer);
    cards.forEach((c) => c.destroy());
    history.destroy();
  };
}

const RANGES: Record<string, { ms: number; bucket: string; label: string }> = {
  '15m': { ms: 15 * 60_000, bucket: '10s', label: 'Last 15 minutes' },
  '1h': { ms: 3_600_000, bucket: '1m', label: 'Last hour' },
  '6h': { ms: 6 * 3_600_000, bucket: '5m', label: 'Last 6 hours' },
  '24h': { ms: 24 * 3_600_000, bucket: '15m', label: 'Last 24 hours' },
  '7d': { ms: 7 * 24 * 3_600_000, bucket: '1h', label: 'Last 7 days' },
};

const localInput = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

/** History of one metric over a chosen range, bucketed, aggregated and gap-filled by the server. */
function historySection(id: string) {
  const chart = new LineChart({ lines: [{ label: 'Value', color: '#7dd3fc', points: true, digits: 2 }], height: 220, label: 'History chart' });
  const field = (label: string, control: HTMLElement, fieldId: string) => h('div', { class: 'field' }, h('label', { for: fieldId }, label), control);
  const metric = h('select', { id: 'h-metric' }, ...VITALS.flatMap((v) => v.metrics).concat('consciousness').map((m) => h('option', { value: m }, metricName(m))));
  const range = h('select', { id: 'h-range' }, ...Object.entries(RANGES).map(([k, r]) => h('option', { value: k, selected: k === '1h' }, r.label)), h('option', { value: 'custom' }, 'Custom…'));
  const from = h('input', { id: 'h-from', type: 'datetime-local', value: localInput(Date.now() - 3_600_000) });
  const to = h('input', { id: 'h-to', type: 'datetime-local', value: localInput(Date.now()) });
  const bucket = h('input', { id: 'h-bucket', type: 'text', value: '1m', list: 'h-buckets', size: 6, required: true, pattern: '\\d+(ms|s|m|h|d)', 'aria-describedby': 'h-bucket-hint' });
  const aggregate = h('select', { id: 'h-aggregate' }, ...['AVG', 'MIN', 'MAX', 'COUNT', 'FIRST', 'LAST'].map((a) => h('option', { value: a }, a)));
  const fill = h(
    'select',
    { id: 'h-fill' },
    h('option', { value: 'NONE' }, 'None: only buckets with data'),
    h('option', { value: 'LOCF' }, 'LOCF: carry the last value'),
    h('option', { value: 'INTERPOLATE' }, 'Interpolate'),
  );
  const custom = h('div', { class: 'custom-range', hidden: true }, field('From', from, 'h-from'), field('To', to, 'h-to'));
  const message = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'history-form', 'aria-label': 'History query' },
    field('Metric', metric, 'h-metric'),
    field('Range', range, 'h-range'),
    custom,
    field('Bucket', bucket, 'h-bucket'),
    h('datalist', { id: 'h-buckets' }, ...['1s', '10s', '30s', '1m', '5m', '15m', '1h', '6h', '1d'].map((b) => h('option', { value: b }))),
    field('Aggregate', aggregate, 'h-aggregate'),
    field('Gap fill', fill, 'h-fill'),
    h('button', { type: 'submit' }, 'Show history'),
    h('small', { id: 'h-bucket-hint', class: 'muted' }, 'Bucket: a whole number and ms, s, m, h or d; at most 10,000 buckets.'),
  );
  const el = h('section', { class: 'card history', 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, 'History'), form, error, message, chart.el);

  range.addEventListener('change', () => {
    custom.hidden = range.value !== 'custom';
    const preset = RANGES[range.value];
    if (preset) bucket.value = preset.bucket;
  });
  let abort: AbortController | undefined;
  const run = async () => {
    abort?.abort();
    abort = new AbortController();
    error.textContent = '';
    const preset = RANGES[range.value];
    const toMs = preset ? Date.now() : Date.parse(to.value);
    const fromMs = preset ? toMs - preset.ms : Date.parse(from.value);
    if (!(fromMs < toMs)) {
      error.textContent = 'The range needs a start before its end.';
      return;
    }
    message.textContent = 'Loading…';
    try {
      const data = await request(
        DashHistoryDocument,
        { sourceId: id, metric: metric.value, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), bucket: bucket.value.trim(), aggregate: aggregate.value as Aggregate, fill: fill.value as Fill },
        { signal: abort.signal },
      );
      const points = data.history;
      const empty = points.filter((p) => p.value === null).length;
      chart.plot.series[1]!.label = `${metricName(metric.value)} ${aggregate.value}`;
      chart.setData([points.map((p) => Date.parse(p.bucket) / 1000), points.map((p) => p.value)], [fromMs / 1000, toMs / 1000]);
      message.textContent = `${points.length} bucket${points.length === 1 ? '' : 's'} of ${bucket.value} (${aggregate.value}, fill ${fill.value}) from ${formatDateTime(fromMs)} to ${formatDateTime(toMs)}${empty ? `; ${empty} without a value` : ''}.`;
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      message.textContent = '';
      error.textContent = e instanceof ApiError && e.code === 'FORBIDDEN' ? 'This key may not read history (it needs the analyst role).' : `History: ${(e as Error).message}`;
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  void run();
  return { el, destroy: () => (abort?.abort(), chart.destroy()) };
}

/**
 * When a NEWS2 parameter was measured, and how long before the score when it was not measured with it: a score may
 * stand on a temperature charted hours before (up to NEWS2_MAX_AGE), and the nurse reading it must see that.
 */
function measured(time: string, scoreTime: string): string {
  const before = Date.parse(scoreTime) - Date.parse(time);
  return before >= 60_000 ? `${formatTime(time)} (${formatAge(before)} before)` : formatTime(time);
}
