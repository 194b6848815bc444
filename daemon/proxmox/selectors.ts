import { PvepatchError } from '../core/errors.js';
import type { Guest } from './inventory.js';

type Term =
  | { kind: 'all' }
  | { kind: 'range'; from: number; to: number }
  | { kind: 'tag' | 'pool' | 'node'; value: string };

export interface Selector {
  include: Term[];
  exclude: Term[];
  /** Ids named one by one, which must exist. */
  explicitIds: number[];
}

const VMID_MIN = 100;
const VMID_MAX = 999_999_999;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * Parses `101 100-120 tag:web pool:prod node:pve1 all -105 -tag:db` (spaces or commas). Includes
 * are a union, exclusions are removed from it.
 */
export function parseSelector(text: string | readonly string[]): Selector {
  const words = (typeof text === 'string' ? [text] : text).flatMap((t) => t.split(/[\s,]+/)).filter(Boolean);
  const sel: Selector = { include: [], exclude: [], explicitIds: [] };
  for (const word of words) {
    const negative = word.startsWith('-') && word !== '--all';
    const term = parseTerm(negative ? word.slice(1) : word, word);
    if (negative) sel.exclude.push(term);
    else {
      sel.include.push(term);
      if (term.kind === 'range' && term.from === term.to) sel.explicitIds.push(term.from);
    }
  }
  if (sel.include.length === 0) {
    throw new PvepatchError(
      'input-invalid',
      `no guests selected by '${words.join(' ')}' - name ids (101), ranges (100-120), tag:X, pool:X, node:X or --all`,
    );
  }
  return sel;
}

function parseTerm(body: string, word: string): Term {
  if (body === 'all' || body === '--all') return { kind: 'all' };
  const kv = /^(tag|pool|node):(.+)$/.exec(body);
  if (kv) {
    if (!NAME.test(kv[2]!)) throw invalid(word, `'${kv[2]}' is not a valid ${kv[1]} name`);
    return { kind: kv[1] as 'tag' | 'pool' | 'node', value: kv[2]! };
  }
  const range = /^(\d+)(?:-(\d+))?$/.exec(body);
  if (!range) throw invalid(word, 'expected an id, a range like 100-120, tag:X, pool:X, node:X or all');
  const from = Number(range[1]);
  const to = Number(range[2] ?? range[1]);
  for (const id of [from, to]) {
    if (id < VMID_MIN || id > VMID_MAX) throw invalid(word, `vmid ${id} is outside ${VMID_MIN}-${VMID_MAX}`);
  }
  if (to < from) throw invalid(word, `range end ${to} is below its start ${from}`);
  return { kind: 'range', from, to };
}

function invalid(word: string, why: string): PvepatchError {
  return new PvepatchError('input-invalid', `invalid guest selector '${word}' - ${why}`);
}

function matches(term: Term, g: Guest): boolean {
  switch (term.kind) {
    case 'all':
      return true;
    case 'range':
      return g.vmid >= term.from && g.vmid <= term.to;
    case 'tag':
      return g.tags.includes(term.value);
    case 'pool':
      return g.pool === term.value;
    case 'node':
      return g.node === term.value;
  }
}

/** The guests a selector picks; an explicitly named id that does not exist is an error. */
export function selectGuests(sel: Selector, guests: readonly Guest[]): Guest[] {
  const known = new Set(guests.map((g) => g.vmid));
  const missing = sel.explicitIds.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new PvepatchError(
      'not-found',
      `unable to select guest${missing.length > 1 ? 's' : ''} ${missing.join(', ')} - no such guest in the cluster (see 'pvepatch guests')`,
    );
  }
  return guests.filter((g) => sel.include.some((t) => matches(t, g)) && !sel.exclude.some((t) => matches(t, g)));
}

/**
 * The guests a selector picks, in the selector's order: those matching its first term first, then
 * the second's, and so on (by vmid within a term); so `105 101 tag:web` starts with 105.
 */
export function selectInOrder(sel: Selector, guests: readonly Guest[]): Guest[] {
  const picked = selectGuests(sel, guests);
  const rank = (g: Guest) => sel.include.findIndex((t) => matches(t, g));
  const explicit = (g: Guest) => sel.explicitIds.indexOf(g.vmid);
  return [...picked].sort((a, b) => rank(a) - rank(b) || explicit(a) - explicit(b) || a.vmid - b.vmid);
}
