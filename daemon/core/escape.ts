/**
 * Text from a guest (package-manager output, os-release, file names) may hold terminal escape
 * sequences, carriage returns that overwrite what the admin sees, or Unicode controls that reorder
 * it. Wherever such text is shown — run log, report, CLI — its control characters become visible
 * escapes. Backslashes are left alone, so escaping twice changes nothing.
 */

/** C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, BOM. */
function isControl(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0xfeff
  );
}

const NAMED: Readonly<Record<number, string>> = { 9: '\\t', 10: '\\n', 13: '\\r' };

function escapeCode(code: number): string {
  const named = NAMED[code];
  if (named) return named;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Every control character (newlines too) as a visible escape; one linear pass. */
export function escapeControls(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code)) continue;
    out += text.slice(from, i) + escapeCode(code);
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Splits text into its lines (\n, \r\n) and escapes what remains in each; a final newline adds no line. */
export function safeLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines.map((l) => escapeControls(l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** A copy of a JSON-like value with every string escaped (reports written from guest data). */
export function escapeDeep<T>(value: T): T {
  if (typeof value === 'string') return escapeControls(value) as T;
  if (Array.isArray(value)) return value.map((v) => escapeDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = escapeDeep(v);
    return out as T;
  }
  return value;
}
