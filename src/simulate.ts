import { parseArgs } from 'node:util';
import { print } from 'graphql';
import {
  AlertRulesDocument,
  CreateAlertRuleDocument,
  DeleteAlertRuleDocument,
  UpdateAlertRuleDocument,
  IngestReadingsDocument,
  IngestTradesDocument,
  IngestTransactionsDocument,
  RegisterSourcesDocument,
  type ReadingInput,
  type TradeInput,
} from './generated/graphql.js';
import { SCENARIOS, scenarioPlan, type Scenario } from './simulator-scenarios.js';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

const HELP = `usage: npm run simulate -- [options]
  --url URL          GraphQL endpoint (default http://127.0.0.1:$PORT/graphql, PORT 4000 when unset)
  --api-key KEY      an admin key of the tenant to simulate (default: $VIGIL_API_KEY; none when the server runs open)
  --patients N       patients to simulate (default 20, 0 for trades only)
  --rate R           readings per second in total (default 60)
  --symbols N        market instruments trading alongside (default 3, 0 for none)
  --trade-rate R     trades per second in total (default 20)
  --seconds S        stop after S seconds (default: run until Ctrl-C)
  --seed N           random seed, for repeatable runs (default 1)
  --prefix P         put P before every patient id and symbol (e.g. st-marys-), so a second tenant can run it too
  --scenario LIST    add scenarios, comma-separated: deteriorating, dropout, travel, burst
                     (also creates demo alert rules on its own patients: NEWS2, tachycardia, hypoxia,
                     monitor silent; deleted when it stops, which resolves their open alerts)
  --keep-rules       leave the demo alert rules in place when it stops
  --deteriorate-over S   seconds the first patient takes to deteriorate (default 120)
  --dropout-after S      seconds before the last patient's monitor drops out (default 20)
  --dropout-for S        seconds it stays silent (default 30)
  --travel-gap S         seconds between the traveller's two cities (default 60)
  --silence S            the monitor-silent rule's interval (default 10)`;

/** Baseline and spread of each vital for a stable adult (NEWS2 scores 0). */
const VITALS = {
  heart_rate: { mean: 78, spread: 12, step: 1.5, digits: 0 },
  spo2: { mean: 97, spread: 1.5, step: 0.3, digits: 0 },
  resp_rate: { mean: 16, spread: 2.5, step: 0.4, digits: 0 },
  temperature: { mean: 36.9, spread: 0.4, step: 0.03, digits: 1 },
  bp_systolic: { mean: 122, spread: 10, step: 1.2, digits: 0 },
  bp_diastolic: { mean: 76, spread: 7, step: 0.9, digits: 0 },
  // ACVPU coded 0-4 (0 = alert): what NEWS2 needs beside the vitals.
  consciousness: { mean: 0, spread: 0, step: 0, digits: 0 },
} as const;
type Vital = keyof typeof VITALS;

const SYMBOLS = ['ACME', 'GLOBX', 'INITECH', 'BTC-USD', 'ETH-USD', 'EUR/USD'];

/** Mulberry32: small, seedable, good enough for synthetic vitals. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The server answered with errors; `retryable` when they say to try again (the database or Redis down, a rate limit). */
class Refused extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly codes: string[] = [],
  ) {
    super(message);
  }
}
const RETRYABLE = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'SHUTTING_DOWN']);

/** Something answered at the URL, but not GraphQL. */
class NotGraphQL extends Error {}

/** Batches that failed and wait to be sent again: five minutes of them at one a second. */
const MAX_BACKLOG = 300;

async function post<R, V>(target: { url: string; apiKey?: string }, document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-client-id': 'simulator',
      ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const type = response.headers.get('content-type') ?? '';
  // A page, or nothing: the URL names the server but not its GraphQL endpoint.
  if (!/json/.test(type)) throw new NotGraphQL(`it answered ${response.status} ${type || 'without a content type'}; does the URL end in /graphql?`);
  const body = (await response.json()) as { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) {
    const codes = body.errors.map((e) => e.extensions?.code ?? '');
    throw new Refused(body.errors.map((e) => e.message).join('; '), codes.every((code) => RETRYABLE.has(code)), codes);
  }
  return body.data!;
}

export async function runSimulator(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: `http://127.0.0.1:${process.env.PORT || '4000'}/graphql` },
      'keep-rules': { type: 'boolean', default: false },
      'api-key': { type: 'string', default: process.env.VIGIL_API_KEY },
      patients: { type: 'string', default: '20' },
      rate: { type: 'string', default: '60' },
      symbols: { type: 'string', default: '3' },
      'trade-rate': { type: 'string', default: '20' },
      seconds: { type: 'string' },
      seed: { type: 'string', default: '1' },
      prefix: { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
      scenario: { type: 'string', default: '' },
      'deteriorate-over': { type: 'string', default: '120' },
      'dropout-after': { type: 'string', default: '20' },
      'dropout-for': { type: 'string', default: '30' },
      'travel-gap': { type: 'string', default: '60' },
      silence: { type: 'string', default: '10' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  // Each flag is named when it is wrong: Number('x') is NaN and `>>> 0` made a seed of 'x' into 0.
  const bad: string[] = [];
  const whole = (flag: keyof typeof values, min: number) => {
    const text = String(values[flag]);
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min)) bad.push(`--${flag} must be a whole number${min > 0 ? ` of ${min} or more` : ''}, got "${text}"`);
    return n;
  };
  const patients = whole('patients', 0);
  const rate = whole('rate', 1);
  const symbolCount = whole('symbols', 0);
  const tradeRate = whole('trade-rate', 1);
  const seconds = values.seconds === undefined ? Infinity : whole('seconds', 1);
  const seed = whole('seed', 0);
  const timings = (['deteriorate-over', 'dropout-after', 'dropout-for', 'travel-gap', 'silence'] as const).map((k) => whole(k, 1));
  if (patients === 0 && symbolCount === 0) bad.push('--patients and --symbols are both 0: nothing to simulate');
  const scenarios = values.scenario.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) bad.push(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  if (scenarios.some((s) => s === 'deteriorating' || s === 'dropout') && patients === 0) bad.push('the deteriorating and dropout scenarios need --patients 1 or more');
  if (bad.length) {
    console.error(`${bad.join('\n')}\n${HELP}`);
    return 2;
  }
  const { prefix } = values;
  if (prefix && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/.test(prefix)) {
    console.error(`--prefix must be 1-32 of letters, digits, ".", "_", ":" or "-", starting with a letter or digit; got "${prefix}"\n${HELP}`);
    return 2;
  }
  const rand = random(seed);
  const api = { url: values.url, apiKey: values['api-key'] };
  const ids = Array.from({ length: patients }, (_, i) => `${prefix}bed-${String(i + 1).padStart(2, '0')}`);

  try {
    if (ids.length > 0) await post(api, RegisterSourcesDocument, { sources: ids.map((id) => ({ id, kind: 'PATIENT' as const, name: `Patient in ${id}` })) });
  } catch (error) {
    // Down, or up and refusing (a key without the admin role, ids another tenant holds): say which.
    if (error instanceof Refused) {
      const hint = error.codes.includes('UNAUTHENTICATED')
        ? '\nthe server requires API keys: pass an admin key with --api-key vgl_… or VIGIL_API_KEY'
        : error.codes.includes('SOURCE_ID_TAKEN')
          ? '\nanother tenant has these ids: give yours a prefix with --prefix (e.g. --prefix st-marys-)'
          : error.codes.includes('FORBIDDEN')
            ? '\nregistering patients needs an admin key of the tenant'
            : '';
      console.error(`the API at ${api.url} refused to register the patients: ${error.message}${hint}`);
    }
    else if (error instanceof NotGraphQL) console.error(`the API at ${api.url} is not a GraphQL endpoint: ${error.message}`);
    else console.error(`cannot reach the API at ${api.url}: ${(error as Error).message}\nstart it first with: npm start`);
    return 1;
  }

  const plan = scenarioPlan(scenarios as Scenario[], {
    patients: ids,
    deteriorateOverSeconds: timings[0]!,
    dropoutAfterSeconds: timings[1]!,
    dropoutForSeconds: timings[2]!,
    travelGapSeconds: timings[3]!,
    silenceSeconds: timings[4]!,
  }, rand);
  // On its own patients only, and gone when it stops: tenant-wide, they watched the tenant's real sources, and
  // their "monitor silent" alerts fired for every bed once it stopped, escalating to CRITICAL.
  const demoRules: string[] = [];
  if (scenarios.length && ids.length > 0) {
    const existing = new Map((await post(api, AlertRulesDocument, {})).alertRules.map((r) => [r.name, r.id]));
    for (const rule of plan.rules()) {
      const input = { ...rule, name: `${rule.name} (simulator${prefix ? ` ${prefix}` : ''})` };
      const id = existing.get(input.name);
      demoRules.push(id ? (await post(api, UpdateAlertRuleDocument, { id, input })).updateAlertRule.id : (await post(api, CreateAlertRuleDocument, { input })).createAlertRule.id);
    }
    const until = values['keep-rules'] ? 'kept when it stops' : 'deleted when it stops';
    console.log(`scenarios: ${scenarios.join(', ')}; alert rules on its ${ids.length} patients (${until}): ${plan.rules().map((r) => r.name).join('; ')}`);
  }
  const series = ids.flatMap((sourceId) =>
    (Object.keys(VITALS) as Vital[]).map((metric) => {
      const vital = VITALS[metric];
      return { sourceId, metric, level: vital.mean + (rand() - 0.5) * vital.spread, vital };
    }),
  );
  const symbols = Array.from({ length: symbolCount }, (_, i) => ({
    symbol: prefix + SYMBOLS[i % SYMBOLS.length]! + (i >= SYMBOLS.length ? `.${Math.floor(i / SYMBOLS.length)}` : ''),
    price: 50 + rand() * 200,
  }));
  let next = 0;
  const totals = { sent: 0, accepted: 0, duplicates: 0, rejected: 0, trades: 0, transactions: 0 };
  const backlog: { tick: number; trades: TradeInput[]; transactions: ReturnType<typeof plan.transactions>; readings: ReadingInput[] }[] = [];
  const started = Date.now();
  let stop = false;
  // Either ends the run as --seconds does, so the demo rules are deleted; a second Ctrl-C stops it at once.
  process.once('SIGINT', () => (stop = true));
  process.once('SIGTERM', () => (stop = true));
  const tty = process.stdout.isTTY;
  console.log(`simulating ${patients} patients at ${rate} readings/s against ${api.url}${Number.isFinite(seconds) ? ` for ${seconds}s` : ' (Ctrl-C stops)'}`);

  for (let tick = 0; !stop && tick < seconds; tick++) {
    const tickStart = started + tick * 1000;
    const readings: ReadingInput[] = [];
    for (let k = 0; series.length > 0 && k < rate; k++) {
      const s = series[next++ % series.length]!;
      if (!plan.sends(s.sourceId, tick)) continue;
      // Mean-reverting random walk around the patient's own baseline (or where a scenario takes it).
      const { mean, pull } = plan.target(s.sourceId, s.metric, s.vital.mean, tick);
      s.level += (mean - s.level) * pull + (rand() - 0.5) * 2 * s.vital.step;
      readings.push({
        sourceId: s.sourceId,
        metric: s.metric,
        time: new Date(tickStart + Math.floor((k * 1000) / rate)).toISOString(),
        value: Number(s.level.toFixed(s.vital.digits)),
      });
    }
    const trades: TradeInput[] = [];
    for (let k = 0; symbols.length > 0 && k < tradeRate; k++) {
      const instrument = symbols[k % symbols.length]!;
      // Geometric random walk: ±0.1% a trade.
      instrument.price *= 1 + (rand() - 0.5) * 0.002;
      trades.push({
        symbol: instrument.symbol,
        time: new Date(tickStart + Math.floor((k * 1000) / tradeRate)).toISOString(),
        // As a venue numbers its trades; a retried batch resends the same ids, so it is stored once.
        tradeId: `${tickStart}-${k}`,
        price: Number(instrument.price.toFixed(4)),
        size: 1 + Math.floor(rand() * 500),
      });
    }
    // A batch that fails is sent again, in order, before newer ones: ingest is idempotent, so what of it was stored
    // comes back as duplicates. A gap in the data would raise signal-loss alerts of its own.
    backlog.push({ tick, trades, transactions: plan.transactions(tick, tickStart), readings });
    if (backlog.length > MAX_BACKLOG) console.error(`\nbatch at t=${backlog.shift()!.tick + 1}s dropped: more than ${MAX_BACKLOG} batches waiting`);
    while (backlog.length > 0) {
      const batch = backlog[0]!;
      try {
        if (batch.trades.length > 0) totals.trades += (await post(api, IngestTradesDocument, { trades: batch.trades })).ingestTrades.accepted;
        batch.trades = [];
        if (batch.transactions.length > 0) totals.transactions += (await post(api, IngestTransactionsDocument, { transactions: batch.transactions })).ingestTransactions.accepted;
        batch.transactions = [];
        // Trades only (--patients 0): no readings to send.
        const result = batch.readings.length > 0 ? (await post(api, IngestReadingsDocument, { readings: batch.readings })).ingestReadings : undefined;
        backlog.shift();
        totals.sent += batch.readings.length;
        totals.accepted += result?.accepted ?? 0;
        totals.duplicates += result?.duplicates ?? 0;
        totals.rejected += result?.rejected ?? 0;
        const line = `t=${batch.tick + 1}s sent ${totals.sent} accepted ${totals.accepted} duplicates ${totals.duplicates} rejected ${totals.rejected} last cursor ${result?.lastCursor ?? '-'} trades ${totals.trades}${totals.transactions ? ` card transactions ${totals.transactions}` : ''}`;
        if (tty) process.stdout.write(`\r${line}`);
        else console.log(line);
      } catch (error) {
        if (error instanceof Refused && !error.retryable) {
          // Sending it again would be refused again (a key without the ingest role, a batch above MAX_BATCH).
          backlog.shift();
          console.error(`\nbatch at t=${batch.tick + 1}s refused: ${error.message}; not sent again`);
          continue;
        }
        console.error(`\nbatch at t=${batch.tick + 1}s failed: ${(error as Error).message}; ${backlog.length} waiting, sent again next second`);
        break;
      }
    }
    const wait = started + (tick + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  if (tty) process.stdout.write('\n');
  const unsent = backlog.reduce((n, batch) => n + batch.readings.length, 0);
  if (unsent > 0) console.error(`${backlog.length} batches (${unsent} readings) could not be sent before the end`);
  console.log(`done: ${totals.accepted} readings and ${totals.trades} trades stored in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (demoRules.length > 0 && !values['keep-rules']) {
    let deleted = 0;
    for (const id of demoRules) {
      await post(api, DeleteAlertRuleDocument, { id }).then(
        () => deleted++,
        (error: Error) => console.error(`could not delete demo alert rule ${id}: ${error.message}; delete it with deleteAlertRule`),
      );
    }
    console.log(`${deleted} demo alert rules deleted, their open alerts resolved (--keep-rules keeps them)`);
  }
  return 0;
}
