import { outageLog, type Logger } from '../log.js';
import type { AlertService } from './alert-service.js';

/**
 * Checks every `checkIntervalMs` for firing alerts nobody acknowledged within
 * `afterMs` and raises each by one severity level (again after another
 * `afterMs`, up to CRITICAL). Safe on every node: the update is atomic per alert.
 */
export function startEscalation(options: { alerts: AlertService; afterMs: number; checkIntervalMs: number; log: Logger }): { stop(): void } {
  let running = false;
  const outage = outageLog(options.log, 'alert escalation check');
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    options.alerts
      .escalate(options.afterMs)
      .then(outage.succeeded, (error: unknown) => outage.failed(error))
      .finally(() => (running = false));
  }, options.checkIntervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
