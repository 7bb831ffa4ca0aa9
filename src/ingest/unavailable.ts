import { CommitOutcomeUnknownError, connectionErrorCode } from '../db/client.js';
import { UnavailableError } from '../errors.js';

/**
 * Rethrows a lost-connection error as UnavailableError (retryable, code
 * UNAVAILABLE) so clients can tell "try again" from "your request is wrong";
 * rethrows anything else unchanged. Drizzle's wrapped errors are looked
 * through (db/client.ts connectionErrorCode).
 *
 * A write that never reached the server, or a transaction that failed
 * before COMMIT, stored nothing: `maybeStored: false`. When the connection
 * was lost during COMMIT, or while an autocommit write was in flight (a
 * clean batch is one such statement, db/offsets.ts), the outcome is unknown
 * (`maybeStored: true`): the batch may be stored, entirely or not at all.
 * Either way retrying the same batch is safe, because ingest is idempotent
 * (what is already stored comes back as duplicates).
 */
export function asUnavailable(error: unknown): never {
  const cause = connectionErrorCode(error);
  if (error instanceof CommitOutcomeUnknownError) {
    throw new UnavailableError(
      'the connection to the database was lost while this request was being committed: it may or may not be stored (all of it or none). Retry it: what is already stored comes back as duplicates',
      { cause, maybeStored: true },
    );
  }
  if (cause) {
    throw new UnavailableError('the database is unreachable; nothing from this request was stored, retry it', { cause, maybeStored: false });
  }
  throw error;
}
