import { randomUUID } from 'node:crypto';

const SANE = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A client's id for its request (X-Request-ID) or graphql-ws operation when
 * it is a sane token, else a new one: it goes into log lines on every node
 * and into the stream messages that carry its batch (live/wire.ts).
 */
export function requestIdOf(value: string | string[] | undefined): string {
  const token = Array.isArray(value) ? value[0] : value;
  return token && SANE.test(token) ? token : randomUUID();
}
