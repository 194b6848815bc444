/**
 * rpm's version order, written from its documented rules: a version is split into runs of digits
 * and runs of letters (anything else only separates); digit runs compare as numbers and beat letter
 * runs; letter runs compare by byte; `~` sorts before everything, even the end of the string; `^`
 * sorts after the end but before anything else; when one side runs out, the side with a run left
 * is newer.
 */

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isSeparator = (c: string | undefined): boolean =>
  c !== undefined && !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';

/** Compares two version (or release) strings: -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (isSeparator(a[i])) i++;
    while (isSeparator(b[j])) j++;
    const marker = compareMarkers(a[i], b[j]);
    if (marker === 'both') {
      i++;
      j++;
      continue;
    }
    if (marker !== null) return marker;
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const inRun = numeric ? isDigit : isAlpha;
    const startA = i;
    const startB = j;
    while (inRun(a[i])) i++;
    while (inRun(b[j])) j++;
    if (j === startB) return numeric ? 1 : -1; // a digit run beats a letter run
    const diff = compareRuns(a.slice(startA, i), b.slice(startB, j), numeric);
    if (diff !== 0) return diff;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** `~` and `^` handling at the current positions; null when neither side has one. */
function compareMarkers(ca: string | undefined, cb: string | undefined): number | 'both' | null {
  if (ca === '~' || cb === '~') {
    if (ca !== '~') return 1;
    if (cb !== '~') return -1;
    return 'both';
  }
  if (ca === '^' || cb === '^') {
    if (ca === undefined) return -1;
    if (cb === undefined) return 1;
    if (ca !== '^') return 1;
    if (cb !== '^') return -1;
    return 'both';
  }
  return null;
}

function compareRuns(x: string, y: string, numeric: boolean): number {
  if (numeric) {
    const p = x.replace(/^0+/, '');
    const q = y.replace(/^0+/, '');
    if (p.length !== q.length) return p.length > q.length ? 1 : -1;
    return p === q ? 0 : p > q ? 1 : -1;
  }
  return x === y ? 0 : x > y ? 1 : -1;
}

export interface Evr {
  epoch: number;
  version: string;
  release: string | null;
}

/** `[E:]V[-R]`; a missing epoch is 0. */
export function parseEvr(evr: string): Evr {
  const colon = evr.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(evr.slice(0, colon)) ? Number(evr.slice(0, colon)) : 0;
  const rest = colon > 0 ? evr.slice(colon + 1) : evr;
  const dash = rest.lastIndexOf('-');
  return dash < 0
    ? { epoch, version: rest, release: null }
    : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/** Orders two `[E:]V-R` strings as rpm does (epoch, then version, then release). */
export function compareEvr(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  if (x.epoch !== y.epoch) return x.epoch > y.epoch ? 1 : -1;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0 || x.release === null || y.release === null) return v;
  return rpmvercmp(x.release, y.release);
}
