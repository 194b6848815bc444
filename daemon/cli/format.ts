export type OutputFormat = 'text' | 'json' | 'json-pretty';

/** Prints data as pvesh does: JSON on one line, pretty JSON, or a text table. */
export function render(format: OutputFormat, data: unknown, text: () => string): string {
  if (format === 'json') return JSON.stringify(data);
  if (format === 'json-pretty') return JSON.stringify(data, null, 4);
  return text();
}

/** A plain text table with a header row; columns are padded to their widest cell. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
