import type { Output, Processor } from './processor.js';

/**
 * Runs a processor whose series belong to one tenant (the runtime keys them
 * `tenant/key`) and stamps its outputs with that tenant, prefixing their ids,
 * so two tenants with the same card or IP never share an output id. Only
 * event outputs are stamped: the wrapped processors emit nothing on watermarks.
 */
export function scopedToTenant<S, I extends { tenantId: string }, O extends Output>(
  processor: Processor<S, I, O>,
): Processor<S, I, O & { tenantId: string }> {
  return {
    name: processor.name,
    init: (key) => processor.init(key),
    onEvent(state, event) {
      const step = processor.onEvent(state, event);
      return { state: step.state, out: step.out.map((o) => ({ ...o, id: `${event.tenantId}/${o.id}`, tenantId: event.tenantId })) };
    },
    onWatermark(state, watermark) {
      const step = processor.onWatermark(state, watermark);
      if (step.out.length > 0) throw new Error(`${processor.name} emitted on a watermark; scopedToTenant cannot name the tenant of such outputs`);
      return { state: step.state, out: [] };
    },
  };
}
