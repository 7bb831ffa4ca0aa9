import type { GraphQLContext } from './context.js';

/**
 * A per-operation batch loader: the keys every resolver of one pass asks for (graphql-js resolves a page's items in
 * one pass, before any of their reads settles) are read together by one `read`, after a microtask. A page of 500
 * alerts with their transitions took 500 queries; it takes one. Batches are kept per operation context, so keys
 * of one tenant's operation never share a read with another's, and a batch is dropped once its read starts (a
 * live subscription's next event reads afresh).
 */
export function requestBatch<K, V>(read: (ctx: GraphQLContext, keys: K[]) => Promise<Map<K, V>>): (ctx: GraphQLContext, key: K) => Promise<V | undefined> {
  const batches = new WeakMap<GraphQLContext, { keys: Set<K>; read: Promise<Map<K, V>> }>();
  return (ctx, key) => {
    let batch = batches.get(ctx);
    if (!batch) {
      const keys = new Set<K>();
      const reading = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => {
        batches.delete(ctx);
        return read(ctx, [...keys]);
      });
      batch = { keys, read: reading };
      batches.set(ctx, batch);
    }
    batch.keys.add(key);
    return batch.read.then((found) => found.get(key));
  };
}
