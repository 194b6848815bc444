/**
 * notifications.conf (default /etc/pvepatch/notifications.conf) in Proxmox's section-config
 * format, as notifications.cfg: a `<type>: <name>` header at column 0, indented `key value` lines,
 * a blank line ends a section, `#` starts a comment line. Types: `proxmox` (PVE::Notify on PVE,
 * the spool on PBS, whichever this host has), `sendmail`, `webhook`, `smtp`; their keys are in
 * config-keys.ts. Strict: an unknown type or key, a bad value or a missing required key is an
 * error naming the file and line. One linear pass over at most 1 MiB, lines of at most 4096
 * characters.
 */
import { PvepatchError } from '../core/errors.js';
import { shown } from '../policy/checks.js';
import type { ChannelConfig } from './channel-types.js';
import { REQUIRED_KEYS, SECTION_KEYS, SECTION_TYPES, type SectionType, sectionProblem } from './config-keys.js';
import { type ChannelProbe, detectProxmox } from './detect.js';

export const MAX_NOTIFY_CONFIG_BYTES = 1024 * 1024;
export const MAX_NOTIFY_LINE = 4096;
const MAX_PROBLEMS = 20;
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

interface Section {
  type: SectionType;
  name: string;
  line: number;
  values: Record<string, unknown>;
  keys: Set<string>;
}

class Problems {
  private readonly list: { line: number; text: string }[] = [];
  constructor(private readonly file: string) {}
  add(line: number, message: string): void {
    if (this.list.length <= MAX_PROBLEMS) this.list.push({ line, text: `${this.file} line ${line}: ${message}` });
  }
  /** Throws every problem, in line order (a missing key is found only at the end of the file). */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const more = this.list.length > MAX_PROBLEMS ? '; (more problems left out)' : '';
    const shownList = this.list
      .sort((a, b) => a.line - b.line)
      .slice(0, MAX_PROBLEMS)
      .map((p) => p.text);
    throw new PvepatchError('config-invalid', `unable to parse notification config - ${shownList.join('; ')}${more}`, {
      details: { problems: shownList },
    });
  }
}

/**
 * The channels `text` configures; throws a config-invalid PvepatchError listing every problem as
 * `<file> line N: <what> - <what to do>`. `probe` decides what a `proxmox` section becomes.
 */
export function parseNotifyConfig(text: string, fileName: string, probe: ChannelProbe = {}): ChannelConfig[] {
  const problems = new Problems(fileName);
  if (text.length > MAX_NOTIFY_CONFIG_BYTES) {
    problems.add(1, `the file is larger than ${MAX_NOTIFY_CONFIG_BYTES} bytes - split it or remove unused sections`);
    problems.throwIfAny();
  }
  const sections: Section[] = [];
  const names = new Map<string, number>();
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let current: Section | null | undefined; // undefined: between sections; null: a refused header
  for (const [i, raw] of body.split('\n').entries()) {
    const n = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const bad = lineProblem(line);
    if (bad) {
      problems.add(n, bad);
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '') current = undefined;
    else if (trimmed.startsWith('#')) continue;
    else if (line[0] === ' ' || line[0] === '\t') {
      if (current) parseKey(current, trimmed, n, problems);
      else if (current === undefined) problems.add(n, "a key outside any section - start one with '<type>: <name>'");
    } else {
      current = parseHeader(line, n, problems, names);
      if (current) sections.push(current);
    }
  }
  const channels = sections.flatMap((s) => finish(s, problems, probe));
  problems.throwIfAny();
  return channels;
}

function lineProblem(line: string): string | undefined {
  if (line.length > MAX_NOTIFY_LINE) return `the line is longer than ${MAX_NOTIFY_LINE} characters - shorten it`;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return `control character 0x${c.toString(16)} - remove it`;
  }
  return undefined;
}

function parseHeader(line: string, n: number, problems: Problems, names: Map<string, number>): Section | null {
  const colon = line.indexOf(':');
  const type = (colon < 0 ? line : line.slice(0, colon)).trim();
  const name = colon < 0 ? '' : line.slice(colon + 1).trim();
  if (!(SECTION_TYPES as readonly string[]).includes(type)) {
    problems.add(n, `unknown section type '${shown(type)}' - use one of ${SECTION_TYPES.join(', ')}`);
    return null;
  }
  if (!NAME.test(name)) {
    problems.add(n, `invalid channel name '${shown(name)}' - use a letter, then letters, digits, _ or - (64 at most)`);
    return null;
  }
  const first = names.get(name);
  if (first !== undefined) {
    problems.add(n, `channel '${name}' is defined twice (first at line ${first}) - rename one`);
    return null;
  }
  names.set(name, n);
  return { type: type as SectionType, name, line: n, values: {}, keys: new Set() };
}

function parseKey(section: Section, text: string, n: number, problems: Problems): void {
  const space = text.search(/[ \t]/);
  const key = space < 0 ? text : text.slice(0, space);
  const value = space < 0 ? '' : text.slice(space + 1).trim();
  const keys = SECTION_KEYS[section.type];
  const spec = Object.hasOwn(keys, key) ? keys[key] : undefined;
  if (!spec) {
    problems.add(
      n,
      `unknown key '${shown(key)}' in ${section.type} section '${section.name}' - known keys: ${Object.keys(keys).join(', ')}`,
    );
    return;
  }
  if (section.keys.has(key)) {
    problems.add(n, `key '${key}' is set twice in section '${section.name}' - keep one`);
    return;
  }
  section.keys.add(key);
  const parsed = value === '' ? 'no value' : spec.parse(value);
  if (typeof parsed === 'string') {
    problems.add(n, `key '${key}': ${parsed} - allowed: ${spec.allowed}`);
    return;
  }
  if (spec.field) section.values[spec.field] = parsed.value;
}

function finish(section: Section, problems: Problems, probe: ChannelProbe): ChannelConfig[] {
  const missing = REQUIRED_KEYS[section.type].filter((k) => !section.keys.has(k));
  if (missing.length > 0) {
    problems.add(section.line, `section '${section.name}' lacks ${missing.join(', ')} - add the key`);
    return [];
  }
  const bad = sectionProblem(section.type, section.values);
  if (bad) {
    problems.add(section.line, `section '${section.name}': ${bad}`);
    return [];
  }
  if (section.type !== 'proxmox')
    return [{ name: section.name, kind: section.type, ...section.values } as ChannelConfig];
  const found = detectProxmox(probe);
  if (!found) {
    problems.add(
      section.line,
      `section '${section.name}': this host has neither PVE::Notify nor the PBS notification spool - use sendmail, smtp or webhook here`,
    );
    return [];
  }
  return [{ ...found, name: section.name, ...section.values } as ChannelConfig];
}
