import { escapeControls } from '../core/escape.js';

export type OutputFormat = 'text' | 'json' | 'json-pretty';

/** Characters JSON.stringify leaves raw that a terminal may act on (DEL, C1, separators, bidi). */
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff]/g;

/**
 * Prints data as pvesh does: JSON on one line, pretty JSON, or a text table. Guest text may be in
 * any of it: JSON escapes C0 controls itself, the rest is escaped here, and text is escaped line
 * by line, so nothing printed can act on the admin's terminal.
 */
export function render(format: OutputFormat, data: unknown, text: () => string): string {
  if (format === 'json') return safeJson(JSON.stringify(data));
  if (format === 'json-pretty') return safeJson(JSON.stringify(data, null, 4));
  return text()
    .split('\n')
    .map((l) => escapeControls(l))
    .join('\n');
}

function safeJson(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain text table with a header row; columns are padded to their widest cell. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => escapeControls(String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
