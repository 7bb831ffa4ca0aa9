import { ApiError, request } from '../api.js';
import { announce, h, LiveText } from '../dom.js';
import { onNextFrame } from '../schedule.js';
import { DashAcknowledgeAlertDocument, DashAlertDetailDocument, DashAlertsDocument, type AlertState, type DashAlertFragment, type Severity } from '../generated/graphql.js';
import { store } from '../store.js';
import { formatAge, formatDateTime, metricName, SEVERITY_ICON, SEVERITY_ORDER } from '../vitals.js';

const STATES: AlertState[] = ['PENDING', 'FIRING', 'RESOLVED'];
const STATE_ICON: Record<string, string> = { PENDING: '◔', FIRING: '◉', RESOLVED: '○' };
const ACK_BY = 'vigil.ackBy';

interface Filters {
  severities: Severity[];
  states: AlertState[];
  source: string;
  unacknowledgedOnly: boolean;
}

const matches = (a: DashAlertFragment, f: Filters) =>
  f.severities.includes(a.severity) && f.states.includes(a.state) && (!f.source || a.sourceId === f.source) && (!f.unacknowledgedOnly || !a.acknowledgement);

class AlertRow {
  readonly row: HTMLTableRowElement;
  readonly extra: HTMLTableRowElement;
  private age = new LiveText('');
  private cells: HTMLTableCellElement[];
  private ackButton: HTMLButtonElement;
  private historyButton: HTMLButtonElement;
  private panel: 'none' | 'ack' | 'history' = 'none';

  constructor(
    public alert: DashAlertFragment,
    private onChanged: (alert: DashAlertFragment) => void,
  ) {
    // Named after the alert's source and metric: a screen reader's list of buttons otherwise reads two dozen alike.
    const which = `alert on ${alert.sourceId}${alert.metric ? ` ${alert.metric}` : ''}`;
    this.ackButton = h('button', { type: 'button', class: 'small', 'aria-label': `Acknowledge… ${which}`, onclick: () => this.toggle('ack') }, 'Acknowledge…');
    this.historyButton = h(
      'button',
      { type: 'button', class: 'small secondary', 'aria-expanded': 'false', 'aria-label': `History of ${which}`, onclick: () => this.toggle('history') },
      'History',
    );
    this.cells = Array.from({ length: 6 }, () => h('td'));
    this.row = h('tr', { class: 'alert-row', 'data-alert': alert.id }, ...this.cells, h('td', { class: 'actions' }, this.ackButton, ' ', this.historyButton));
    this.extra = h('tr', { class: 'alert-extra', hidden: true });
    this.render();
  }

  update(alert: DashAlertFragment) {
    this.alert = alert;
    this.render();
  }

  render() {
    const a = this.alert;
    this.row.dataset.severity = a.severity;
    this.row.dataset.state = a.state;
    const [sev, state, source, message, started, ack] = this.cells as [HTMLTableCellElement, HTMLTableCellElement, HTMLTableCellElement, HTMLTableCellElement, HTMLTableCellElement, HTMLTableCellElement];
    sev.replaceChildren(h('span', { class: 'sev', 'data-severity': a.severity }, `${SEVERITY_ICON[a.severity] ?? '!'} ${a.severity}`), a.escalatedAt ? h('span', { class: 'muted' }, ' (escalated)') : '');
    sev.className = 'severity';
    state.replaceChildren(`${STATE_ICON[a.state] ?? ''} ${a.state.toLowerCase()}`);
    state.className = 'state';
    source.replaceChildren(h('a', { href: `#/patient/${encodeURIComponent(a.sourceId)}` }, a.sourceId), a.metric ? h('span', { class: 'muted' }, ` · ${metricName(a.metric)}`) : '');
    message.replaceChildren(a.message);
    started.replaceChildren(h('span', { title: formatDateTime(a.startedAt) }, this.age.node, ' ago'));
    started.className = 'age';
    ack.className = 'ack';
    ack.replaceChildren(a.acknowledgement ? `✓ ${a.acknowledgement.by}${a.acknowledgement.note ? `: “${a.acknowledgement.note}”` : ''} (${formatDateTime(a.acknowledgement.at)})` : a.state === 'RESOLVED' ? '–' : 'Not acknowledged');
    const canAck = a.state !== 'RESOLVED' && !a.acknowledgement;
    this.ackButton.hidden = !canAck;
    if (!canAck && this.panel === 'ack') this.close();
    this.tick(Date.now());
  }

  tick(now: number) {
    this.age.set(formatAge(now - Date.parse(this.alert.startedAt)));
  }

  private close() {
    this.panel = 'none';
    this.extra.hidden = true;
    this.extra.replaceChildren();
    this.historyButton.setAttribute('aria-expanded', 'false');
  }

  private toggle(panel: 'ack' | 'history') {
    if (this.panel === panel) {
      this.close();
      (panel === 'ack' ? this.ackButton : this.historyButton).focus();
      return;
    }
    this.panel = panel;
    this.extra.hidden = false;
    this.historyButton.setAttribute('aria-expanded', String(panel === 'history'));
    if (panel === 'ack') this.showAckForm();
    else void this.showHistory();
  }

  private showAckForm() {
    const a = this.alert;
    const byInput = h('input', { id: `ack-by-${a.id}`, name: 'by', required: true, autocomplete: 'name', value: localStorage.getItem(ACK_BY) ?? '' });
    const noteInput = h('textarea', { id: `ack-note-${a.id}`, name: 'note', rows: 2, maxlength: 500 });
    const error = h('p', { class: 'error', role: 'alert' });
    const submit = h('button', { type: 'submit' }, 'Acknowledge');
    const form = h(
      'form',
      { class: 'ack-form', 'aria-label': `Acknowledge alert on ${a.sourceId}` },
      h('div', { class: 'field' }, h('label', { for: byInput.id }, 'Acknowledged by'), byInput),
      h('div', { class: 'field grow' }, h('label', { for: noteInput.id }, 'Note'), noteInput),
      h('div', { class: 'row' }, submit, h('button', { type: 'button', class: 'secondary', onclick: () => this.toggle('ack') }, 'Cancel')),
      error,
    );
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.toggle('ack');
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const by = byInput.value.trim();
      if (!by) {
        error.textContent = 'Say who acknowledges.';
        byInput.focus();
        return;
      }
      localStorage.setItem(ACK_BY, by);
      submit.disabled = true;
      error.textContent = '';
      try {
        const data = await request(DashAcknowledgeAlertDocument, { id: a.id, by, note: noteInput.value.trim() || null });
        this.onChanged(data.acknowledgeAlert);
        announce(`Alert on ${a.sourceId} acknowledged`);
        this.close();
        this.historyButton.focus();
      } catch (e) {
        submit.disabled = false;
        error.textContent = `Not acknowledged: ${(e as Error).message}`;
      }
    });
    this.extra.replaceChildren(h('td', { colspan: 7 }, form));
    (byInput.value ? noteInput : byInput).focus();
  }

  private async showHistory() {
    const body = h('td', { colspan: 7 }, h('p', { class: 'muted' }, 'Loading transitions…'));
    this.extra.replaceChildren(body);
    try {
      const data = await request(DashAlertDetailDocument, { id: this.alert.id });
      const transitions = data.alert?.transitions ?? [];
      body.replaceChildren(
        h(
          'ol',
          { class: 'transitions', 'aria-label': 'Transitions, oldest first' },
          ...transitions.map((t) =>
            h('li', {}, h('strong', {}, t.kind.toLowerCase()), ` · ${formatDateTime(t.at)} · ${t.severity}`, t.value !== null ? ` · value ${Math.round(t.value * 100) / 100}` : '', t.actor ? ` · by ${t.actor}` : '', ` · ${t.message}`),
          ),
        ),
      );
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error', role: 'alert' }, e instanceof ApiError && e.code === 'FORBIDDEN' ? 'This key may not read alert history.' : `History: ${(e as Error).message}`));
    }
  }
}

export function alertsView(root: HTMLElement): () => void {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const filters: Filters = { severities: [...SEVERITY_ORDER], states: ['PENDING', 'FIRING'], source: params.get('source') ?? '', unacknowledgedOnly: false };
  const rows = new Map<string, AlertRow>();
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older alerts');
  let endCursor: string | null = null;

  const checkbox = (group: string, value: string, label: string, checked: boolean) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: group, value, checked }), ` ${label}`);
  const sourceInput = h('input', { id: 'alerts-source', type: 'search', value: filters.source, placeholder: 'e.g. bed-01', autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Alert filters' },
    h('fieldset', {}, h('legend', {}, 'Severity'), ...SEVERITY_ORDER.map((s) => checkbox('severity', s, `${SEVERITY_ICON[s]} ${s.toLowerCase()}`, true))),
    h('fieldset', {}, h('legend', {}, 'State'), ...STATES.map((s) => checkbox('state', s, `${STATE_ICON[s]} ${s.toLowerCase()}`, filters.states.includes(s)))),
    h('div', { class: 'field' }, h('label', { for: 'alerts-source' }, 'Source'), sourceInput),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'unacked' }), ' Unacknowledged only'),
  );
  const table = h(
    'table',
    { class: 'alerts-table' },
    h('caption', { class: 'sr-only' }, 'Alerts, newest first'),
    h('thead', {}, h('tr', {}, ...['Severity', 'State', 'Source', 'Message', 'Started', 'Acknowledgement', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );
  root.append(h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Alerts')), form, status, h('div', { class: 'table-wrap' }, table), more);

  const readFilters = () => {
    const data = new FormData(form);
    filters.severities = data.getAll('severity') as Severity[];
    filters.states = data.getAll('state') as AlertState[];
    filters.source = sourceInput.value.trim();
    filters.unacknowledgedOnly = data.has('unacked');
  };

  const changed = (alert: DashAlertFragment) => {
    store.alertUpdated(alert);
    upsert(alert);
  };

  const order = () => {
    const sorted = [...rows.values()].sort((a, b) => b.alert.startedAt.localeCompare(a.alert.startedAt) || b.alert.id.localeCompare(a.alert.id));
    tbody.replaceChildren(...sorted.flatMap((r) => [r.row, r.extra]));
    status.textContent = rows.size === 0 ? 'No alerts match these filters.' : '';
  };
  let reorder = false;
  const upsert = (alert: DashAlertFragment) => {
    const row = rows.get(alert.id);
    if (!matches(alert, filters)) {
      // A row that stops matching (acknowledged under "unacknowledged only", or resolved) stays until the filters change,
      // so nobody loses the row they are reading; it is updated in place.
      row?.update(alert);
      return;
    }
    if (row) row.update(alert);
    else {
      rows.set(alert.id, new AlertRow(alert, changed));
      reorder = true;
      onNextFrame(() => {
        if (reorder) order();
        reorder = false;
      });
    }
  };

  let abort: AbortController | undefined;
  /** Per read in flight, the alerts events changed meanwhile. */
  const reads = new Set<Set<string>>();
  const load = async (append = false) => {
    abort?.abort();
    abort = new AbortController();
    if (!append) {
      rows.clear();
      endCursor = null;
      tbody.replaceChildren();
    }
    status.textContent = 'Loading…';
    if (filters.severities.length === 0 || filters.states.length === 0) {
      status.textContent = 'Choose at least one severity and one state.';
      more.hidden = true;
      return;
    }
    const signal = abort.signal;
    // Read once the page's alerts subscription runs: what changes after this read then arrives as an event. An alert
    // an event changes while the read is in flight is newer in the event: the read leaves it be.
    const touched = new Set<string>();
    try {
      await store.alertsStarted;
      if (signal.aborted) return;
      reads.add(touched);
      const data = await request(
        DashAlertsDocument,
        { states: filters.states, severities: filters.severities, sourceIds: filters.source ? [filters.source] : null, first: 100, after: append ? endCursor : null },
        { signal },
      );
      for (const edge of data.alerts.edges) if (!touched.has(edge.node.id) && (!filters.unacknowledgedOnly || !edge.node.acknowledgement)) upsert(edge.node);
      endCursor = data.alerts.pageInfo.endCursor;
      more.hidden = !data.alerts.pageInfo.hasNextPage;
      order();
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      if (e instanceof ApiError && e.code === 'FORBIDDEN') {
        // A read key: no alert history, but the open alerts this page has seen live.
        for (const alert of store.openAlerts.values()) upsert(alert);
        order();
        status.textContent = 'This key may not read alert history (needs analyst): showing alerts seen live.';
      } else status.textContent = `Could not load alerts: ${(e as Error).message}`;
    } finally {
      reads.delete(touched);
    }
  };

  // Events, and what the page's reads of open alerts apply, win over a read of this view's in flight: anything newer
  // than them comes as a later event.
  const take = (alert: DashAlertFragment) => {
    for (const touched of reads) touched.add(alert.id);
    upsert(alert);
  };
  const unlistenEvents = store.onAlertEvent((event) => take(event.alert));
  const unlistenReads = store.onAlertsRead((alerts) => alerts.forEach(take));

  let debounce: ReturnType<typeof setTimeout> | undefined;
  form.addEventListener('change', () => {
    readFilters();
    void load();
  });
  sourceInput.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      readFilters();
      void load();
    }, 300);
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  more.addEventListener('click', () => void load(true));

  const timer = setInterval(() => onNextFrame(() => rows.forEach((r) => r.tick(Date.now()))), 1_000);
  store.start();
  readFilters();
  void load();
  return () => {
    abort?.abort();
    unlistenEvents();
    unlistenReads();
    clearInterval(timer);
    clearTimeout(debounce);
  };
}
