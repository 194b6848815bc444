/** Small text helpers for hook output and hook environments; each one linear, none throws. */
import { escapeControls } from '../core/escape.js';

const SHOWN_MAX = 200;
const TEXT_MAX = 1000;

/** Text for a warning or log line: cut to 200 characters, then escaped (a 1 MiB line costs 200). */
export function shown(text: string): string {
  return text.length > SHOWN_MAX ? `${escapeControls(text.slice(0, SHOWN_MAX))}…` : escapeControls(text);
}

/** Free text a hook may set (a note, a skip reason): cut to 1000 characters, then escaped. */
export function capped(text: string): string {
  return escapeControls(text.length > TEXT_MAX ? text.slice(0, TEXT_MAX) : text);
}

/** At most `max` UTF-16 units, never ending inside a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const c = text.charCodeAt(max - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}

/** `timed out after 2.5 s`-style durations. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
