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
