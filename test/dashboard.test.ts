import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcknowledgeAlertDocument,
  AlertsDocument,
  CreateAlertRuleDocument,
  IngestReadingsDocument,
  IngestTradesDocument,
  RegisterSourcesDocument,
  RetireSourcesDocument,
  type ReadingInput,
} from '../src/generated/graphql.js';
import { ensureWebBuilt } from '../web/ensure-built.js';
import { primaryBackends } from './support/backends.js';
import { sql, startTestApp, type TestApp } from './support/app.js';
import { startForwarder } from './support/forwarder.js';
import { startServerProcess } from './support/server-process.js';
import { gql, openWs } from './support/keyed-client.js';
import { createApiKey } from '../src/auth/key-admin.js';
import { dashboardFigures, dashboardLoad, DASHBOARD_VIEWPORTS } from '../bench/dashboard.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../bench/support/chromium.js';
import type {} from '../web/src/probe.js';

/**
 * The dashboard (web/) in a real browser: Debian's Chromium driven by
 * playwright-core, against the real server serving the built page at `/`.
 * CI installs Chromium (.ci/run); without /usr/bin/chromium these are skipped.
 * Each test saves a screenshot under test-results/.
 */
const haveChromium = existsSync(CHROMIUM);
const RESULTS = 'test-results';
const embedded = primaryBackends.find((b) => b.database === 'pglite')!;

if (!haveChromium) console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const iso = (ms: number) => new Date(ms).toISOString();
/** expect.poll with room for a busy machine (its default gives up after one second). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 10_000) => expect.poll(fn, { timeout, interval: 50 });

// What the page exposes for tests: window.__vigil (web/src/probe.ts, imported above), and what this file sets itself.
declare global {
  interface Window {
    /** Set by the post → tile test: when each heart-rate value first showed on ward-a1's tile (ms since epoch). */
    __shown: Record<string, number>;
  }
}

describe.skipIf(!haveChromium)(`dashboard in Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM} is missing; apt-get install -y chromium)`}`, () => {
  let browser: Browser;
  let app: TestApp;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(RESULTS, { recursive: true });
    ensureWebBuilt();
    [browser, app] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
      startTestApp(embedded),
    ]);
    await app.mutate(RegisterSourcesDocument, {
      sources: [
        { id: 'ward-a1', kind: 'PATIENT', name: 'Ada Lovelace' },
        { id: 'ward-a2', kind: 'PATIENT', name: 'Alan Turing' },
        { id: 'ward-a3', kind: 'PATIENT', name: 'Grace Hopper' },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    await browser?.close();
    await app?.close();
  });

  /**
   * A new browser profile (own local storage) with one page on `url`; page errors fail the test that owns it, and
   * the page's warnings are printed. `prepare` sets up the profile (routes) before the page opens.
   */
  async function open(url: string, { viewport = { width: 1400, height: 900 }, prepare }: { viewport?: { width: number; height: number }; prepare?: (context: BrowserContext) => Promise<unknown> } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    await prepare?.(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'warning') console.warn(`page warning: ${message.text()}`);
      if (message.type() !== 'error') return;
      // A render job that threw left part of the page as it was (web/src/schedule.ts): a defect, as an uncaught error is.
      if (message.text().startsWith('render job failed')) pageErrors.push(message.text());
      console.warn(`page error: ${message.text()}`);
    });
    await page.goto(url);
    return page;
  }

  /** An admin and a read key of a new tenant on a server with keys, and a client to call it with either. */
  const wardKeys = async (ward: TestApp, tenantId: string) => {
    const { db } = ward.server.services.database;
    const keyOf = async (role: 'admin' | 'read') => (await createApiKey(db, { tenantId, role, name: `${role} key`, expiresAt: null, createdBy: 'test' }, { createTenant: '' })).key;
    return { admin: await keyOf('admin'), reader: await keyOf('read'), call: gql(`${ward.url}/graphql`) };
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(RESULTS, `dashboard-${name}.png`) });
  const tile = (page: Page, id: string) => page.locator(`li.tile[data-source="${id}"]`);
  const vital = (page: Page, id: string, key: string) => tile(page, id).locator(`[data-vital="${key}"] .vital-value`);
  const text = async (page: Page, selector: string) => (await page.locator(selector).first().textContent())?.trim() ?? '';
  const ingest = (target: { mutate: TestApp['mutate'] }, readings: ReadingInput[]) => target.mutate(IngestReadingsDocument, { readings });
  /** A request's answer when the server is too busy to give one. */
  const busy = (route: Route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'busy' });
  /** The page's socket to the server, with the subscriptions whose document matches `held` sent only once `until` settles. */
  const holdSubscriptions = (context: BrowserContext, held: RegExp, until: Promise<void>) =>
    context.routeWebSocket(/\/graphql$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage(async (message) => {
        if (typeof message === 'string' && held.test(message)) await until;
        server.send(message);
      });
    });

  it('loads the ward wall: a tile per patient with vitals, NEWS2, quality flags and a live connection', async () => {
    const now = Date.now() - 2_000;
    const vitals = (id: string, s: Record<string, number>) => Object.entries(s).map(([metric, value]) => ({ sourceId: id, metric, value, time: iso(now) }));
    // The last minute's heart rate, stored before the page opens: its sparkline draws it at once.
    const earlier = Array.from({ length: 10 }, (_, i) => ({ sourceId: 'ward-a1', metric: 'heart_rate', value: 64 + i, time: iso(now - 40_000 + i * 3_000) }));
    await ingest(app, [
      ...earlier,
      ...vitals('ward-a1', { heart_rate: 72, spo2: 97, resp_rate: 16, bp_systolic: 121, bp_diastolic: 79, temperature: 36.8, consciousness: 0 }),
      // 104 % is outside SpO2's plausible range: stored SUSPECT, flagged on the tile.
      ...vitals('ward-a3', { heart_rate: 88, spo2: 104 }),
    ]);
    await app.settle();

    const page = await open(`${app.url}/`);
    await poll(() => page.locator('li.tile').count(), 10_000).toBe(3);
    await poll(() => text(page, '#connection')).toContain('Live');
    expect(await page.locator('h1').textContent()).toBe('Ward wall');
    await poll(() => vital(page, 'ward-a1', 'heart_rate').textContent()).toBe('72');
    expect(await vital(page, 'ward-a1', 'bp').textContent()).toBe('121/79');
    expect(await vital(page, 'ward-a1', 'temperature').textContent()).toBe('36.8');
    const sparkPoints = async (id: string) => ((await tile(page, id).locator('.spark polyline').getAttribute('points')) ?? '').trim().split(/\s+/).filter(Boolean).length;
    await poll(() => sparkPoints('ward-a1'), 3_000).toBe(11);
    await poll(() => tile(page, 'ward-a1').locator('.tile-news2').textContent()).toMatch(/NEWS2 \d+ · low/);
    // Quality: the suspect value is marked on the value and named in words.
    await poll(() => tile(page, 'ward-a3').locator('.tile-flags').textContent()).toContain('Suspect: SpO₂');
    expect(await tile(page, 'ward-a3').locator('[data-vital="spo2"]').getAttribute('data-quality')).toBe('suspect');
    expect(await tile(page, 'ward-a2').locator('.tile-flags').textContent()).toContain('No readings yet');
    // Colour is never alone: the state is in words too.
    expect(await tile(page, 'ward-a1').getAttribute('data-state')).toBe('ok');
    expect(await tile(page, 'ward-a1').locator('.tile-alert').textContent()).toContain('No open alerts');

    // The filter, by name or bed: a tile's own display style had kept every tile in view whatever it said.
    const inView = async () => (await page.locator('li.tile:visible').evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-source')))).filter((id) => id?.startsWith('ward-a'));
    await page.locator('#wall-filter').fill('hopper');
    await poll(inView).toEqual(['ward-a3']);
    await page.locator('#wall-filter').fill('WARD-A2');
    await poll(inView).toEqual(['ward-a2']);
    await page.locator('#wall-filter').fill('nobody');
    await poll(() => page.locator('p.empty:visible').textContent()).toBe('No patient\'s bed or name contains “nobody”.');
    await page.locator('#wall-filter').fill('');
    await poll(inView).toEqual(['ward-a1', 'ward-a2', 'ward-a3']);
    expect(await page.locator('p.empty:visible').count()).toBe(0);

    // Keyboard: each tile's name is a link; arrow keys move between tiles; Enter opens the patient.
    await tile(page, 'ward-a1').locator('a.tile-name').focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.closest('li')?.getAttribute('data-source'))).toBe('ward-a2');
    await shot(page, 'wall');
    await page.keyboard.press('Enter');
    await poll(() => page.locator('h1').textContent()).toContain('ward-a2');
    await page.goto(`${app.url}/#/patient/ward-a1`);
    await poll(() => page.locator('[data-vital="heart_rate"] .card-value').textContent()).toContain('72');
    await poll(() => page.locator('.history .muted[role="status"]').textContent()).toMatch(/bucket/);
    await shot(page, 'patient');

    // On a phone (375 px), every view fits its width: the charts' grid overflowed it by 60 px.
    const phone = await open(`${app.url}/#/patient/ward-a1`, { viewport: { width: 375, height: 800 } });
    for (const view of ['#/patient/ward-a1', '#/markets', '#/alerts', '#/']) {
      await phone.goto(`${app.url}/${view}`);
      await poll(() => phone.locator('h1').count()).toBe(1);
      await phone.waitForTimeout(300);
      expect({ view, width: await phone.evaluate(() => document.documentElement.scrollWidth) }).toEqual({ view, width: 375 });
    }
    expect(pageErrors).toEqual([]);
  });

  it('shows a reading posted through the API on its tile within a second', async () => {
    const page = await open(`${app.url}/`);
    await poll(() => text(page, '#connection')).toContain('Live');
    await poll(() => tile(page, 'ward-a1').count()).toBe(1);
    // The page notes when each value first shows on the tile, by its own clock (a MutationObserver runs in the
    // task that changed the DOM). Timing the harness's wait instead would add Playwright's polling and this
    // process's event loop, which the server under test shares: a stall there is not the dashboard's latency.
    await page.evaluate(() => {
      const shown: Record<string, number> = (window.__shown = {});
      const value = () => document.querySelector('li.tile[data-source="ward-a1"] [data-vital="heart_rate"] .vital-value')?.textContent;
      new MutationObserver(() => {
        const text = value();
        if (text && !(text in shown)) shown[text] = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const latencies: number[] = [];
    for (const value of [123, 124, 125]) {
      const posted = Date.now();
      await ingest(app, [{ sourceId: 'ward-a1', metric: 'heart_rate', value, time: iso(Date.now()) }]);
      const shownAt = await page.waitForFunction((v) => window.__shown[String(v)] ?? false, value, { timeout: 10_000 });
      latencies.push(Number(await shownAt.jsonValue()) - posted);
    }
    console.log(`dashboard: post → tile latency ${latencies.join(', ')} ms`);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    await shot(page, 'reading-on-tile');
    expect(pageErrors).toEqual([]);
  });

  it('forms a candle in place, closes it, and switches interval', async () => {
    // An instrument that last traded ten minutes ago has traded: not lately, at 1 s candles.
    await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'DASH-OLD', time: iso(Date.now() - 600_000), price: 50, size: 1 }] });
    await app.settle();
    const page = await open(`${app.url}/#/markets`);
    const old = page.locator('section.symbol-card[data-symbol="DASH-OLD"] .candle-last');
    await poll(() => old.textContent(), 10_000).toBe('No trades in the last 90 s');
    await poll(() => text(page, '#connection')).toContain('Live');
    await poll(() => page.locator('input#iv-1s').isChecked()).toBe(true);
    // Two minutes back, so the trade that closes the candle (62 s later) is still in the past: a series' clock
    // goes no further than the wall clock (processors/runtime.ts).
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 120_000;
    const trade = (offsetMs: number, price: number, size: number) => ({ symbol: 'DASH-T', time: iso(t0 + offsetMs), price, size });
    await app.mutate(IngestTradesDocument, { trades: [trade(100, 100, 5)] });
    const card = page.locator('section.symbol-card[data-symbol="DASH-T"]');
    const row = card.locator(`tr[data-start="${iso(t0)}"]`);
    await poll(() => row.locator('.status').textContent(), 10_000).toContain('forming');
    // A second trade in the same second updates that candle in place.
    await app.mutate(IngestTradesDocument, { trades: [trade(600, 101.5, 7)] });
    await poll(() => row.locator('td').nth(2).textContent()).toBe('101.50');
    expect(await card.locator(`tr[data-start="${iso(t0)}"]`).count()).toBe(1);
    expect(await row.locator('td').nth(6).textContent()).toBe('2');
    expect(await card.locator('.candle-last').textContent()).toMatch(/^Forming 1 s candle/);
    await shot(page, 'candle-forming');
    // A trade past ALLOWED_LATENESS (1 min) moves the watermark beyond the candle's end: it closes, final.
    await app.mutate(IngestTradesDocument, { trades: [trade(62_000, 102, 1)] });
    await poll(() => row.locator('.status').textContent(), 10_000).toContain('closed');
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(1, 7)).toEqual(['100.00', '101.50', '100.00', '101.50', '12', '2']);
    await shot(page, 'candle-closed');

    await page.locator('label[for="iv-1m"]').click();
    const minute = Math.floor(t0 / 60_000) * 60_000;
    // The view's status line says why, should its stored candles not load.
    await expect
      .poll(async () => ({ rows: await card.locator(`tr[data-start="${iso(minute)}"]`).count(), status: await text(page, 'main [role=status]') }), { timeout: 10_000, interval: 50 })
      .toMatchObject({ rows: 1 });
    // (Forming still: its series' watermark has not passed it, with no trade since.)
    await poll(() => old.textContent()).toMatch(/^Forming 1 min candle from .*, volume 1, 1 trade$/);
    await shot(page, 'markets-1m');
    expect(pageErrors).toEqual([]);
  });

  it('reads stored candles again when it reconnects: a candle that took trades and closed while the page was away is shown closed, with them', async () => {
    const forwarder = await startForwarder(Number(new URL(app.url).port));
    let opened: Page | undefined;
    try {
      // Within the 90 s the 1 s chart spans, and far enough back that a trade 62 s later (closing it) is not in the future.
      const t0 = Math.floor(Date.now() / 1000) * 1000 - 75_000;
      const trade = (offsetMs: number, price: number, size: number) => ({ symbol: 'DASH-AWAY', time: iso(t0 + offsetMs), price, size });
      const page = (opened = await open(`http://127.0.0.1:${forwarder.port}/#/markets`));
      await poll(() => text(page, '#connection')).toContain('Live');
      await poll(() => page.locator('input#iv-1s').isChecked()).toBe(true);
      await app.mutate(IngestTradesDocument, { trades: [trade(100, 100, 5)] });
      const row = page.locator(`section.symbol-card[data-symbol="DASH-AWAY"] tr[data-start="${iso(t0)}"]`);
      await poll(() => row.locator('.status').textContent(), 10_000).toContain('forming');
      // The page loses its connection (a network blip, a node drained); meanwhile the candle takes a trade and closes.
      await forwarder.hold();
      await poll(() => text(page, '#connection')).toContain('Reconnecting');
      await app.mutate(IngestTradesDocument, { trades: [trade(600, 101.5, 7)] });
      await app.mutate(IngestTradesDocument, { trades: [trade(62_000, 102, 1)] });
      await app.settle();
      await forwarder.release();
      await poll(() => text(page, '#connection'), 15_000).toContain('Live');
      // It showed 100.00 … 5, 1 trade, forming, for as long as the candle stayed on screen.
      await poll(() => row.locator('.status').textContent(), 10_000).toContain('closed');
      expect((await row.locator('td').allTextContents()).slice(1, 7)).toEqual(['100.00', '101.50', '100.00', '101.50', '12', '2']);
      expect(pageErrors).toEqual([]);
    } finally {
      // Closed before the forwarder: the page would go on retrying it for the rest of the file.
      await opened?.context().close();
      await forwarder.close();
    }
  });

  it('reads stored candles again when its first read fails for a reason other than the key (the server busy), and says so meanwhile', async () => {
    // Closed 80 s ago, within the 90 s the 1 s chart spans: only a read of stored candles can show it.
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 80_000;
    await app.mutate(IngestTradesDocument, { trades: [{ symbol: 'DASH-BUSY', time: iso(t0 + 100), price: 42, size: 3 }] });
    await app.settle();
    let reads = 0;
    const page = await open(`${app.url}/#/markets`, {
      prepare: (context) =>
        context.route('**/graphql', (route) => {
          const body = route.request().postData() ?? '';
          if (!body.includes('query DashCandles') || !body.includes('"DASH-BUSY"')) return route.fallback();
          // The first read of its candles meets a server too busy to answer; the next ones go through.
          return reads++ === 0 ? busy(route) : route.fallback();
        }),
    });
    const status = page.locator('main [role=status]');
    await poll(() => status.textContent(), 10_000).toMatch(/^Stored candles could not be loaded \(.*\); showing live candles, and reading them again in 3 s\.$/);
    const row = page.locator(`section.symbol-card[data-symbol="DASH-BUSY"] tr[data-start="${iso(t0)}"]`);
    await poll(() => row.locator('td').nth(1).textContent(), 10_000).toBe('42.00');
    await poll(() => status.textContent()).toBe('');
    expect(reads).toBe(2);
    expect(pageErrors).toEqual([]);
  });

  it('acknowledges an alert with a note, and the acknowledgement reaches a second browser', async () => {
    await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Dashboard test: HR above 140', kind: 'THRESHOLD', sourceIds: ['ward-a2'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
    });
    const nurse = await open(`${app.url}/#/alerts`);
    const other = await open(`${app.url}/#/alerts`);
    await Promise.all([nurse, other].map((p) => poll(() => text(p, '#connection')).toContain('Live')));
    await ingest(app, [{ sourceId: 'ward-a2', metric: 'heart_rate', value: 150.256, time: iso(Date.now()) }]);

    const firing = (page: Page) => page.locator('tr.alert-row[data-state="FIRING"]', { hasText: 'ward-a2' });
    await Promise.all([nurse, other].map((p) => poll(() => firing(p).count(), 10_000).toBe(1)));
    expect(await firing(nurse).locator('.severity').textContent()).toContain('▲ HIGH');
    expect(await firing(nurse).locator('.age').textContent()).toMatch(/\d+ s ago/);
    await firing(nurse).getByRole('button', { name: /^Acknowledge… alert on / }).click();
    await nurse.getByLabel('Acknowledged by').fill('Nurse Ratched');
    await nurse.getByLabel('Note').fill('Checked the patient: probe reseated');
    await shot(nurse, 'alert-acknowledging');
    await nurse.getByRole('button', { name: 'Acknowledge', exact: true }).click();

    const acknowledged = 'Nurse Ratched: “Checked the patient: probe reseated”';
    await poll(() => firing(nurse).locator('.ack').textContent()).toContain(acknowledged);
    await poll(() => firing(other).locator('.ack').textContent(), 10_000).toContain(acknowledged);
    await shot(other, 'alert-acknowledged-second-browser');
    // History of the alert: its transitions, the acknowledgement last.
    await firing(other).getByRole('button', { name: /^History of alert on / }).click();
    await poll(() => other.locator('ol.transitions').textContent()).toMatch(/firing.*acknowledged.*by Nurse Ratched/s);
    // Its value as the message gives it, to two decimals.
    expect(await other.locator('ol.transitions li').first().textContent()).toContain(' · HIGH · value 150.26 · heart_rate 150.26 > 140');

    // On the wall the patient's tile carries the alert: state attribute for the colour, and words.
    await other.goto(`${app.url}/#/`);
    await poll(() => tile(other, 'ward-a2').getAttribute('data-state'), 10_000).toBe('firing');
    expect(await tile(other, 'ward-a2').locator('.tile-alert').textContent()).toMatch(/▲ HIGH firing · acknowledged/);
    await shot(other, 'wall-with-alert');
    expect(pageErrors).toEqual([]);
  });

  it('shows a reading and an alert stored between its first reads and its subscriptions, and announces the alert', async () => {
    await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Dashboard test: ward-a3 HR above 140', kind: 'THRESHOLD', sourceIds: ['ward-a3'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
    });
    // The page's first reads (patients with their latest values, open alerts) are answered; its readings and alerts
    // subscriptions are held back until a reading has been stored and has fired an alert, so only a subscription
    // that resumes after the cursor and the seq those reads named can bring them.
    const named: { cursor?: string; seq?: string } = {};
    let readsDone: () => void = () => undefined;
    const reads = new Promise<void>((resolve) => (readsDone = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const page = await open(`${app.url}/`, {
      prepare: async (context) => {
        await context.route('**/graphql', async (route) => {
          const query = route.request().postData() ?? '';
          if (!query.includes('query DashSources') && !query.includes('query DashAlerts')) return route.fallback();
          const response = await route.fetch();
          const body = await response.json();
          if (body.data.sources) named.cursor ??= body.data.sources.lastReadingCursor;
          if (body.data.alerts) named.seq ??= body.data.alerts.lastEventSeq;
          await route.fulfill({ response, json: body });
          if (named.cursor !== undefined && named.seq !== undefined) readsDone();
        });
        await holdSubscriptions(context, /subscription DashLive(Readings|Alerts)/, released);
      },
    });
    await reads;
    expect(named).toEqual({ cursor: expect.stringMatching(/^\d+$/), seq: expect.stringMatching(/^\d+$/) });
    // SpO2 has no trend read back (heart rate does): only the readings subscription can bring it.
    await ingest(app, [
      { sourceId: 'ward-a3', metric: 'spo2', value: 89, time: iso(Date.now()) },
      { sourceId: 'ward-a3', metric: 'heart_rate', value: 150, time: iso(Date.now()) },
    ]);
    const firing = async () => (await app.mutate(AlertsDocument, { states: ['FIRING'], sourceIds: ['ward-a3'] })).alerts.edges.length;
    await poll(firing).toBe(1);
    release();

    await poll(() => vital(page, 'ward-a3', 'spo2').textContent(), 10_000).toBe('89');
    await poll(() => tile(page, 'ward-a3').getAttribute('data-state'), 10_000).toBe('firing');
    await poll(() => text(page, '#announcer')).toContain('HIGH alert firing on ward-a3');
    expect(await page.evaluate(() => [window.__vigil.resumes, window.__vigil.alertResumes])).toEqual([[named.cursor], [named.seq]]);
    expect(pageErrors).toEqual([]);
  });

  it('reads open alerts again when its first read fails for a reason other than the key (the server busy)', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-a4', kind: 'PATIENT', name: 'Hedy Lamarr' }] });
    await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Dashboard test: ward-a4 HR above 140', kind: 'THRESHOLD', sourceIds: ['ward-a4'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
    });
    await ingest(app, [{ sourceId: 'ward-a4', metric: 'heart_rate', value: 152, time: iso(Date.now()) }]);
    await poll(async () => (await app.mutate(AlertsDocument, { states: ['FIRING'], sourceIds: ['ward-a4'] })).alerts.edges.length).toBe(1);
    let reads = 0;
    const page = await open(`${app.url}/`, {
      prepare: (context) =>
        context.route('**/graphql', (route) => {
          if (!route.request().postData()?.includes('query DashAlerts')) return route.fallback();
          // The first read meets a server too busy to answer; the next ones go through.
          return reads++ === 0 ? busy(route) : route.fallback();
        }),
    });
    await poll(() => tile(page, 'ward-a4').getAttribute('data-state'), 10_000).toBe('firing');
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(pageErrors).toEqual([]);
  });

  it('shows alerts live while the patient list cannot be read (an older node, a server starting)', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-a5', kind: 'PATIENT', name: 'Katherine Johnson' }] });
    await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Dashboard test: ward-a5 HR above 140', kind: 'THRESHOLD', sourceIds: ['ward-a5'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
    });
    const page = await open(`${app.url}/#/alerts`, {
      prepare: (context) =>
        context.route('**/graphql', (route) =>
          route.request().postData()?.includes('query DashSources') ? busy(route) : route.fallback(),
        ),
    });
    await poll(() => text(page, '#connection')).toContain('Live');
    // The list view reads once the alerts subscription runs: it is not left waiting for the patients.
    await poll(() => page.locator('tr.alert-row').count()).toBeGreaterThan(0);
    await ingest(app, [{ sourceId: 'ward-a5', metric: 'heart_rate', value: 160, time: iso(Date.now()) }]);
    await poll(() => page.locator('tr.alert-row[data-state="FIRING"]', { hasText: 'ward-a5' }).count(), 10_000).toBe(1);
    await poll(() => text(page, '#announcer')).toContain('HIGH alert firing on ward-a5');
    expect(pageErrors).toEqual([]);
  });

  it('announces a NEWS2 alert that rises in severity, and whose acknowledgement that cleared', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-a7', kind: 'PATIENT', name: 'Dorothy Vaughan' }] });
    await app.mutate(CreateAlertRuleDocument, { input: { name: 'Dashboard test: ward-a7 NEWS2', kind: 'NEWS2', sourceIds: ['ward-a7'] } });
    const alertFeeds = () => app.server.services.outputs.alerts.opened;
    const before = alertFeeds();
    const page = await open(`${app.url}/#/alerts`);
    // An alert that fires before the page's alerts subscription is live is read as it stands, not announced.
    await poll(alertFeeds).toBeGreaterThan(before);
    const vitals = (changes: Record<string, number>) => {
      const time = iso(Date.now());
      return Object.entries({ resp_rate: 16, spo2: 97, bp_systolic: 120, heart_rate: 75, consciousness: 0, temperature: 37, ...changes }).map(([metric, value]) => ({ sourceId: 'ward-a7', metric, value, time }));
    };
    // resp 21 (2) + heart 91 (1) + temperature 38.1 (1) + SpO2 95 (1) = 5: HIGH.
    const five = { resp_rate: 21, heart_rate: 91, temperature: 38.1, spo2: 95 };
    await ingest(app, vitals(five));
    await poll(() => text(page, '#announcer'), 10_000).toContain('HIGH alert firing on ward-a7: NEWS2 5');
    const [firing] = (await app.mutate(AlertsDocument, { states: ['FIRING'], sourceIds: ['ward-a7'] })).alerts.edges;
    await app.mutate(AcknowledgeAlertDocument, { id: firing!.node.id, by: 'Nurse Joy' });
    const row = page.locator('tr.alert-row[data-state="FIRING"]', { hasText: 'ward-a7' });
    await poll(() => row.locator('.ack').textContent(), 10_000).toContain('Nurse Joy');
    // + systolic 100 (2) = 7: CRITICAL, above the HIGH Nurse Joy acknowledged.
    await ingest(app, vitals({ ...five, bp_systolic: 100 }));
    await poll(() => text(page, '#announcer'), 10_000).toContain('CRITICAL alert rose from HIGH on ward-a7: NEWS2 7');
    expect(await text(page, '#announcer')).toContain('acknowledgement by Nurse Joy cleared: severity rose to CRITICAL');
    await poll(() => page.locator('tr.alert-row[data-state="FIRING"]', { hasText: 'ward-a7' }).locator('.ack').textContent()).toContain('Not acknowledged');
    expect(pageErrors).toEqual([]);
  });

  it('says a patient the link names is not known, and asks its refused subscription again less and less often', async () => {
    const subscribes: number[] = [];
    const page = await open(`${app.url}/#/patient/nobody-here`, {
      prepare: (context) =>
        context.routeWebSocket(/\/graphql$/, (ws) => {
          const server = ws.connectToServer();
          ws.onMessage((message) => {
            if (typeof message === 'string' && message.includes('"subscribe"') && message.includes('DashLiveWindows')) subscribes.push(Date.now());
            server.send(message);
          });
        }),
    });
    await poll(() => text(page, 'p.muted[role="status"]')).toBe('No patient nobody-here known yet.');
    await page.waitForTimeout(6_000);
    expect(await text(page, 'p.muted[role="status"]')).toBe('No patient nobody-here known yet.');
    // Refused (not a source of this tenant): asked again after 0.5, 1, 2, 4 s, where it was every 0.5 s (12 in 6 s).
    expect(subscribes.length, `subscribed at ${subscribes.map((t) => t - subscribes[0]!).join(', ')} ms`).toBeLessThanOrEqual(5);
    expect(subscribes.length).toBeGreaterThanOrEqual(3);
    expect(pageErrors).toEqual([]);
  });

  it('says the server refused it for too many connections of its key, asks again after 30 s rather than twice a second, and goes live once one is free', async () => {
    const ward = await startTestApp(embedded, { env: { AUTH: 'on', MAX_CONNECTIONS_PER_KEY: '1', PROCESSORS: 'off' } });
    let opened: Page | undefined;
    try {
      const { reader } = await wardKeys(ward, 'crowded-ward');
      // Another screen on the same key holds the one connection it may have.
      const other = await openWs(ward.url, reader);
      expect(other.closeCode).toBeUndefined();
      const refused = () => ward.server.services.auth.connections.refused.websocket;
      const page = (opened = await open(`${ward.url}/`, {
        prepare: async (context) => {
          await context.clock.install();
          await context.addInitScript((key) => localStorage.setItem('vigil.apiKey', key), reader);
        },
      }));
      await poll(() => text(page, '#connection')).toContain('Not connected: too many connections for this API key; retrying in');
      expect(await page.locator('#connection').getAttribute('title')).toBe('too many connections: this API key holds 1 on this node, MAX_CONNECTIONS_PER_KEY is 1; close one first');
      await shot(page, 'too-many-connections');
      // Its live streams (readings, alerts, …) each resubscribed every 0.5 s, each on a new socket: 10 s made dozens.
      await page.waitForTimeout(5_000);
      expect(refused()).toBe(1);
      await other.close();
      await page.clock.fastForward(31_000);
      await poll(() => text(page, '#connection'), 15_000).toContain('Live');
      expect(refused()).toBe(1);
      expect(pageErrors).toEqual([]);
    } finally {
      await opened?.close();
      await ward.close();
    }
  });

  it("shows when each of a patient's NEWS2 parameters was measured, and how long before the score one charted earlier was", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-a8', kind: 'PATIENT', name: 'Annie Easley' }] });
    const now = Date.now() - 1_000;
    const at = (metric: string, value: number, time: number) => ({ sourceId: 'ward-a8', metric, value, time: iso(time) });
    // The monitor's vitals now; the temperature charted by hand 3 hours before.
    await ingest(app, [at('temperature', 37.2, now - 3 * 3_600_000), ...Object.entries({ resp_rate: 22, spo2: 97, bp_systolic: 120, heart_rate: 75, consciousness: 0 }).map(([m, v]) => at(m, v, now))]);
    await app.settle();
    const page = await open(`${app.url}/#/patient/ward-a8`);
    const measured = (metric: string) => page.locator(`.news2-detail tr[data-metric="${metric}"] td.measured`).textContent();
    await poll(() => measured('temperature'), 10_000).toMatch(/^\d\d:\d\d:\d\d \(3 h 0 min before\)$/);
    expect(await measured('heart_rate')).toMatch(/^\d\d:\d\d:\d\d$/);
    // A parameter that scores (respiratory rate 22: 2) stands out by its score, not by when it was measured.
    const weight = (metric: string, cell: string) => page.locator(`.news2-detail tr[data-metric="${metric}"] td.${cell}`).evaluate((td) => getComputedStyle(td).fontWeight);
    // Polled: the table is drawn again as scores arrive, and a cell replaced between lookups reads no style at all.
    await poll(async () => [await weight('resp_rate', 'score'), await weight('resp_rate', 'measured'), await weight('heart_rate', 'score')]).toEqual(['700', '400', '400']);
    expect(pageErrors).toEqual([]);
  });

  it("lists an alert that fired before the page's alerts subscription went live, when the page's first reads failed", async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-a6', kind: 'PATIENT', name: 'Mary Jackson' }] });
    await app.mutate(CreateAlertRuleDocument, {
      input: { name: 'Dashboard test: ward-a6 HR above 140', kind: 'THRESHOLD', sourceIds: ['ward-a6'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
    });
    // The page's first read of patients fails, so its subscriptions go live at once, without a position; the alerts
    // subscription and the page's next reads are held back until the alert has fired after the list's own read.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let patientReads = 0;
    const page = await open(`${app.url}/#/alerts`, {
      prepare: async (context) => {
        await context.route('**/graphql', async (route) => {
          if (!route.request().postData()?.includes('query DashSources')) return route.fallback();
          if (patientReads++ === 0) return busy(route);
          await released;
          return route.fallback();
        });
        await holdSubscriptions(context, /subscription DashLiveAlerts/, released);
      },
    });
    // The list has read (earlier tests' alerts), before the alert fires.
    await poll(() => page.locator('tr.alert-row').count()).toBeGreaterThan(0);
    await ingest(app, [{ sourceId: 'ward-a6', metric: 'heart_rate', value: 161, time: iso(Date.now()) }]);
    await poll(async () => (await app.mutate(AlertsDocument, { states: ['FIRING'], sourceIds: ['ward-a6'] })).alerts.edges.length).toBe(1);
    release();
    // Neither the list's read nor a subscription that went live after it has the alert: the page's next read of
    // open alerts brings it to the list.
    await poll(() => page.locator('tr.alert-row[data-state="FIRING"]', { hasText: 'ward-a6' }).count(), 15_000).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it('survives a server restart (on another port, behind the same origin), resuming readings after its last cursor and alerts after their last seq', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-'));
    // The embedded database and in-process pub/sub whatever the suite's environment says.
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
    const first = await startServerProcess(env);
    const forwarder = await startForwarder(Number(new URL(first.url).port));
    const emptyDir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-empty-'));
    let second: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    let third: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    let opened: Page | undefined;
    try {
      await first.mutate(RegisterSourcesDocument, {
        sources: [
          { id: 'restart-1', kind: 'PATIENT', name: 'Restart patient' },
          { id: 'restart-2', kind: 'PATIENT', name: 'Second restart patient' },
        ],
      });
      await first.mutate(CreateAlertRuleDocument, {
        input: { name: 'Restart test: HR above 140', kind: 'THRESHOLD', sourceIds: ['restart-1', 'restart-2'], metric: 'heart_rate', above: 140, severity: 'HIGH' },
      });
      const page = (opened = await open(`http://127.0.0.1:${forwarder.port}/`));
      await poll(() => text(page, '#connection')).toContain('Live');
      await poll(() => tile(page, 'restart-1').count()).toBe(1);
      await first.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'restart-1', metric: 'heart_rate', value: 71, time: iso(Date.now()) }] });
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent()).toBe('71');
      // An alert fires on restart-1 while the page watches: the page now holds a seq to resume from.
      await first.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'restart-1', metric: 'heart_rate', value: 150, time: iso(Date.now()) }] });
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent()).toBe('150');
      await poll(() => tile(page, 'restart-1').getAttribute('data-state'), 10_000).toBe('firing');
      const cursor = await page.evaluate(() => window.__vigil.lastCursor);
      expect(cursor).not.toBeNull();
      const seq = await page.evaluate(() => window.__vigil.lastAlertSeq);
      expect(seq).not.toBeNull();

      await first.stop();
      await poll(() => text(page, '#connection')).toContain('Reconnecting');
      expect(await page.locator('#connection').getAttribute('data-state')).toBe('reconnecting');
      // The page keeps showing what it had.
      expect(await vital(page, 'restart-1', 'heart_rate').textContent()).toBe('150');
      await shot(page, 'restart-offline');
      // Keep the page out until the new server has a reading it has not seen, restart-1's alert has resolved and one
      // has fired on restart-2: only a resume can bring them as they happened (a re-read of open alerts would not
      // announce the new one).
      await forwarder.hold();
      second = await startServerProcess(env);
      await second.mutate(IngestReadingsDocument, {
        readings: [
          { sourceId: 'restart-1', metric: 'heart_rate', value: 72, time: iso(Date.now()) },
          { sourceId: 'restart-2', metric: 'heart_rate', value: 155, time: iso(Date.now()) },
        ],
      });
      const openAlertSources = async () => (await second!.mutate(AlertsDocument, { states: ['PENDING', 'FIRING'] })).alerts.edges.map((e) => e.node.sourceId);
      await poll(openAlertSources, 15_000).toEqual(['restart-2']);
      forwarder.retarget(Number(new URL(second.url).port));
      await forwarder.release();

      await poll(() => text(page, '#connection'), 15_000).toContain('Live');
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent(), 10_000).toBe('72');
      expect(await page.evaluate(() => window.__vigil.resumes)).toContain(cursor);
      await poll(() => tile(page, 'restart-2').getAttribute('data-state'), 10_000).toBe('firing');
      await poll(() => tile(page, 'restart-1').getAttribute('data-state')).toBe('ok');
      expect(await page.evaluate(() => window.__vigil.alertResumes)).toContain(seq);
      await poll(() => text(page, '#announcer')).toContain('HIGH alert firing on restart-2');
      await second.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'restart-1', metric: 'heart_rate', value: 73, time: iso(Date.now()) }] });
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent()).toBe('73');
      await shot(page, 'restart-resumed');

      // A server on a new, empty database (as after a restore from an older backup): it refuses the page's cursor
      // and seq, both ahead of what it has stored. The page resumes both subscriptions after the ones the refusals
      // name, reads the state again, and goes on showing what arrives.
      await second.stop();
      await poll(() => text(page, '#connection')).toContain('Reconnecting');
      third = await startServerProcess({ ...env, DATA_DIR: emptyDir });
      await third.mutate(RegisterSourcesDocument, { sources: [{ id: 'restart-1', kind: 'PATIENT', name: 'Restart patient' }] });
      forwarder.retarget(Number(new URL(third.url).port));
      await poll(() => text(page, '#connection'), 15_000).toContain('Live');
      await third.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'restart-1', metric: 'heart_rate', value: 64, time: iso(Date.now()) }] });
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent(), 10_000).toBe('64');
      // Live again on the new stream: its readings arrive over the subscription (resumed after the cursor the refusal
      // named), so the page's cursor is the new server's.
      await third.mutate(IngestReadingsDocument, { readings: [{ sourceId: 'restart-1', metric: 'heart_rate', value: 65, time: iso(Date.now()) }] });
      await poll(() => vital(page, 'restart-1', 'heart_rate').textContent()).toBe('65');
      await poll(() => page.evaluate(() => window.__vigil.lastCursor)).toBe('2');
      expect(pageErrors).toEqual([]);
    } finally {
      // Closed before its servers: it would go on retrying them for the rest of the file.
      await opened?.context().close();
      await forwarder.close();
      await first.stop();
      await second?.stop();
      await third?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(emptyDir, { recursive: true, force: true });
    }
    // About 18 s on a quiet machine: three embedded-database starts. Room for a busy one.
  }, 180_000);

  it('reads the wall again and goes on live when a read key comes back after longer than it may replay (READ_KEY_REPLAY)', async () => {
    const ward = await startTestApp(embedded, { env: { AUTH: 'on', READ_KEY_REPLAY: '2s', PROCESSORS: 'off' } });
    let opened: Page | undefined;
    try {
      const { admin, reader, call } = await wardKeys(ward, 'replay-ward');
      const post = async (value: number) => {
        const { body } = await call(admin, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', {
          r: [{ sourceId: 'replay-1', metric: 'heart_rate', value, time: iso(Date.now()) }],
        });
        expect(body.data.ingestReadings.accepted).toBe(1);
      };
      await call(admin, 'mutation { registerSources(sources: [{ id: "replay-1", kind: PATIENT, name: "Replay patient" }]) { id } }');
      await post(70);
      // The ward's screen, on a read key, behind a network that can be cut.
      let cut = false;
      const sockets = new Set<{ close(): Promise<void> }>();
      const page = (opened = await open(`${ward.url}/`, {
        prepare: async (context) => {
          await context.addInitScript((key) => localStorage.setItem('vigil.apiKey', key), reader);
          await context.routeWebSocket(/\/graphql$/, (ws) => {
            if (cut) return void ws.close();
            sockets.add(ws);
            ws.connectToServer();
          });
        },
      }));
      await poll(() => text(page, '#connection')).toContain('Live');
      await post(71);
      await poll(() => vital(page, 'replay-1', 'heart_rate').textContent()).toBe('71');

      // Cut for longer than the key may replay, while a reading is stored: resuming after the page's cursor is refused.
      cut = true;
      await Promise.all([...sockets].map((ws) => ws.close()));
      sockets.clear();
      await post(72);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      cut = false;
      // The page reads the wall again (72 is in the read) and resumes where the refusal said, live from there.
      await poll(() => vital(page, 'replay-1', 'heart_rate').textContent(), 20_000).toBe('72');
      await poll(() => text(page, '#connection')).toContain('Live');
      await post(73);
      await poll(() => vital(page, 'replay-1', 'heart_rate').textContent()).toBe('73');
      expect(pageErrors).toEqual([]);
    } finally {
      await opened?.context().close();
      await ward.close();
    }
  }, 60_000);

  it('shows, on a read key, the alerts already firing when the wall opens', async () => {
    const ward = await startTestApp(embedded, { env: { AUTH: 'on' } });
    let opened: Page | undefined;
    try {
      const { admin, reader, call } = await wardKeys(ward, 'read-ward');
      await call(admin, 'mutation { registerSources(sources: [{ id: "read-1", kind: PATIENT, name: "Read-key patient" }]) { id } }');
      await call(admin, 'mutation { createAlertRule(input: { name: "HR above 140", kind: THRESHOLD, sourceIds: ["read-1"], metric: "heart_rate", above: 140, severity: HIGH }) { id } }');
      await call(admin, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', { r: [{ sourceId: 'read-1', metric: 'heart_rate', value: 150, time: iso(Date.now()) }] });
      const firing = async () => (await call(admin, '{ alerts(states: [FIRING]) { edges { node { id } } } }')).body.data.alerts.edges.length;
      await poll(firing, 10_000).toBe(1);
      // A ward screen on a read key, opened after the alert fired: before, it could not read open alerts and showed none.
      const page = (opened = await open(`${ward.url}/`, { prepare: (context) => context.addInitScript((key) => localStorage.setItem('vigil.apiKey', key), reader) }));
      await poll(() => tile(page, 'read-1').getAttribute('data-state'), 10_000).toBe('firing');
      expect(await tile(page, 'read-1').locator('.tile-alert').textContent()).toContain('▲ HIGH firing');
      expect(pageErrors).toEqual([]);
    } finally {
      await opened?.close();
      await ward.close();
    }
  }, 60_000);

  it("runs a subscription in GraphiQL on a server that requires keys, with the key in GraphiQL's Headers tab", async () => {
    const keyed = await startTestApp(embedded, { env: { AUTH: 'on', PROCESSORS: 'off' } });
    try {
      const { db } = keyed.server.services.database;
      const { key } = await createApiKey(db, { tenantId: 'graphiql', role: 'admin', name: 'GraphiQL', expiresAt: null, createdBy: 'test' }, { createTenant: '' });
      const call = gql(`${keyed.url}/graphql`);
      await call(key, 'mutation { registerSources(sources: [{ id: "giql-1", kind: PATIENT, name: "GraphiQL patient" }]) { id } }');
      const { body } = await call(key, 'mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }', { r: [{ sourceId: 'giql-1', metric: 'heart_rate', value: 71, time: iso(Date.now()) }] });
      expect(body.data.ingestReadings.accepted).toBe(1);
      // GraphiQL keeps its Headers tab in local storage. A browser sets no header on a WebSocket's upgrade, and
      // GraphiQL put none in graphql-ws's connection_init: its subscriptions were refused and it spun for good.
      const page = await open(`${keyed.url}/graphql`, {
        prepare: (context) => context.addInitScript((k) => localStorage.setItem('graphiql:headers', JSON.stringify({ Authorization: `Bearer ${k}` })), key),
      });
      await page.locator('.graphiql-query-editor').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Delete');
      // The editor closes brackets itself.
      await page.keyboard.type('subscription { readings(sourceIds: ["giql-1"], after: "0") { sourceId value ');
      await page.keyboard.press('Escape');
      // As a person would, not within GraphiQL's debounce of an edit (it names the operation to run from the text).
      await page.waitForTimeout(1_000);
      await page.keyboard.press('Control+Enter');
      await poll(async () => (await page.locator('.graphiql-response').textContent())?.replace(/\s+/g, ' '), 10_000).toContain('"readings": [ { "sourceId": "giql-1", "value": 71 } ]');
      expect(pageErrors).toEqual([]);
    } finally {
      await keyed.close();
    }
  }, 60_000);

  it('shows every open alert on the wall, more than a page of them: the oldest, most overdue ones too', async () => {
    const ward = await startTestApp(embedded, { env: { PROCESSORS: 'off' } });
    let opened: Page | undefined;
    try {
      const ids = Array.from({ length: 120 }, (_, i) => `many-${String(i + 1).padStart(3, '0')}`);
      await ward.mutate(RegisterSourcesDocument, { sources: ids.map((id) => ({ id, kind: 'PATIENT' as const, name: `Bed ${id}` })) });
      // 595 firing alerts, five on each other patient from five rules, and one older CRITICAL one on many-001: the alerts page
      // holds 500, newest first, so it is the last to be read.
      await ward.sql(sql`insert into alerts (id, rule_id, source_id, metric, state, severity, value, message, started_at, fired_at)
        select 'old-critical', 'rule-old', 'many-001', 'heart_rate', 'FIRING', 'CRITICAL', 180, 'heart_rate 180 above 150', now() - interval '2 hours', now() - interval '2 hours'`);
      await ward.sql(sql`insert into alerts (id, rule_id, source_id, metric, state, severity, value, message, started_at, fired_at)
        select 'bulk-' || r || '-' || p, 'rule-' || r, 'many-' || lpad(p::text, 3, '0'), 'spo2', 'FIRING', 'LOW', 93, 'spo2 93 below 94', now() - interval '1 hour', now() - interval '1 hour'
        from generate_series(1, 5) r, generate_series(2, 120) p`);
      const page = (opened = await open(`${ward.url}/`));
      await poll(() => page.locator('li.tile').count(), 10_000).toBe(120);
      await poll(() => text(page, '#connection')).toContain('Live');
      await poll(() => tile(page, 'many-001').getAttribute('data-state'), 10_000).not.toBe('ok');
      expect(await tile(page, 'many-001').locator('.tile-alert').textContent()).toMatch(/CRITICAL firing/);
      await poll(() => page.locator('body').textContent(), 5_000).toContain('596 alerts firing');
      expect(pageErrors).toEqual([]);
    } finally {
      await opened?.context().close();
      await ward.close();
    }
  }, 60_000);

  it('drops a retired (discharged) patient from an open wall when it reads the patient list again, and shows it again once readmitted', async () => {
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-z9', kind: 'PATIENT', name: 'Zelda Discharged' }] });
    const page = await open(`${app.url}/`);
    await poll(() => tile(page, 'ward-z9').count()).toBe(1);
    await app.mutate(RetireSourcesDocument, { ids: ['ward-z9'] });
    // The page reads the list again every minute; the test asks for it at once.
    await page.evaluate(() => window.__vigil.relist());
    await poll(() => tile(page, 'ward-z9').count()).toBe(0);
    expect(await tile(page, 'ward-a1').count()).toBe(1);
    // A reading after the discharge (the monitor still on), then readmitted: back on the wall at the next reading of the list.
    await ingest(app, [{ sourceId: 'ward-z9', metric: 'heart_rate', value: 66, time: iso(Date.now()) }]);
    await page.waitForTimeout(500);
    await app.mutate(RegisterSourcesDocument, { sources: [{ id: 'ward-z9', kind: 'PATIENT', name: 'Zelda Readmitted' }] });
    await page.evaluate(() => window.__vigil.relist());
    await poll(() => tile(page, 'ward-z9').count()).toBe(1);
    await poll(() => tile(page, 'ward-z9').locator('.tile-sub').textContent()).toContain('Zelda Readmitted');
    expect(pageErrors).toEqual([]);
  });

  it('keeps 200 tiles updating at 5 Hz each, every reading reaching the page, and measures its frame times beside a raw page', async () => {
    // Its own server with the processors off: this measures the page, not the server's stream processing.
    const load = await startTestApp(embedded, { env: { PROCESSORS: 'off' } });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => `load-${String(i + 1).padStart(3, '0')}`);
      await load.mutate(RegisterSourcesDocument, { sources: ids.map((id) => ({ id, kind: 'PATIENT' as const, name: `Load ${id}` })) });
      // bench/dashboard.ts at a small size (the benchmark's smoke run): the raw page, then the wall under a feed of 1,000
      // readings/s through the real API, at a 1080p wall display (tiles out of view are updated, not rendered) and with
      // all 200 in view.
      const result = await dashboardLoad({
        browser,
        url: load.url,
        ids,
        gql: (document, variables) => load.mutate(document, variables),
        hz: 5,
        warmupMs: 1_000,
        measureMs: 3_000,
        viewports: DASHBOARD_VIEWPORTS,
        onPageError: (message) => pageErrors.push(message),
        onMeasured: (page, { width, height }) => shot(page, `load-200-tiles-${width}x${height}`),
      });
      writeFileSync(join(RESULTS, 'dashboard-frames.json'), `${JSON.stringify(result, null, 2)}\n`);
      const figures = dashboardFigures(result);

      // Every reading stored after the first one the page applied reaches it: behind for a while on a busy machine is
      // allowed, lost is not.
      expect(result.stored).toBeGreaterThan(0);
      expect(result.applied).toBe(result.stored);
      expect(pageErrors).toEqual([]);
      // Both pages painted and the feed ran throughout. How fast is the benchmark's to say (npm run bench -- dashboard,
      // on a quiet machine: the wall at 0.96-1.0x the raw page's 60 fps at 1080p); here other suites share the two
      // cores, and one CI run saw a frame-time p50 of 233 ms at 1080p, with every reading applied.
      for (const v of result.viewports) {
        expect(v.platform.frames).toBeGreaterThan(0);
        expect(v.raw.frames).toBeGreaterThan(0);
      }
      // The feed ran throughout: its rate is the benchmark's to report (482/s in one CI-equivalent run, where the feeder
      // shares the cores with the server, the browser and other suites; 1,000/s offered), the count is checked here.
      for (const v of result.viewports) expect(v.platform.postedPerSecond).toBeGreaterThan(0);
      expect(result.posted).toBeGreaterThanOrEqual(1_000);
      expect(result.viewports.map((v) => v.tilesInView)).toEqual([expect.any(Number), 200]);
      expect(figures.map((f) => f.name)).toContain('dashboard 200 tiles × 5 Hz, 1920×1080: frame rate');
    } finally {
      await load.close();
    }
  }, 120_000);
});
