import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; readings' values and keys never go in a log line. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'vigil' }, timestamp: pino.stdTimeFunctions.isoTime });
}
