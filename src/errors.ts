/**
 * Errors a caller can act on. Each carries a stable `code` that reaches the
 * client as `extensions.code` (schema/errors.ts); anything else is logged and
 * masked as an internal error.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}, code = 'BAD_USER_INPUT') {
    super(code, message, details);
  }
}

/** The database or broker cannot serve right now; the same request may succeed later. */
export class UnavailableError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, { retryable: true, ...details });
  }
}

/**
 * Live outputs (windows, NEWS2, …; no cursor to resume from) this subscription may not have been sent: pub/sub lost
 * messages while a connection to it was down, or a node could not publish. The client subscribes again and
 * re-reads with the matching query. (Alerts are read from the database in order, and miss nothing.)
 */
/** The query that reads what a live output holds, where it is not named as the output is. */
const QUERY_OF: Record<string, string> = { news2: 'news2Scores' };

export class EventsMissedError extends AppError {
  constructor(noun: string) {
    super(
      'EVENTS_MISSED',
      `live ${noun} were interrupted: pub/sub lost messages, so some may not have reached this subscription; subscribe again, and query ${QUERY_OF[noun] ?? noun} for what changed meanwhile`,
      { retryable: true },
    );
  }
}

/** A subscriber fell so far behind that its buffer filled; it resumes from `resumeAfter` (streams and alerts, which have cursors). */
export class SlowConsumerError extends AppError {
  constructor(limit: number, resumeAfter: string | null, noun = 'readings') {
    super(
      'SLOW_CONSUMER',
      noun === 'readings' || resumeAfter !== null
        ? `subscriber fell more than ${limit} ${noun} behind and was disconnected; resubscribe with after: ${JSON.stringify(resumeAfter)} to continue without loss`
        : `subscriber fell more than ${limit} ${noun} behind and was disconnected; resubscribe, and query ${noun} for what it missed`,
      { resumeAfter, limit },
    );
  }
}

/** No key, or a key that is unknown, revoked or expired. HTTP 401. */
export class UnauthenticatedError extends AppError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message, { http: { status: 401, headers: { 'www-authenticate': 'Bearer realm="vigil"' } } });
  }
}

/** The key's role may not run this operation, or the data belongs to another tenant. HTTP 403 for whole operations. */
export class ForbiddenError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FORBIDDEN', message, details);
  }
}

/** The key used up its operations for this window; `retryAfterMs` says when the next one is allowed. HTTP 429. */
export class RateLimitedError extends AppError {
  constructor(limit: number, windowMs: number, retryAfterMs: number) {
    super('RATE_LIMITED', `rate limit of ${limit} operations per ${windowMs} ms exceeded; retry in ${retryAfterMs} ms`, {
      retryAfterMs,
      limit,
      windowMs,
      http: { status: 429, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1_000))) } },
    });
  }
}

/** Retry-After of a refused connection: a slot frees only when one of the holder's connections closes, which no one can foretell. */
export const CONNECTION_RETRY_AFTER_MS = 30_000;

/**
 * A graphql-ws socket or SSE stream beyond MAX_CONNECTIONS_PER_KEY: refused, the holder's open ones untouched. HTTP
 * 429 for a stream; the message fits a WebSocket close reason (123 bytes) with numbers of up to 7 digits.
 */
export class TooManyConnectionsError extends AppError {
  constructor(limit: number, open: number, holder: 'key' | 'address') {
    super('TOO_MANY_CONNECTIONS', `too many connections: this ${holder === 'key' ? 'API key' : 'address'} holds ${open} on this node, MAX_CONNECTIONS_PER_KEY is ${limit}; close one first`, {
      limit,
      open,
      retryable: true,
      retryAfterMs: CONNECTION_RETRY_AFTER_MS,
      http: { status: 429, headers: { 'retry-after': String(CONNECTION_RETRY_AFTER_MS / 1_000) } },
    });
  }
}

/**
 * A subscription's replay from storage that waited REPLAY_WAIT for one of its key's MAX_CONCURRENT_REPLAYS_PER_KEY
 * turns: ended, to resubscribe with the same cursor (nothing was sent to it yet, live or replayed).
 */
export class TooManyReplaysError extends AppError {
  constructor(limit: number, waitedMs: number, resumeAfter: string, noun: string) {
    super(
      'TOO_MANY_REPLAYS',
      `too many replays: ${limit} of this API key (or address, on an open server) were reading stored rows on this node (MAX_CONCURRENT_REPLAYS_PER_KEY), and this replay of ${noun} waited ${waitedMs} ms (REPLAY_WAIT) for its turn; resubscribe with after: ${JSON.stringify(resumeAfter)} to continue without loss`,
      { limit, resumeAfter, retryable: true },
    );
  }
}
