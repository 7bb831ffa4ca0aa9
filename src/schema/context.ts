import type { Services } from '../services.js';

export interface GraphQLContext {
  services: Services;
  /** Who sent the request, for dead letters (and, later, audit). */
  caller: string;
  /** SSE `Last-Event-ID` sent by a reconnecting EventSource: the last cursor it received. */
  lastEventId: string | null;
  /** The cursor of the last event this request's subscription emitted; SSE sends it as the event id. */
  stream: { lastCursor: string | null };
}
