/**
 * Which partition owns a series: FNV-1a over the key's UTF-16 code units.
 * Stable across processes and versions (checkpoints depend on it), and
 * cheap enough for the hot path.
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
