import { PvepatchError } from '../core/errors.js';
import type { ScheduleDef } from './types.js';

/**
 * "At most one active schedule per target", kept deliberately simple: two schedules overlap when both are
 * enabled and their selectors are equal after normalization (split into words on whitespace and commas,
 * as `parseSelector` in daemon/proxmox/selectors.ts does; sorted; deduplicated). Selectors that merely
 * intersect (`tag:web` and `node:pve1` may name the same guest) are not compared here: that needs the live
 * inventory, which the rollout's own guest lock covers at run time.
 */
export function normalizeSelector(selector: readonly string[]): string[] {
  return [...new Set(selector.flatMap(words))].sort();
}

function words(text: string): string[] {
  const out: string[] = [];
  let word = '';
  for (const ch of text) {
    if (ch === ',' || ch.trim() === '') {
      if (word !== '') out.push(word);
      word = '';
    } else word += ch;
  }
  if (word !== '') out.push(word);
  return out;
}

/** The enabled schedule (other than `candidate` itself, by id) that already targets `candidate`'s selector. */
export function findOverlap(existing: readonly ScheduleDef[], candidate: ScheduleDef): ScheduleDef | undefined {
  if (!candidate.enabled) return undefined;
  const key = selectorKey(candidate.selector);
  return existing.find((d) => d.enabled && d.id !== candidate.id && selectorKey(d.selector) === key);
}

/** Throws `input-invalid` naming the first schedule when `candidate` would be a second active one for its target. */
export function assertNoOverlap(existing: readonly ScheduleDef[], candidate: ScheduleDef): void {
  const first = findOverlap(existing, candidate);
  if (first === undefined) return;
  const shown = normalizeSelector(candidate.selector).join(' ');
  throw new PvepatchError(
    'input-invalid',
    `unable to create schedule '${candidate.id}' - schedule '${first.id}' already targets ${shown}`,
    { details: { existing: first.id, selector: normalizeSelector(candidate.selector) } },
  );
}

function selectorKey(selector: readonly string[]): string {
  return JSON.stringify(normalizeSelector(selector));
}
