import 'uplot/dist/uPlot.min.css';
import './style.css';
import { onConnectionState, storedApiKey, storeApiKey, type ConnectionState } from './api.js';
import { announce } from './dom.js';
import { frameSummary, startFrameStats } from './frame-stats.js';
import { store } from './store.js';
import { formatAge, SEVERITY_ORDER } from './vitals.js';
import { alertsView } from './views/alerts.js';
import { marketsView } from './views/markets.js';
import { patientView } from './views/patient.js';
import { wallView } from './views/wall.js';

type View = (root: HTMLElement, ...params: string[]) => () => void;

const routes: { pattern: RegExp; name: string; view: View }[] = [
  { pattern: /^\/?$/, name: 'wall', view: wallView },
  { pattern: /^\/patient\/([^/]+)$/, name: 'wall', view: patientView },
  { pattern: /^\/markets$/, name: 'markets', view: marketsView },
  { pattern: /^\/alerts$/, name: 'alerts', view: alertsView },
];

const main = document.getElementById('view')!;
let cleanup: (() => void) | undefined;

function route() {
  const path = location.hash.replace(/^#/, '').split('?')[0] ?? '';
  const match = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  cleanup?.();
  main.replaceChildren();
  const { r, m } = match ?? { r: routes[0]!, m: null };
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a[data-route]')) {
    if (link.dataset.route === r.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  cleanup = r.view(main, ...(m ? m.slice(1).map(decodeURIComponent) : []));
  const heading = main.querySelector<HTMLElement>('h1');
  document.title = `${heading?.textContent ?? 'Dashboard'} · Vigil`;
  // Keyboard and screen-reader users land on the new view's heading, not back at the top of the page.
  if (routed) heading?.focus({ preventScroll: false });
  routed = true;
}
let routed = false;

// ---- Connection indicator: icon, words and colour together ----
const indicator = document.getElementById('connection')!;
const icon = indicator.querySelector('.connection-icon')!;
const label = indicator.querySelector('.connection-label')!;
const keyError = document.getElementById('key-error')!;
let connection: ConnectionState = { kind: 'connecting' };

function showConnection() {
  const s = connection;
  indicator.dataset.state = s.kind;
  if (s.kind === 'live') {
    icon.textContent = '●';
    label.textContent = s.reconnects > 0 ? `Live (reconnected)` : 'Live';
  } else if (s.kind === 'connecting') {
    icon.textContent = '◌';
    label.textContent = 'Connecting…';
  } else if (s.kind === 'reconnecting') {
    icon.textContent = '◌';
    label.textContent = `Reconnecting… offline ${formatAge(Date.now() - s.since)}${s.attempts > 0 ? `, attempt ${s.attempts}` : ''}; showing last known values`;
  } else if (s.kind === 'busy') {
    icon.textContent = '✕';
    label.textContent = `Not connected: too many connections for this API key; retrying in ${formatAge(Math.max(0, s.retryAt - Date.now()))}; showing last known values`;
  } else {
    icon.textContent = '✕';
    label.textContent = /required/i.test(s.reason) ? 'Not connected: this server needs an API key' : 'Not connected: API key refused';
  }
  indicator.title = s.kind === 'refused' || s.kind === 'busy' ? s.reason : '';
  keyError.textContent = s.kind === 'refused' ? s.reason : '';
}
onConnectionState((state) => {
  const was = connection.kind;
  connection = state;
  showConnection();
  if (state.kind === 'refused' && was !== 'refused') (document.getElementById('settings') as HTMLDetailsElement).open = true;
});

// ---- API key ----
const keyForm = document.getElementById('key-form') as HTMLFormElement;
const keyInput = document.getElementById('api-key') as HTMLInputElement;
keyInput.value = storedApiKey();
// A new key may belong to another tenant: start again from a clean page rather than mix what the old one saw.
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  storeApiKey(keyInput.value.trim());
  location.reload();
});
document.getElementById('key-clear')!.addEventListener('click', () => {
  storeApiKey('');
  location.reload();
});

// ---- Open alert count in the navigation ----
const alertCount = document.getElementById('alert-count')!;
function showAlertCount() {
  let firing = 0;
  for (const alert of store.openAlerts.values()) if (alert.state === 'FIRING' && !alert.acknowledgement) firing++;
  const text = firing > 0 ? String(firing) : '';
  if (alertCount.textContent !== text) alertCount.textContent = text;
  alertCount.setAttribute('aria-label', `${firing} unacknowledged firing alert${firing === 1 ? '' : 's'}`);
}
store.onChange(showAlertCount);
// Whatever view is open, screen readers hear of an alert that starts firing, is escalated, rises in severity, or
// loses its acknowledgement (a nurse who acknowledged it at 5 must hear that it is at 7 now, and nobody's).
store.onAlertEvent((event, before) => {
  const { alert } = event;
  const rose = event.kind === 'UPDATED' && before !== undefined && SEVERITY_ORDER.indexOf(alert.severity) > SEVERITY_ORDER.indexOf(before.severity);
  const unacknowledged = event.kind === 'UPDATED' && !!before?.acknowledgement && !alert.acknowledgement;
  if (event.kind !== 'FIRING' && event.kind !== 'ESCALATED' && !rose && !unacknowledged) return;
  const what = event.kind === 'FIRING' ? 'firing' : event.kind === 'ESCALATED' ? 'escalated' : rose ? `rose from ${before!.severity}` : 'no longer acknowledged';
  // The event's message, not the alert's: it names an acknowledgement the event cleared, which the alert no longer shows.
  const { message } = event;
  // A resumed subscription may replay an alert's firing and its resolution in one message: announce it only if it is
  // still open once the message is applied.
  queueMicrotask(() => {
    if (store.openAlerts.has(alert.id)) announce(`${alert.severity} alert ${what} on ${alert.sourceId}: ${message}`);
  });
});

// ---- Status bar: frame times and update rate measured in this page ----
const frameReadout = document.getElementById('frame-readout')!;
const rateReadout = document.getElementById('rate-readout')!;
const cursorReadout = document.getElementById('cursor-readout')!;
let lastApplied = 0;
let lastAt = performance.now();
setInterval(() => {
  const f = frameSummary(2_000);
  frameReadout.textContent = `Frames: ${f.fps.toFixed(0)} fps · p50 ${f.p50.toFixed(1)} ms · p95 ${f.p95.toFixed(1)} ms · max ${f.max.toFixed(0)} ms`;
  const now = performance.now();
  const rate = ((store.readingsApplied - lastApplied) * 1000) / (now - lastAt);
  lastApplied = store.readingsApplied;
  lastAt = now;
  rateReadout.textContent = `Readings: ${rate.toFixed(0)}/s`;
  cursorReadout.textContent = `Cursor: ${store.lastCursor ?? '–'}`;
  if (connection.kind === 'reconnecting' || connection.kind === 'busy') showConnection();
}, 1_000);

startFrameStats();
store.start();
window.addEventListener('hashchange', route);
route();
