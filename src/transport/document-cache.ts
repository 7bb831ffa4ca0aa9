/**
 * yoga's cache of parsed documents, and of the errors of those that failed to parse, by their text: for documents
 * of up to `maxLength` characters. yoga's own kept 1,024 of any length for an hour, each holding its whole text (the
 * cache's key, and the source a parsed document points at), so 150 documents of 3.9 MB, padded with spaces, sent by
 * one ingest key within its rate limit, held 1.3 GB until the server ran out of memory. A longer document is parsed
 * each time it is sent, and goes with its request. Least recently used out first.
 */
export function documentCache<T>(maxLength: number, maxEntries = 1_024): { get(text: string): T | undefined; set(text: string, value: T): void } {
  const entries = new Map<string, T>();
  return {
    get(text) {
      const value = entries.get(text);
      if (value !== undefined) {
        entries.delete(text);
        entries.set(text, value);
      }
      return value;
    },
    set(text, value) {
      if (text.length > maxLength) return;
      entries.delete(text);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(text, value);
    },
  };
}

/** The longest document kept parsed: every operation of the dashboard, the simulator and GraphiQL is a few KB. */
export const CACHED_DOCUMENT_LENGTH = 16_384;
