/**
 * Adversarial inputs for the guest-text parsers: generic bombs (a 1 MiB line, 10^5 elements, deep
 * nesting, glob bombs, NUL and escape bytes, invalid UTF-8) and inputs grown from the real output
 * in test/drivers/fixtures/ — a family's own lines, line heads and files repeated far past any real
 * size, with and without newlines, which is what drives a backtracking pattern quadratic.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './parser-modules.js';

export interface Input {
  name: string;
  text: string;
}

export const MIB = 1 << 20;

/** `unit` repeated until the text is at least `size` characters long. */
export function grow(unit: string, size: number): string {
  return unit.length === 0 ? '' : unit.repeat(Math.ceil(size / unit.length));
}

/** Text from bytes, the way the exec layer decodes them (invalid sequences become U+FFFD). */
function fromBytes(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** A deterministic byte pattern (no randomness: the corpus is the same on every run). */
function bytePattern(size: number, pick: (i: number) => number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = pick(i);
  return bytes;
}

export function genericInputs(size = MIB): Input[] {
  const elements = 100_000;
  return [
    { name: '1 MiB line of one letter', text: grow('a', size) },
    { name: '1 MiB line of one token and spaces', text: grow('ab ', size) },
    { name: '10^5 empty-ish lines', text: grow('x\n', 2 * elements) },
    {
      name: '10^5 XML elements',
      text: `<stream>${grow('<update kind="package" name="a" edition="1"/>', elements * 45)}</stream>`,
    },
    { name: 'deep XML nesting', text: `${'<a>'.repeat(elements)}x${'</a>'.repeat(elements)}` },
    { name: 'unclosed start tags', text: grow('<update name="', size) },
    { name: 'only less-than signs', text: grow('<', size) },
    { name: 'entity spam', text: grow('&#x41;&amp;&#99999999999;&bogus;&', size) },
    { name: 'brackets and parentheses', text: grow('([', size) },
    { name: 'glob bomb', text: `${grow('*a', 64)}x\n${grow('a', 64)}` },
    { name: 'NUL and escape bytes', text: fromBytes(bytePattern(size, (i) => [0, 27, 13, 7, 91, 10, 8, 155][i % 8]!)) },
    { name: 'invalid UTF-8', text: fromBytes(bytePattern(size, (i) => [0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82][i % 6]!)) },
    { name: 'lone surrogates and bidi controls', text: grow('\ud800a\u202e\u2028\ufeff', size) },
  ];
}

/** The text of every fixture file of these families. */
export function fixtures(dirs: readonly string[]): { name: string; text: string }[] {
  return dirs.flatMap((dir) => {
    const path = join(ROOT, 'test/drivers/fixtures', dir);
    return readdirSync(path).map((file) => ({ name: `${dir}/${file}`, text: readFileSync(join(path, file), 'utf8') }));
  });
}

/** The first two words of each distinct fixture line: the prefixes parsers look for. */
export function lineHeads(dirs: readonly string[]): string[] {
  const heads = new Set<string>();
  for (const f of fixtures(dirs)) {
    for (const line of f.text.split('\n')) {
      const words = line.trimEnd().split(' ').slice(0, 3).join(' ');
      if (words.trim() !== '' && !words.startsWith('#')) heads.add(words);
    }
  }
  return [...heads];
}

/** One line per punctuation shape (letters and digits folded): the distinct line forms a family prints. */
export function lineShapes(dirs: readonly string[]): string[] {
  const shapes = new Map<string, string>();
  for (const f of fixtures(dirs)) {
    for (const raw of f.text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('# provenance') || line.length > 400) continue;
      const shape = line.replace(/[A-Za-z0-9_]+/g, 'w').replace(/\s+/g, ' ');
      if (!shapes.has(shape)) shapes.set(shape, line);
    }
  }
  return [...shapes.values()];
}

const CLOSERS = ')]>"\'.;:';
const OPENERS = '([<"\'';

/**
 * Real lines turned into bombs: cut just before the last of each closing delimiter and repeated on
 * one line (every occurrence opens a match that never closes), and with the first opening delimiter
 * repeated 40 000 times in place (`Inst a (1 [[[[…`).
 */
export function cutBombs(line: string, size: number): Input[] {
  const bombs: Input[] = [];
  for (const closer of CLOSERS) {
    const cut = line.lastIndexOf(closer);
    if (cut > 0)
      bombs.push({
        name: `'${line.slice(0, 50)}' cut before '${closer}', repeated`,
        text: grow(line.slice(0, cut), size),
      });
  }
  let open = -1;
  for (let i = 0; i < line.length && open < 0; i++) if (OPENERS.includes(line[i]!)) open = i;
  if (open >= 0) {
    const flood = line.slice(0, open) + line[open]!.repeat(40_000) + line.slice(open);
    bombs.push({ name: `'${line.slice(0, 50)}' flooded at '${line[open]}'`, text: flood });
  }
  return bombs;
}

/**
 * Fixture files grown to `size` (with newlines, and all on one line), and every line shape as
 * bombs — made one at a time, so the corpus never sits in memory as a whole.
 */
export function* fixtureInputs(dirs: readonly string[], size: number, bombSize = size): Generator<Input> {
  for (const f of fixtures(dirs)) {
    yield { name: `${f.name} repeated`, text: grow(f.text, size) };
    yield { name: `${f.name} on one line`, text: grow(f.text.replaceAll('\n', ' '), size) };
  }
  for (const line of lineShapes(dirs)) yield* cutBombs(line, bombSize);
}

/** Small pieces for property-based generation: line heads plus the characters parsers split on. */
export function fragments(dirs: readonly string[]): string[] {
  const specials = ['\n', '\r', '\t', ' ', '\0', '\x1b[31m', '<', '>', '/>', '&', '&amp;', '"', "'", '(', ')', '['];
  return [...lineHeads(dirs).slice(0, 200), ...specials, ']', ':', '-', '.', '*', '?', '=', '\ud800', '\ufffd', 'é'];
}
