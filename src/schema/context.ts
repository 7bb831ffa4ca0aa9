import type { Principal } from '../auth/principal.js';
import type { TenantScope } from '../auth/tenant-scope.js';
import type { Logger } from '../log.js';
import type { Services } from '../services.js';

export interface GraphQLContext {
  services: Services;
  /** Who is calling (tenant, role, key), for authorization, dead letters and the audit log. */
  principal: Principal;
  /** The caller's tenant: every resolver filters through it. */
  scope: TenantScope;
  /** X-Request-ID (the client's, or made up) for HTTP; `<socket>/<operation>` over graphql-ws. Answered in the X-Request-ID header. */
  requestId: string;
  /** SSE `Last-Event-ID` sent by a reconnecting EventSource: the last cursor it received. */
  lastEventId: string | null;
  /** The cursor of the last event this request's subscription emitted; SSE sends it as the event id. Absent over graphql-ws. */
  stream?: { lastCursor: string | null };
}

const logs = new WeakMap<GraphQLContext, Logger>();

/**
 * The server's logger with the operation's requestId and keyId on every
 * line. Made on first use and kept with the context: most operations (every
 * live subscription, for its whole life) never log.
 */
export function requestLog(ctx: GraphQLContext): Logger {
  let log = logs.get(ctx);
  if (!log) logs.set(ctx, (log = ctx.services.log.child({ requestId: ctx.requestId, keyId: ctx.principal.keyId ?? undefined })));
  return log;
}
