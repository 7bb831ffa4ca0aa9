/**
 * Load for the live and memory benchmarks: vitals of `patients` patients
 * (six metrics each, round robin, wall-clock event times unique per series),
 * sent on a fixed schedule in batches either to the platform (the
 * ingestReadings mutation) or to the raw path (a Redis PUBLISH of the message
 * the platform itself would publish for that batch: src/live/wire.ts).
 */
import { print } from 'graphql';
import { Redis } from 'ioredis';
import { IngestReadingsDocument, RegisterSourcesDocument, type ReadingInput } from '../../src/generated/graphql.js';
import type { Reading } from '../../src/db/readings.js';
import { readingsCodec } from '../../src/live/wire.js';
import { progress } from '../report.js';
import type { CommitRanges, Platform } from './platform.js';
import type { Child } from './child.js';
import type { Counts } from './clients.js';
import { percentiles, Samples, sleep, type Percentiles } from './stats.js';

export const METRICS = [
  { metric: 'heart_rate', unit: '/min', base: 80, spread: 8 },
  { metric: 'spo2', unit: '%', base: 96, spread: 2 },
  { metric: 'resp_rate', unit: '/min', base: 16, spread: 3 },
  { metric: 'temperature', unit: '°C', base: 37, spread: 0.4 },
  { metric: 'bp_systolic', unit: 'mmHg', base: 120, spread: 10 },
  { metric: 'bp_diastolic', unit: 'mmHg', base: 80, spread: 8 },
] as const;

export const patientIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

export async function registerPatients(platform: Platform, ids: readonly string[]) {
  for (let i = 0; i < ids.length; i += 1_000) {
    await platform.gql(RegisterSourcesDocument, { sources: ids.slice(i, i + 1_000).map((id) => ({ id, kind: 'PATIENT' as const, name: `Bench ${id}` })) });
  }
}

export interface Generated {
  sourceId: string;
  metric: string;
  unit: string;
  /** Epoch ms. */
  time: number;
  value: number;
}

/** Readings round robin over patients × metrics; each series' times strictly increase (natural keys never collide). */
export class ReadingSource {
  private k = 0;
  private readonly last = new Map<string, number>();

  constructor(private readonly patients: readonly string[]) {}

  next(count: number): Generated[] {
    const now = Date.now();
    const out: Generated[] = [];
    for (let i = 0; i < count; i++, this.k++) {
      const sourceId = this.patients[this.k % this.patients.length]!;
      const m = METRICS[Math.floor(this.k / this.patients.length) % METRICS.length]!;
      const key = `${sourceId}/${m.metric}`;
      const time = Math.max(now, (this.last.get(key) ?? 0) + 1);
      this.last.set(key, time);
      const value = Math.round((m.base + m.spread * (((this.k * 7919) % 200) / 100 - 1)) * 10) / 10;
      out.push({ sourceId, metric: m.metric, unit: m.unit, time, value });
    }
    return out;
  }

  /** One reading per patient (the first metric): every subscriber filtered to one patient gets one. */
  onePerPatient(): Generated[] {
    const out: Generated[] = [];
    for (const sourceId of this.patients) {
      const key = `${sourceId}/heart_rate`;
      const time = Math.max(Date.now(), (this.last.get(key) ?? 0) + 1);
      this.last.set(key, time);
      out.push({ sourceId, metric: 'heart_rate', unit: '/min', time, value: 70 });
    }
    return out;
  }
}

/** Where a batch goes; answers the batch's last cursor. */
export interface Sink {
  readonly name: string;
  send(batch: Generated[]): Promise<number>;
  /** Ingest round trips (platform) or PUBLISH round trips (raw) since the last reset, ms. */
  readonly roundTrips: Samples;
  close(): Promise<void>;
}

/** The platform: POST ingestReadings, one batch per request; the commit times come from the server (Platform.ranges). */
export function platformSink(platform: Platform): Sink {
  const query = print(IngestReadingsDocument);
  const roundTrips = new Samples(1024);
  return {
    name: 'platform',
    roundTrips,
    async send(batch) {
      const readings: ReadingInput[] = batch.map((r) => ({ sourceId: r.sourceId, metric: r.metric, time: new Date(r.time).toISOString(), value: r.value }));
      const started = performance.now();
      const response = await fetch(platform.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { readings } }) });
      const body = (await response.json()) as { data?: { ingestReadings: { accepted: number; lastCursor: string | null } }; errors?: unknown };
      roundTrips.push(performance.now() - started);
      const result = body.data?.ingestReadings;
      if (!result || result.accepted !== batch.length || !result.lastCursor) throw new Error(`ingest failed: ${JSON.stringify(body).slice(0, 400)}`);
      return Number(result.lastCursor);
    },
    close: async () => undefined,
  };
}

/**
 * The raw path: cursors counted here, the batch encoded exactly as the
 * platform's ingest encodes it after commit (committedAt = Date.now(), as
 * there), PUBLISHed on Redis; the range and its commit time go to `ranges`.
 */
export async function rawSink(redisUrl: string, channel: string, ranges: CommitRanges, firstCursor = 0): Promise<Sink> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const roundTrips = new Samples(1024);
  let cursor = firstCursor;
  return {
    name: 'raw',
    roundTrips,
    async send(batch) {
      const from = cursor;
      const to = from + batch.length;
      const events: Reading[] = batch.map((r) => ({
        cursor: BigInt(++cursor),
        sourceId: r.sourceId,
        metric: r.metric,
        time: new Date(r.time),
        value: r.value,
        unit: r.unit,
        quality: 'GOOD',
        tenantId: 'default',
      }));
      // Taken where the platform's ingest takes its committedAt: before the batch is encoded and published.
      const committedAt = Date.now();
      const message = readingsCodec.encode({ from: BigInt(from), to: BigInt(to), events, committedAt });
      const started = performance.now();
      const published = redis.publish(channel, message);
      ranges.push(from, to, committedAt);
      await published;
      roundTrips.push(performance.now() - started);
      // This batch's last cursor (others may have been counted while this PUBLISH was in flight).
      return to;
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

export interface DriveOptions {
  /** Offered readings/s. */
  rate: number;
  seconds: number;
  /** A batch every this many ms (rate × interval readings each). */
  intervalMs?: number;
  /** Batches outstanding at most; the schedule waits beyond that (so an overloaded sink lowers the accepted rate). */
  maxInFlight?: number;
  /** Progress line label. */
  label: string;
  /** Told each batch's last cursor and how many deliveries it should produce. */
  onSent?: (lastCursor: number, batch: Generated[]) => void;
}

export interface DriveResult {
  batches: number;
  readings: number;
  /** Readings accepted per second over the run. */
  acceptedRate: number;
  roundTrip: Percentiles;
  /** The most a batch went out behind its schedule: a blocked event loop here, or a sink holding maxInFlight. */
  maxLagMs: number;
}

/** Sends batches on schedule for `seconds` (bounded by count and by a deadline), then waits for the ones in flight. */
export async function drive(sink: Sink, source: ReadingSource, options: DriveOptions): Promise<DriveResult> {
  const intervalMs = options.intervalMs ?? 50;
  const maxInFlight = options.maxInFlight ?? 8;
  const perBatch = Math.max(1, Math.round((options.rate * intervalMs) / 1000));
  const batches = Math.max(1, Math.floor((options.seconds * 1000) / intervalMs));
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let readings = 0;
  let sent = 0;
  let maxLagMs = 0;
  sink.roundTrips.clear();
  const started = performance.now();
  const deadline = started + options.seconds * 1000 + intervalMs;
  for (let b = 0; b < batches && failure === undefined; b++) {
    const wait = started + b * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const now = performance.now();
    if (now >= deadline) break;
    maxLagMs = Math.max(maxLagMs, now - (started + b * intervalMs));
    const batch = source.next(perBatch);
    const sending: Promise<void> = sink.send(batch).then(
      (lastCursor) => {
        readings += batch.length;
        options.onSent?.(lastCursor, batch);
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
    sent++;
    progress(options.label, b + 1, batches);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  const seconds = (performance.now() - started) / 1000;
  const trips = new Float64Array(sink.roundTrips.length);
  for (let i = 0; i < trips.length; i++) trips[i] = sink.roundTrips.at(i);
  return { batches: sent, readings, acceptedRate: readings / seconds, roundTrip: percentiles(trips), maxLagMs };
}

/**
 * Calls `send` (which sends one reading per patient) every second until
 * every subscriber of the client fleet has received at least one reading:
 * then every subscription is attached on its server. Bounded by `timeoutMs`.
 */
export async function primeUntilReady(clients: Child<unknown>, what: string, send: () => Promise<unknown>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await send();
    const until = Date.now() + 1_000;
    let c = await clients.call<Counts>('counts');
    while (c.ready < c.subscribers && Date.now() < until) {
      await sleep(50);
      c = await clients.call<Counts>('counts');
    }
    if (c.errors.length) throw new Error(`${what}: subscribers failed: ${c.errors.join(' | ')}`);
    if (c.ready === c.subscribers) break;
    if (Date.now() > deadline) throw new Error(`${what}: only ${c.ready} of ${c.subscribers} subscribers received the priming readings within ${timeoutMs} ms`);
  }
  await sleep(300);
}
