/**
 * PostgreSQL array literals ('{"a","b"}', '{1.5,2}') built in one pass, for
 * ingest's column arrays (a text parameter cast to text[] or float8[] in the
 * statement). postgres.js serialises an array parameter element by element:
 * a quoted string per number and two regex replaces per string, ~8% of the
 * server's CPU on ingest of batches of 1,000 readings. The common case here
 * (identifiers from a catalog or a pattern) needs no escaping at all.
 */

const ESCAPED = /[\\"]/g;

/** `{"…","…"}`: each value double-quoted (so "NULL", "" and spaces stay strings), `"` and `\` escaped; null → NULL. */
export function textArrayLiteral(values: readonly (string | null | undefined)[]): string {
  if (values.length === 0) return '{}';
  let plain = true;
  for (let i = 0; i < values.length && plain; i++) {
    const value = values[i];
    plain = value != null && value.indexOf('"') === -1 && value.indexOf('\\') === -1;
  }
  if (plain) return '{"' + values.join('","') + '"}';
  return '{' + values.map((v) => (v == null ? 'NULL' : '"' + v.replace(ESCAPED, '\\$&') + '"')).join(',') + '}';
}

/**
 * `{…,…}` of numbers as JavaScript writes them (the shortest text that reads back as the same double;
 * NaN and ±Infinity as PostgreSQL spells them); null → NULL.
 */
export function float8ArrayLiteral(values: readonly (number | null | undefined)[]): string {
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) return '{' + values.map((v) => (v == null ? 'NULL' : String(v))).join(',') + '}';
  }
  return '{' + values.join(',') + '}';
}
