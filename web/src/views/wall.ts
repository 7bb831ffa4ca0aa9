import { Sparkline } from '../charts/sparkline.js';
import { h, setAttr, LiveText } from '../dom.js';
import { onNextFrame } from '../schedule.js';
import { store, type SourceState } from '../store.js';
import { formatAge, formatValue, metricName, SEVERITY_ICON, SEVERITY_ORDER, TREND_METRIC, TREND_POINTS, VITALS, type VitalSpec } from '../vitals.js';

/** A patient is flagged stale when its newest reading is older than this (besides NO_DATA alerts). */
const STALE_AFTER_MS = 60_000;
const SPARK_INTERVAL_MS = 1_000;
/**
 * Sparkline redraws a second across the tiles in view, at most: with more tiles in view than this, each tile's trend is
 * redrawn less often than once a second (its values still change with every reading). Painting the trends is most of
 * what a wall of 200 tiles in view costs the browser (npm run bench -- dashboard, 3840×2400).
 */
const SPARK_REDRAWS_PER_SECOND = 60;
/** A tile's height and the gap below it (style.css): how many rows a window holds. */
const TILE_PITCH_PX = 158;
/** How long a tile's sparkline waits between redraws; set by the wall from the tiles in view. */
let sparkIntervalMs = SPARK_INTERVAL_MS;

class VitalCell {
  readonly el: HTMLDivElement;
  private value = new LiveText('–');
  private mark = new LiveText('');
  private qualityKey = '';

  constructor(readonly spec: VitalSpec) {
    this.el = h(
      'div',
      { class: 'vital', 'data-vital': spec.key },
      // Units are in the legend above the wall (and here for screen readers): the tile has no room for them.
      h('dt', { title: `${spec.name}, ${spec.unit}` }, spec.label, h('span', { class: 'sr-only' }, ` (${spec.unit})`)),
      h('dd', {}, h('span', { class: 'vital-value' }, this.value.node), h('span', { class: 'vital-mark' }, this.mark.node)),
    );
  }

  /** Returns the metrics whose newest value is not GOOD. */
  update(source: SourceState): string[] {
    const readings = this.spec.metrics.map((m) => source.latest.get(m));
    this.value.set(readings.map((r) => formatValue(r?.value, this.spec.digits)).join('/'));
    const doubtful = readings.filter((r) => r && r.quality !== 'GOOD') as { metric: string; quality: string }[];
    const key = doubtful.map((r) => r.quality).join(',');
    if (key !== this.qualityKey) {
      this.qualityKey = key;
      this.mark.set(doubtful.length ? (doubtful.some((r) => r.quality === 'BAD') ? ' ✕' : ' ?') : '');
      setAttr(this.el, 'data-quality', doubtful.length ? (doubtful.some((r) => r.quality === 'BAD') ? 'bad' : 'suspect') : null);
      setAttr(this.el, 'title', doubtful.length ? `${this.spec.name}: ${doubtful.map((r) => `${r.quality.toLowerCase()} value`).join(', ')}` : null);
    }
    return doubtful.map((r) => r.metric);
  }
}

class Tile {
  readonly el: HTMLLIElement;
  readonly link: HTMLAnchorElement;
  private name = new LiveText();
  private sub = new LiveText();
  private news2 = new LiveText('NEWS2 –');
  private alertText = new LiveText('✓ No open alerts');
  private flags = new LiveText('');
  private cells = VITALS.map((spec) => new VitalCell(spec));
  private spark = new Sparkline();
  private stale = false;
  private sparkDirty = false;
  private sparkDrawn = 0;
  private sparkColor = '#7dd3fc';
  private flagsEl: HTMLElement;

  constructor(readonly id: string) {
    this.link = h('a', { class: 'tile-name', href: `#/patient/${encodeURIComponent(id)}` }, this.name.node, h('span', { class: 'tile-sub' }, this.sub.node));
    this.flagsEl = h('p', { class: 'tile-flags' }, this.flags.node);
    this.el = h(
      'li',
      { class: 'tile', 'data-source': id, 'data-state': 'ok' },
      h('div', { class: 'tile-head' }, this.link, h('span', { class: 'tile-news2' }, this.news2.node)),
      h('p', { class: 'tile-alert' }, this.alertText.node),
      h('dl', { class: 'tile-vitals' }, this.cells.map((c) => c.el)),
      this.spark.el,
      this.flagsEl,
    );
  }

  update(source: SourceState, now: number) {
    // The bed is what a ward reads at a glance; a name that does not repeat it follows.
    this.name.set(source.id);
    this.sub.set(source.name.includes(source.id) ? '' : ` ${source.name}`);
    setAttr(this.link, 'title', source.name);
    const doubtful = this.cells.flatMap((cell) => cell.update(source));
    const n = source.news2;
    this.news2.set(n ? `NEWS2 ${n.total} · ${n.risk.replace('_', '-').toLowerCase()}` : 'NEWS2 –');
    setAttr(this.el, 'data-news2', n ? n.risk : null);

    const alert = store.worstAlert(source);
    if (alert) {
      const acked = alert.acknowledgement ? ' · acknowledged' : '';
      this.alertText.set(`${SEVERITY_ICON[alert.severity] ?? '!'} ${alert.severity} ${alert.state.toLowerCase()}${acked} · ${alert.message}`);
      setAttr(this.el, 'data-state', alert.state === 'FIRING' ? 'firing' : 'pending');
      setAttr(this.el, 'data-severity', alert.severity);
      setAttr(this.el, 'data-acknowledged', alert.acknowledgement ? 'true' : null);
    } else {
      this.alertText.set('✓ No open alerts');
      setAttr(this.el, 'data-state', 'ok');
      setAttr(this.el, 'data-severity', null);
      setAttr(this.el, 'data-acknowledged', null);
    }

    const lost = store.signalLost(source);
    this.stale = source.lastTime > 0 && now - source.lastTime > STALE_AFTER_MS;
    const flags: string[] = [];
    if (lost) flags.push('⊘ Signal lost');
    else if (this.stale) flags.push(`⊘ No data for ${formatAge(now - source.lastTime)}`);
    else if (source.lastTime === 0) flags.push('No readings yet');
    if (doubtful.length) flags.push(`? Suspect: ${[...new Set(doubtful)].map(metricName).join(', ')}`);
    this.flags.set(flags.join(' · '));
    setAttr(this.el, 'data-signal', lost || this.stale ? 'lost' : null);
    setAttr(this.flagsEl, 'data-empty', flags.length ? null : 'true');

    // The sparkline is a trend: redrawn at most once a second per tile, less often with more than
    // SPARK_REDRAWS_PER_SECOND tiles in view (painting it is what costs most then); values above change with every
    // reading.
    this.sparkColor = alert?.state === 'FIRING' ? '#fca5a5' : '#7dd3fc';
    this.sparkDirty = true;
    this.drawSpark(source, now);
  }

  /** Redraws the sparkline if it changed and its interval has passed. */
  drawSpark(source: SourceState, now: number) {
    if (!this.sparkDirty || now - this.sparkDrawn < sparkIntervalMs) return;
    this.sparkDirty = false;
    this.sparkDrawn = now;
    this.spark.draw(source.series.get(TREND_METRIC), TREND_POINTS, this.sparkColor);
  }

  /** True when the stale flag would change at `now`. */
  staleChanged(source: SourceState, now: number) {
    return (source.lastTime > 0 && now - source.lastTime > STALE_AFTER_MS) !== this.stale || this.stale;
  }

  urgency(source: SourceState) {
    const alert = store.worstAlert(source);
    const alertRank = alert ? (alert.state === 'FIRING' ? 10 : 5) + SEVERITY_ORDER.indexOf(alert.severity as never) : 0;
    return alertRank * 100 + (source.news2?.total ?? 0);
  }
}

export function wallView(root: HTMLElement): () => void {
  const tiles = new Map<string, Tile>();
  const summary = new LiveText('');
  let filter = '';
  let sort: 'bed' | 'urgency' = (localStorage.getItem('vigil.wallSort') as 'bed' | 'urgency' | null) ?? 'bed';

  const list = h('ul', { class: 'wall', 'aria-label': 'Patients' });
  const emptyText = ['No patients yet. Register sources of kind PATIENT (', h('code', {}, 'npm run simulate'), ' does) and they appear here.'];
  const empty = h('p', { class: 'empty', hidden: true }, ...emptyText);
  const noMatch = h('p', { class: 'empty', role: 'status', hidden: true });
  const search = h('input', { id: 'wall-filter', type: 'search', placeholder: 'bed or name', autocomplete: 'off' });
  const sortSelect = h(
    'select',
    { id: 'wall-sort' },
    h('option', { value: 'bed', selected: sort === 'bed' }, 'Bed'),
    h('option', { value: 'urgency', selected: sort === 'urgency' }, 'Most urgent first'),
  );
  root.append(
    h(
      'div',
      { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Ward wall'),
      h('p', { class: 'summary', 'aria-live': 'off' }, summary.node),
      h(
        'div',
        { class: 'toolbar' },
        h('label', { for: 'wall-filter' }, 'Filter'),
        search,
        h('label', { for: 'wall-sort' }, 'Sort'),
        sortSelect,
      ),
    ),
    h(
      'p',
      { class: 'legend' },
      h('span', { class: 'legend-item', 'data-state': 'ok' }, '✓ no open alert'),
      h('span', { class: 'legend-item', 'data-state': 'pending' }, '◆ pending'),
      h('span', { class: 'legend-item', 'data-state': 'firing' }, '▲ firing'),
      h('span', { class: 'legend-item', 'data-state': 'firing', 'data-severity': 'CRITICAL' }, '⬣ critical'),
      h('span', { class: 'legend-item' }, '? suspect value · ⊘ signal lost'),
      h('span', { class: 'legend-item' }, `Units: ${VITALS.map((v) => `${v.label} ${v.unit}`).join(' · ')}`),
      h('span', { class: 'legend-item' }, 'Arrow keys move between patients; Enter opens one.'),
    ),
    empty,
    noMatch,
    list,
  );

  const applyFilter = (tile: Tile, source: SourceState) => {
    const visible = !filter || source.id.toLowerCase().includes(filter) || source.name.toLowerCase().includes(filter);
    if (tile.el.hidden === visible) tile.el.hidden = !visible;
  };
  /** Says so when the filter hides every patient, rather than leaving an empty wall. */
  const showNoMatch = () => {
    const none = filter !== '' && tiles.size > 0 && [...tiles.values()].every((t) => t.el.hidden);
    noMatch.hidden = !none;
    if (none) noMatch.textContent = `No patient's bed or name contains “${search.value.trim()}”.`;
  };

  let lastOrder = '';
  const reorder = () => {
    const patients = store.patients();
    const ordered = sort === 'urgency' ? [...patients].sort((a, b) => tiles.get(b.id)!.urgency(b) - tiles.get(a.id)!.urgency(a) || a.id.localeCompare(b.id, undefined, { numeric: true })) : patients;
    const order = ordered.map((p) => p.id).join('\n');
    if (order === lastOrder) return;
    lastOrder = order;
    const focused = document.activeElement;
    list.append(...ordered.map((p) => tiles.get(p.id)!.el));
    if (focused instanceof HTMLElement && list.contains(focused)) focused.focus({ preventScroll: true });
  };

  const sync = () => {
    const now = Date.now();
    const patients = new Set(store.patients().map((p) => p.id));
    for (const [id, tile] of tiles) {
      if (patients.has(id)) continue;
      // Retired: gone from the list.
      tile.el.remove();
      tiles.delete(id);
    }
    for (const source of store.patients()) {
      if (tiles.has(source.id)) continue;
      const tile = new Tile(source.id);
      tiles.set(source.id, tile);
      tile.update(source, now);
      applyFilter(tile, source);
    }
    reorder();
    paceSparks();
    empty.hidden = !store.loaded || tiles.size > 0;
    if (store.loadError && tiles.size === 0) {
      empty.hidden = false;
      empty.replaceChildren(`Cannot load patients: ${store.loadError}. Retrying…`);
    } else empty.replaceChildren(...emptyText);
    showNoMatch();
    updateSummary();
  };

  // Tiles in view, from the grid's columns and the window's rows: each redraws its trend at most once a second until
  // SPARK_REDRAWS_PER_SECOND, less often beyond.
  const paceSparks = () => {
    const columns = Math.max(1, getComputedStyle(list).gridTemplateColumns.split(' ').filter(Boolean).length);
    const inView = Math.min(tiles.size, columns * Math.ceil(innerHeight / TILE_PITCH_PX));
    sparkIntervalMs = SPARK_INTERVAL_MS * Math.max(1, inView / SPARK_REDRAWS_PER_SECOND);
  };
  window.addEventListener('resize', paceSparks);

  const updateSummary = () => {
    let firing = 0;
    for (const alert of store.openAlerts.values()) if (alert.state === 'FIRING') firing++;
    summary.set(`${tiles.size} patient${tiles.size === 1 ? '' : 's'} · ${firing} alert${firing === 1 ? '' : 's'} firing`);
  };

  const unlisten = store.onChange((changed, added) => {
    if (added) sync();
    const now = Date.now();
    for (const id of changed) {
      const tile = tiles.get(id);
      const source = store.sources.get(id);
      if (tile && source) tile.update(source, now);
    }
    if (changed.size) updateSummary();
  });

  // Once a second: stale flags (time passes without readings), trends whose last change is not drawn yet and, when
  // sorting by urgency, the order.
  const timer = setInterval(() => {
    onNextFrame(() => {
      const now = Date.now();
      for (const [id, tile] of tiles) {
        const source = store.sources.get(id);
        if (!source) continue;
        if (tile.staleChanged(source, now)) tile.update(source, now);
        else tile.drawSpark(source, now);
      }
      if (sort === 'urgency') reorder();
    });
  }, 1_000);

  search.addEventListener('input', () => {
    filter = search.value.trim().toLowerCase();
    for (const [id, tile] of tiles) applyFilter(tile, store.sources.get(id)!);
    showNoMatch();
  });
  sortSelect.addEventListener('change', () => {
    sort = sortSelect.value as typeof sort;
    localStorage.setItem('vigil.wallSort', sort);
    reorder();
  });

  // Arrow keys move between tiles (by row and column of the grid as laid out), Home/End to the ends.
  list.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('tile-name')) return;
    const links = [...list.querySelectorAll<HTMLAnchorElement>('li:not([hidden]) .tile-name')];
    const index = links.indexOf(target as HTMLAnchorElement);
    const columns = Math.max(1, getComputedStyle(list).gridTemplateColumns.split(' ').filter(Boolean).length);
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns, Home: -index, End: links.length - 1 - index };
    const move = moves[event.key];
    if (move === undefined) return;
    const next = links[Math.min(links.length - 1, Math.max(0, index + move))];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  store.start();
  sync();
  return () => {
    unlisten();
    clearInterval(timer);
    window.removeEventListener('resize', paceSparks);
  };
}
