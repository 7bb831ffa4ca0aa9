/**
 * Names people type and others read: who acknowledged an alert, a patient's or a key's name, a rule's. They are
 * shown on every nurse's screen and in terminals (`keys list`, logs), so besides NUL (which PostgreSQL cannot hold)
 * they may not carry control characters (a terminal's escape sequences, backspaces that rewrite what came
 * before) or bidirectional overrides (which show "Eve" as "evE" to hide who wrote it). Free text (`multiline`)
 * keeps its line breaks and tabs.
 */
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const HIDDEN_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Why `value` (trimmed) is not usable as `what`, or null: empty, longer than `max`, or holding a hidden character. */
export function displayTextProblem(what: string, value: string, max: number, options: { multiline?: boolean; optional?: boolean } = {}): string | null {
  const trimmed = value.trim();
  if (trimmed.length === 0 && !options.optional) return `${what} must not be empty or only spaces`;
  if (trimmed.length > max) return `${what} is longer than ${max} characters`;
  const hidden = (options.multiline ? HIDDEN_IN_TEXT : HIDDEN).exec(trimmed);
  if (hidden) {
    const code = `U+${hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `${what} must not contain control characters or bidirectional overrides (found ${code} at ${hidden.index})`;
  }
  return null;
}
