import { readFileSync } from 'node:fs';

/** A fixture under test/drivers/fixtures/, without its first line (`# provenance: …`). */
export function fixture(path: string): string {
  const text = readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8');
  return text.startsWith('# provenance:') ? text.slice(text.indexOf('\n') + 1) : text;
}
