/**
 * The policy file in Proxmox's section-config format (as /etc/pve/jobs.cfg): a `<type>: <id>`
 * header at column 0, then indented `key value` lines; a blank line ends a section; a line whose
 * first non-blank character is `#` is a comment. One linear pass over at most 1 MiB, lines of at
 * most 4096 characters; every problem is collected (up to 20) and reported as `file:line`.
 */
import { PvepatchError } from '../core/errors.js';
import { CHECK_KINDS, parseBoundedInt, parseCheck, shown } from './checks.js';
import { KEY_NAMES, KEYS, setField } from './keys.js';
import type { PolicyFile, PolicySection, SectionType } from './types.js';

export const MAX_POLICY_BYTES = 1024 * 1024;
export const MAX_LINE = 4096;
export const MAX_CHECKS_PER_SECTION = 64;
const MAX_ERRORS = 20;
/** PVE's tag format (pve-tag), compared in lower case. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_+.-]{0,127}$/;
const SECTION_TYPES: readonly SectionType[] = ['defaults', 'tag', 'guest'];

class Problems {
  readonly list: string[] = [];
  constructor(private readonly name: string) {}
  add(line: number, message: string): void {
    if (this.list.length < MAX_ERRORS + 1) this.list.push(`${this.name}:${line}: ${message}`);
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const shownList = this.list.slice(0, MAX_ERRORS);
    const more = this.list.length > MAX_ERRORS ? '; (more problems left out)' : '';
    throw new PvepatchError('config-invalid', `unable to parse policy file - ${shownList.join('; ')}${more}`, {
      details: { problems: shownList },
    });
  }
}

/** Parses policy text; throws a config-invalid PvepatchError naming every problem's file:line. */
export function parsePolicy(text: string, name: string): PolicyFile {
  const problems = new Problems(name);
  if (text.length > MAX_POLICY_BYTES) {
    problems.add(1, `the file is larger than ${MAX_POLICY_BYTES} bytes`);
    problems.throwIfAny();
  }
  const sections: PolicySection[] = [];
  const seen = new Map<string, number>();
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // an editor's byte-order mark
  // undefined: between sections; null: inside a section whose header was refused (its lines are skipped)
  let current: PolicySection | null | undefined;
  let endedAt = 0;
  for (const [i, raw] of body.split('\n').entries()) {
    const n = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const bad = lineProblem(line);
    if (bad) {
      problems.add(n, bad);
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '') {
      if (current) endedAt = n;
      current = undefined;
    } else if (trimmed.startsWith('#')) {
      // a comment, also inside a section
    } else if (line[0] === ' ' || line[0] === '\t') {
      if (current) parseProperty(current, trimmed, n, problems);
      else if (current === undefined) problems.add(n, outsideMessage(endedAt));
    } else {
      current = parseHeader(line, n, problems, seen);
      if (current) sections.push(current);
    }
  }
  problems.throwIfAny();
  return { name, sections };
}

function lineProblem(line: string): string | undefined {
  if (line.length > MAX_LINE) return `the line is longer than ${MAX_LINE} characters`;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return `control character 0x${c.toString(16)} in the line`;
  }
  return undefined;
}

function outsideMessage(endedAt: number): string {
  const why = endedAt > 0 ? ` (the blank line ${endedAt} ended the section before it)` : '';
  return `a key line outside any section${why} - a section starts with '<type>: <id>' at column 0`;
}

function parseHeader(line: string, n: number, problems: Problems, seen: Map<string, number>): PolicySection | null {
  const colon = line.indexOf(':');
  const type = colon < 0 ? line.trim() : line.slice(0, colon);
  const rest = colon < 0 ? '' : line.slice(colon + 1).trim();
  if (colon < 0 || !(SECTION_TYPES as string[]).includes(type)) {
    problems.add(n, `unknown section '${shown(type)}' (allowed: defaults: all, tag: <tag>, guest: <vmid>)`);
    return null;
  }
  const id = sectionId(type as SectionType, rest);
  if (typeof id !== 'string') {
    problems.add(n, id.error);
    return null;
  }
  const key = `${type}: ${id}`;
  const first = seen.get(key);
  if (first !== undefined) {
    problems.add(n, `duplicate section '${key}' (first at line ${first}) - merge the two`);
    return null;
  }
  seen.set(key, n);
  return { type: type as SectionType, id, line: n, settings: {}, lines: {}, checks: [] };
}

function sectionId(type: SectionType, rest: string): string | { error: string } {
  if (type === 'defaults') {
    if (rest === '' || rest === 'all') return 'all';
    return { error: `section 'defaults' takes no id or 'all', not '${shown(rest)}'` };
  }
  if (type === 'tag') {
    if (TAG.test(rest)) return rest.toLowerCase();
    return {
      error: `invalid tag '${shown(rest)}' (allowed: a Proxmox tag, A-Z a-z 0-9 _ + . -, not starting with + . -)`,
    };
  }
  const vmid = parseBoundedInt(rest, 100, 999_999_999);
  if (vmid !== undefined) return String(vmid);
  return { error: `invalid guest id '${shown(rest)}' (allowed: a vmid, 100-999999999)` };
}

function parseProperty(section: PolicySection, text: string, n: number, problems: Problems): void {
  const space = text.search(/[ \t]/);
  const key = space < 0 ? text : text.slice(0, space);
  const value = space < 0 ? '' : text.slice(space + 1).trim();
  if (key === 'check') {
    parseCheckLine(section, value, n, problems);
    return;
  }
  const spec = KEYS[key];
  if (!spec) {
    problems.add(n, `unknown key '${shown(key)}' (known: ${KEY_NAMES.join(', ')})`);
    return;
  }
  const first = section.lines[spec.field];
  if (first !== undefined) {
    problems.add(n, `key '${key}' is set twice in section '${section.type}: ${section.id}' (first at line ${first})`);
    return;
  }
  const parsed = spec.schema.safeParse(value);
  if (value === '' || !parsed.success) {
    const what = value === '' ? 'no value' : `invalid value '${shown(value)}'`;
    problems.add(n, `key '${key}': ${what} (allowed: ${spec.allowed})`);
    return;
  }
  setField(section.settings, spec.field, parsed.data);
  section.lines[spec.field] = n;
}

function parseCheckLine(section: PolicySection, value: string, n: number, problems: Problems): void {
  if (value === '') {
    problems.add(n, `key 'check': no value (allowed: ${CHECK_KINDS.join(', ')} with their arguments)`);
    return;
  }
  if (section.checks.length >= MAX_CHECKS_PER_SECTION) {
    problems.add(n, `key 'check': more than ${MAX_CHECKS_PER_SECTION} checks in one section`);
    return;
  }
  const check = parseCheck(value);
  if ('error' in check) problems.add(n, `key 'check': invalid value '${shown(value)}' - ${check.error}`);
  else section.checks.push({ check, line: n });
}
