import type { GraphQLContext } from './context.js';
import { formatDuration, formatWindowSpec, looksLikeDuration, parseDuration, parseWindowSpec, WINDOW_HINT } from '../duration.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { inDateTimeRange } from '../iso-time.js';
import { idCursor, parseCursor } from './pagination.js';
import { committedOffset } from '../db/offsets.js';
import type { StreamTail } from '../live/stream-tail.js';

/** A subscription's batch, or the error that ended it (slow consumer, shutdown) raised to the client. */
export function emitBatch<T>(batch: T[] | Error): T[] {
  if (batch instanceof Error) throw batch;
  return batch;
}

/**
 * Notes the cursor of the last item of a subscription event on the subscriber's
 * context (the SSE event id, so a reconnect resumes after it). Runs per
 * subscriber, before the event's shared execution (transport/shared-events.ts);
 * a graphql-ws subscriber has no stream to note it on.
 */
export function noteStreamCursor(event: unknown, context: unknown): void {
  const stream = (context as GraphQLContext).stream;
  if (!stream) return;
  const last = (Array.isArray(event) ? event.at(-1) : undefined) as { cursor?: unknown; seq?: unknown } | undefined;
  // A reading's cursor, or an alert event's or fraud signal's seq (they resume from it too).
  if (typeof last?.cursor === 'bigint') stream.lastCursor = last.cursor.toString();
  else if (typeof last?.seq === 'string') stream.lastCursor = last.seq;
}

/** A stream a subscription can resume on (readings, alert transitions, fraud signals), for resumePoint. */
export interface ResumableStream {
  /** What it holds, as the refusals name it. */
  noun: string;
  /** The newest position a client may resume after (at least `cursor` when this node knows it is). */
  newest(cursor: bigint): Promise<bigint>;
  /** The refusal of a position past `newest`, in the stream's words. */
  ahead(argument: string, cursor: bigint, newest: bigint): string;
  /** When the first item after `cursor` was stored, of any tenant or filter (null: none yet): one index step. */
  anyStoredAfter(cursor: bigint): Promise<Date | null>;
  /** When the first item after `cursor` that this subscription replays was stored (null: none): may scan. */
  storedAfter(cursor: bigint): Promise<Date | null>;
}

/**
 * A committed stream (readings, trades) as a ResumableStream. Another node may be a little ahead of this node's
 * tail, but never ahead of the committed stream. `storedAfter(cursor, own)`: when the first event after `cursor` was
 * stored, of any tenant (own false: one index step) or of those the subscription replays (own true).
 */
export function tailedStream(
  ctx: GraphQLContext,
  tail: Pick<StreamTail<{ cursor: bigint }>, 'position' | 'stream'>,
  noun: string,
  storedAfter: (cursor: bigint, own: boolean) => Promise<Date | null>,
): ResumableStream {
  return {
    noun,
    newest: async (cursor) => (cursor <= tail.position ? tail.position : committedOffset(ctx.services.database.db, tail.stream)),
    ahead: (argument, cursor, committed) => `${argument} ${cursor} is ahead of the stream (last committed cursor is ${committed}); resume with a cursor this API returned`,
    anyStoredAfter: (cursor) => storedAfter(cursor, false),
    storedAfter: (cursor) => storedAfter(cursor, true),
  };
}

/**
 * Where a resumable subscription starts: after its SSE Last-Event-ID, which wins over `after` (an EventSource
 * reconnects with the URL it started with, `after` included, and the id of the last event it got: that one is
 * where it is), else after `after`; null: live from now. Refused, naming where to resume (`resumeAfter`):
 * - a position past the newest, which belongs to another history (a database restored from an older backup);
 * - for a `read` key, one whose replay would begin more than READ_KEY_REPLAY back: a screen resumes after a
 *   reconnection, and reads the current state after a longer absence; history is an analyst's.
 */
export async function resumePoint(ctx: GraphQLContext, after: string | null | undefined, stream: ResumableStream): Promise<bigint | null> {
  const argument = ctx.lastEventId !== null ? 'Last-Event-ID' : 'after';
  const cursor = parseCursor(ctx.lastEventId ?? after, argument);
  if (cursor === null) return null;
  const newest = await stream.newest(cursor);
  if (cursor > newest) throw new ValidationError(stream.ahead(argument, cursor, newest), { argument, resumeAfter: newest.toString() });
  const limitMs = ctx.services.config.auth.readKeyReplayMs;
  const tooOld = (at: Date | null) => at !== null && Date.now() - at.getTime() > limitMs;
  // The subscription's own first item is at or after the stream's: only when that one is too old is the own one
  // looked for, so a screen reconnecting after a moment pays one index step, not a scan of other tenants' items.
  if (ctx.principal.role === 'read' && limitMs > 0 && tooOld(await stream.anyStoredAfter(cursor))) {
    if (tooOld(await stream.storedAfter(cursor))) {
      throw new ForbiddenError(
        `${argument} ${cursor} is more than ${formatDuration(limitMs)} back: a read key replays at most that much of the ${stream.noun} (READ_KEY_REPLAY); read the current state and resume after resumeAfter, or use an analyst key`,
        { argument, resumeAfter: newest.toString(), replayLimitMs: limitMs },
      );
    }
  }
  return cursor;
}

/** Parses a window argument and checks the processors compute it, naming the ones they do. */
export function configuredWindow(text: string, configured: readonly { sizeMs: number; hopMs: number }[], argument: string) {
  const spec = parseWindowSpec(text);
  // "0m" or "5m/0s" is written as a window, with a duration none is computed for (as candles' intervals): saying so
  // beats repeating the format it follows.
  const parts = text.split('/');
  const zeroOrHuge = parts.length <= 2 && parts.every(looksLikeDuration) && parts.some((part) => !parseDuration(part));
  if (!spec && !zeroOrHuge) throw new ValidationError(`${argument} must be ${WINDOW_HINT}, got ${JSON.stringify(text)}`, { argument });
  if (!spec || !configured.some((c) => c.sizeMs === spec.sizeMs && c.hopMs === spec.hopMs)) {
    throw new ValidationError(`${argument} ${JSON.stringify(text)} is not computed here; configured: ${configured.map(formatWindowSpec).join(', ')}`, {
      argument,
      configured: configured.map(formatWindowSpec),
    });
  }
  return spec;
}

/** Page cursors over window starts: epoch ms as a decimal string. */
export function parseStartCursor(given: string | null | undefined): Date | null {
  const cursor = idCursor(given, 'after');
  if (cursor === null) return null;
  const at = /^-?\d{1,16}$/.test(cursor) ? new Date(Number(cursor)) : undefined;
  // A cursor is a window's or candle's start: within the years the database holds (16 digits reach far beyond).
  if (!at || !inDateTimeRange(at.getTime())) throw new ValidationError(`after must be an endCursor returned by this API, got ${JSON.stringify(cursor)}`, { argument: 'after' });
  return at;
}

export const MAX_SUBSCRIPTION_FILTER = 1_000;

export function checkFilterSize(values: readonly unknown[] | null | undefined, argument: string) {
  if ((values?.length ?? 0) > MAX_SUBSCRIPTION_FILTER) {
    throw new ValidationError(`${argument} may name at most ${MAX_SUBSCRIPTION_FILTER} values`, { argument });
  }
}

/** A Set for a non-empty filter list, undefined for "everything". */
export function filterSet<T>(values: readonly T[] | null | undefined): Set<T> | undefined {
  return values?.length ? new Set(values) : undefined;
}
