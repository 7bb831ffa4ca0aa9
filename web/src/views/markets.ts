import { forbidden, live, onReconnected, request, retryWait } from '../api.js';
import { CandleChart, type CandlePoint } from '../charts/candles.js';
import { h, LiveText } from '../dom.js';
import { onNextFrame } from '../schedule.js';
import { DashCandlesDocument, DashLiveCandlesDocument, DashSourcesDocument, type DashCandleFragment, type DashSourcesQuery } from '../generated/graphql.js';
import { formatDateTime, formatTime } from '../vitals.js';
import { formatPrice as price, formatVolume as volume } from '../prices.js';

const INTERVALS = [
  { key: '1s', label: '1 s', seconds: 1 },
  { key: '1m', label: '1 min', seconds: 60 },
  { key: '5m', label: '5 min', seconds: 300 },
  { key: '1h', label: '1 h', seconds: 3600 },
];
/** Candles shown per chart. */
const SHOWN = 90;

/** What the chart spans, in one unit: 90 s, 90 min, 7.5 h, 90 h. */
const span = (seconds: number) => (seconds < 120 ? `${seconds} s` : seconds < 7_200 ? `${seconds / 60} min` : `${seconds / 3_600} h`);

class SymbolCard {
  readonly el: HTMLElement;
  private chart: CandleChart;
  private byStart = new Map<string, DashCandleFragment>();
  private last = new LiveText('No trades yet');
  private change = new LiveText('');
  private rows: HTMLTableSectionElement;

  constructor(
    readonly symbol: string,
    private interval: (typeof INTERVALS)[number],
  ) {
    const id = `sym-${symbol.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.chart = new CandleChart(interval.seconds, `${symbol} candles, ${interval.label}, with volume`);
    this.rows = h('tbody');
    this.el = h(
      'section',
      { class: 'card symbol-card', 'aria-labelledby': id, 'data-symbol': symbol },
      h('h2', { id }, symbol, ' ', h('span', { class: 'card-value' }, this.change.node)),
      h('p', { class: 'card-sub candle-last' }, this.last.node),
      this.chart.el,
      h(
        'details',
        { class: 'candle-table' },
        h('summary', {}, 'Latest candles as a table'),
        h(
          'table',
          { class: 'compact' },
          h('caption', { class: 'sr-only' }, `${symbol} latest candles, newest first`),
          h('thead', {}, h('tr', {}, ...['Start', 'Open', 'High', 'Low', 'Close', 'Volume', 'Trades', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
          this.rows,
        ),
      ),
    );
  }

  /** Adds or replaces (the forming candle, in place) one candle; a final candle is never replaced by a forming one. */
  upsert(c: DashCandleFragment) {
    if (c.interval !== this.interval.key) return;
    const existing = this.byStart.get(c.start);
    if (existing && ((existing.closed && !c.closed) || (!existing.closed && !c.closed && existing.trades > c.trades))) return;
    this.byStart.set(c.start, c);
    if (this.byStart.size > SHOWN + 20) {
      const keys = [...this.byStart.keys()].sort();
      keys.slice(0, keys.length - SHOWN).forEach((k) => this.byStart.delete(k));
    }
  }

  render() {
    const candles = [...this.byStart.values()].sort((a, b) => a.start.localeCompare(b.start)).slice(-SHOWN);
    const points: CandlePoint[] = candles.map((c) => ({ start: Date.parse(c.start) / 1000, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, closed: c.closed }));
    this.chart.setCandles(points);
    const newest = candles[candles.length - 1];
    if (newest) {
      this.last.set(
        `${newest.closed ? 'Closed' : 'Forming'} ${this.interval.label} candle from ${formatTime(newest.start)}: open ${price(newest.open)}, high ${price(newest.high)}, low ${price(newest.low)}, close ${price(newest.close)}, volume ${volume(newest.volume)}, ${newest.trades} trade${newest.trades === 1 ? '' : 's'}`,
      );
      const first = candles[0]!;
      const pct = ((newest.close - first.open) / first.open) * 100;
      this.change.set(`${price(newest.close)} ${pct >= 0 ? '▲ +' : '▼ '}${pct.toFixed(2)}%`);
    } else {
      // The chart spans the last SHOWN intervals: an instrument that traded before them has traded, just not lately.
      this.last.set(`No trades in the last ${span(SHOWN * this.interval.seconds)}`);
    }
    this.rows.replaceChildren(
      ...candles
        .slice(-10)
        .reverse()
        .map((c) =>
          h(
            'tr',
            { 'data-start': c.start, 'data-closed': String(c.closed) },
            h('td', {}, formatDateTime(c.start)),
            h('td', {}, price(c.open)),
            h('td', {}, price(c.high)),
            h('td', {}, price(c.low)),
            h('td', {}, price(c.close)),
            h('td', {}, volume(c.volume)),
            h('td', {}, String(c.trades)),
            h('td', { class: 'status' }, c.closed ? '✓ closed' : '… forming'),
          ),
        ),
    );
  }

  destroy() {
    this.chart.destroy();
  }
}

export function marketsView(root: HTMLElement): () => void {
  let interval = INTERVALS.find((i) => i.key === localStorage.getItem('vigil.interval')) ?? INTERVALS[0]!;
  const cards = new Map<string, SymbolCard>();
  const dirty = new Set<string>();
  const grid = h('div', { class: 'symbol-grid' });
  const status = h('p', { class: 'muted', role: 'status' });
  const radios = h(
    'fieldset',
    { class: 'segmented' },
    h('legend', {}, 'Candle interval'),
    ...INTERVALS.flatMap((i) => [
      h('input', { type: 'radio', name: 'interval', id: `iv-${i.key}`, value: i.key, checked: i.key === interval.key }),
      h('label', { for: `iv-${i.key}` }, i.label),
    ]),
  );
  root.append(h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Markets'), h('div', { class: 'toolbar' }, radios)), status, grid);

  const render = () => {
    for (const symbol of dirty) cards.get(symbol)?.render();
    dirty.clear();
  };
  const card = (symbol: string) => {
    let c = cards.get(symbol);
    if (!c) {
      c = new SymbolCard(symbol, interval);
      cards.set(symbol, c);
      const ordered = [...cards.keys()].sort();
      grid.insertBefore(c.el, cards.get(ordered[ordered.indexOf(symbol) + 1]!)?.el ?? null);
      status.textContent = '';
    }
    return c;
  };
  const changed = (symbol: string) => {
    dirty.add(symbol);
    onNextFrame(render);
  };

  let stream: { stop(): void } | undefined;
  let abort: AbortController | undefined;
  /** Reads of the stored candles that failed in a row, and the next one's timer. */
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  /**
   * Reads the stored candles of every instrument in the chart's span; upserts keep the newest state of each. A read
   * that fails for a reason other than the key (the server busy or restarting) is tried again: live candles alone
   * leave every candle that took no trade since blank, for as long as the page stays open.
   */
  const loadStored = async (current: (typeof INTERVALS)[number], signal: AbortSignal) => {
    clearTimeout(retry);
    try {
      const symbols: string[] = [];
      let after: string | null = null;
      do {
        const page: DashSourcesQuery = await request(DashSourcesDocument, { kind: 'INSTRUMENT', first: 500, after }, { signal });
        symbols.push(...page.sources.edges.map((e) => e.node.id));
        after = page.sources.pageInfo.hasNextPage ? page.sources.pageInfo.endCursor : null;
      } while (after);
      if (failures > 0) status.textContent = '';
      if (symbols.length === 0 && cards.size === 0) status.textContent = 'No instruments yet: trades (npm run simulate sends some) create them.';
      const to = new Date(Date.now() + current.seconds * 1000).toISOString();
      const from = new Date(Date.now() - SHOWN * current.seconds * 1000).toISOString();
      await Promise.all(
        symbols.map(async (symbol) => {
          card(symbol);
          changed(symbol);
          const data = await request(DashCandlesDocument, { symbol, interval: current.key, from, to, closedOnly: false, first: 1000 }, { signal });
          for (const edge of data.candles.edges) card(symbol).upsert(edge.node);
          changed(symbol);
        }),
      );
      failures = 0;
    } catch (error) {
      if ((error as Error).name === 'AbortError') return;
      const why = `Stored candles could not be loaded (${(error as Error).message}); showing live candles`;
      if (forbidden(error)) {
        status.textContent = `${why} only.`;
        return;
      }
      const wait = retryWait(++failures);
      status.textContent = `${why}, and reading them again in ${wait / 1000} s.`;
      retry = setTimeout(() => signal.aborted || void loadStored(current, signal), wait);
    }
  };
  const start = () => {
    stream?.stop();
    abort?.abort();
    failures = 0;
    abort = new AbortController();
    const signal = abort.signal;
    for (const c of cards.values()) c.destroy();
    cards.clear();
    grid.replaceChildren();
    status.textContent = 'Loading instruments…';
    const current = interval;
    // Live first, so nothing between the stored candles and the stream is missed; upserts keep the newest state.
    stream = live(DashLiveCandlesDocument, () => ({ intervals: [current.key] }), {
      next: (data) => {
        for (const c of data.candles) {
          card(c.symbol).upsert(c);
          changed(c.symbol);
        }
      },
      // Resubscribed at once, and the stored candles read again: a candle that closed (or took trades) while
      // outputs were missed would otherwise stay on screen as it was, forming, for as long as it is shown.
      error: (error) => {
        if (error.code === 'EVENTS_MISSED' || error.code === 'SLOW_CONSUMER') void loadStored(current, signal);
        else status.textContent = `Live candles: ${error.message}`;
      },
    });
    void loadStored(current, signal);
  };
  // Candles have no cursor to resume after: what was published while the page was away is read back from storage.
  const stopReconnected = onReconnected(() => {
    if (abort) void loadStored(interval, abort.signal);
  });
  radios.addEventListener('change', (event) => {
    const key = (event.target as HTMLInputElement).value;
    interval = INTERVALS.find((i) => i.key === key) ?? interval;
    localStorage.setItem('vigil.interval', interval.key);
    start();
  });

  start();
  return () => {
    stopReconnected();
    clearTimeout(retry);
    stream?.stop();
    abort?.abort();
    for (const c of cards.values()) c.destroy();
  };
}
