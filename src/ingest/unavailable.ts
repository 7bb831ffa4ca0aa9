import { UnavailableError } from '../errors.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * Rethrows a lost-connection error as UnavailableError (retryable, code
 * UNAVAILABLE) so clients can tell "try again" from "your request is wrong";
 * rethrows anything else unchanged. A failed transaction wrote nothing.
 */
export function asUnavailable(error: unknown): never {
  const code = (error as { code?: unknown })?.code;
  const sqlState = typeof code === 'string' ? code : '';
  if (CONNECTION_CODES.has(sqlState) || sqlState.startsWith('08') || sqlState === '57P01' || sqlState === '57P03') {
    throw new UnavailableError('the database is unreachable; nothing from this request was stored, retry it', { cause: sqlState });
  }
  throw error;
}
