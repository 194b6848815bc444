/**
 * `check` lines: `service <unit>`, `tcp <port>`, `http <port> [<path>] [<status>]` and
 * `command <argv words…>`. Words are split on spaces and tabs only — there is no quoting and no
 * shell, so a word can never be read as anything but itself.
 */
import { escapeControls } from '../core/escape.js';
import type { Check, StatusRange } from './types.js';

/** systemd unit name characters (`\` for its `\x2d` escapes); UNIT_NAME_MAX is 256. */
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]{1,256}$/;
export const MAX_COMMAND_WORDS = 64;
const MAX_WORD = 1024;
const MAX_PATH = 1024;
export const DEFAULT_STATUS: StatusRange = { min: 200, max: 399 };
export const CHECK_KINDS = ['service', 'tcp', 'http', 'command'] as const;

export function isValidUnitName(name: string): boolean {
  return UNIT_NAME.test(name);
}

/** Words of a line, split on runs of spaces and tabs. */
export function splitWords(text: string): string[] {
  return text.split(/[ \t]+/).filter((w) => w !== '');
}

/** A decimal integer within [min, max], or undefined (no signs, no exponents, no hex). */
export function parseBoundedInt(text: string, min: number, max: number): number | undefined {
  if (text.length === 0 || text.length > 10) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** The check a `check` value describes, or a message saying what is allowed. */
export function parseCheck(value: string): Check | { error: string } {
  const [kind, ...args] = splitWords(value);
  switch (kind) {
    case 'service':
      return parseService(args);
    case 'tcp':
      return parseTcp(args);
    case 'http':
      return parseHttp(args);
    case 'command':
      return parseCommand(args);
    default:
      return { error: `unknown check '${shown(kind ?? '')}' (allowed: ${CHECK_KINDS.join(', ')})` };
  }
}

function parseService(args: string[]): Check | { error: string } {
  const [unit, extra] = args;
  if (unit === undefined || extra !== undefined || !isValidUnitName(unit)) {
    return { error: `check service needs one unit name (letters, digits and : _ . @ \\ - only, at most 256)` };
  }
  return { kind: 'service', unit };
}

function parseTcp(args: string[]): Check | { error: string } {
  const port = args.length === 1 ? parseBoundedInt(args[0]!, 1, 65535) : undefined;
  if (port === undefined) return { error: 'check tcp needs one port (1-65535)' };
  return { kind: 'tcp', port };
}

function parseHttp(args: string[]): Check | { error: string } {
  const usage = 'check http needs <port> [<path starting with />] [<status> or <min>-<max>, 100-599]';
  const [portText, ...rest] = args;
  const port = portText === undefined ? undefined : parseBoundedInt(portText, 1, 65535);
  if (port === undefined || rest.length > 2) return { error: usage };
  let path = '/';
  if (rest[0]?.startsWith('/')) path = rest.shift()!;
  if (!isHttpPath(path)) return { error: `${usage}; the path has a character outside visible ASCII or is too long` };
  let status = DEFAULT_STATUS;
  if (rest.length > 0) {
    const parsed = rest.length === 1 ? parseStatus(rest[0]!) : undefined;
    if (!parsed) return { error: usage };
    status = parsed;
  }
  return { kind: 'http', port, path, status };
}

function parseCommand(args: string[]): Check | { error: string } {
  if (args.length === 0 || args.length > MAX_COMMAND_WORDS || args[0]!.startsWith('-')) {
    return { error: `check command needs a program and its arguments (at most ${MAX_COMMAND_WORDS} words)` };
  }
  if (args.some((w) => w.length > MAX_WORD)) return { error: `check command: a word is longer than ${MAX_WORD}` };
  return { kind: 'command', argv: args };
}

function isHttpPath(path: string): boolean {
  if (path.length > MAX_PATH) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function parseStatus(text: string): StatusRange | undefined {
  const dash = text.indexOf('-');
  const min = parseBoundedInt(dash < 0 ? text : text.slice(0, dash), 100, 599);
  const max = dash < 0 ? min : parseBoundedInt(text.slice(dash + 1), 100, 599);
  if (min === undefined || max === undefined || min > max) return undefined;
  return { min, max };
}

/** `200` or `200-399`. */
export function formatStatus(s: StatusRange): string {
  return s.min === s.max ? String(s.min) : `${s.min}-${s.max}`;
}

/** The check as an admin would write it (also the key that de-duplicates checks); escaped for display. */
export function formatCheck(check: Check): string {
  switch (check.kind) {
    case 'service':
      return `service ${escapeControls(check.unit)}`;
    case 'tcp':
      return `tcp ${check.port}`;
    case 'http':
      return `http ${check.port} ${escapeControls(check.path)} ${formatStatus(check.status)}`;
    case 'command':
      return `command ${escapeControls(check.argv.join(' '))}`;
  }
}

/** Admin text quoted back in a message: escaped and cut. */
export function shown(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return escapeControls(cut);
}
