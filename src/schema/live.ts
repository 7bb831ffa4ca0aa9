import type { GraphQLContext } from './context.js';
import { formatWindowSpec, parseWindowSpec, WINDOW_HINT } from '../duration.js';
import { ValidationError } from '../errors.js';
import { inDateTimeRange } from '../iso-time.js';
import { parseCursor } from './pagination.js';

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

/**
 * Where a resumable subscription (readings, alerts, fraud signals) starts: after its SSE Last-Event-ID, which wins
 * over `after` (an EventSource reconnects with the URL it started with, `after` included, and the id of the last
 * event it got: that one is where it is), else after `after`; null: live from now. One past `newest(cursor)`
 * belongs to another history (a database restored from an older backup) and is refused, naming where to resume
 * (`resumeAfter`), in the words of `ahead`.
 */
export async function resumePoint(
  ctx: GraphQLContext,
  after: string | null | undefined,
  newest: (cursor: bigint) => Promise<bigint>,
  ahead: (argument: string, cursor: bigint, newest: bigint) => string,
): Promise<bigint | null> {
  const argument = ctx.lastEventId !== null ? 'Last-Event-ID' : 'after';
  const cursor = parseCursor(ctx.lastEventId ?? after, argument);
  if (cursor === null) return null;
  const last = await newest(cursor);
  if (cursor > last) throw new ValidationError(ahead(argument, cursor, last), { argument, resumeAfter: last.toString() });
  return cursor;
}

/** Parses a window argument and checks the processors compute it, naming the ones they do. */
export function configuredWindow(text: string, configured: readonly { sizeMs: number; hopMs: number }[], argument: string) {
  const spec = parseWindowSpec(text);
  if (!spec) throw new ValidationError(`${argument} must be ${WINDOW_HINT}, got ${JSON.stringify(text)}`, { argument });
  if (!configured.some((c) => c.sizeMs === spec.sizeMs && c.hopMs === spec.hopMs)) {
    throw new ValidationError(`${argument} ${JSON.stringify(text)} is not computed here; configured: ${configured.map(formatWindowSpec).join(', ')}`, {
      argument,
      configured: configured.map(formatWindowSpec),
    });
  }
  return spec;
}

/** Page cursors over window starts: epoch ms as a decimal string. */
export function parseStartCursor(cursor: string | null | undefined): Date | null {
  if (!cursor) return null;
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
