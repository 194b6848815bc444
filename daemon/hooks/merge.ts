/** Combining the overrides of a phase's hooks, and describing them for the run log. */
import type { HookOverrides } from './types.js';

/**
 * Adds one hook's overrides to what earlier hooks asked for: exclusions are a union, reboot and
 * snapshot_keep the last one wins (each already checked against the caller's floor), notes
 * accumulate, the first skip wins.
 */
export function mergeOverrides(into: HookOverrides, from: HookOverrides): void {
  into.exclude = [...new Set([...into.exclude, ...from.exclude])];
  if (from.reboot !== undefined) into.reboot = from.reboot;
  if (from.snapshot_keep !== undefined) into.snapshot_keep = from.snapshot_keep;
  for (const note of from.notes) into.notes.push(note);
  if (into.skip === undefined && from.skip !== undefined) into.skip = from.skip;
}

/** `exclude=a b, reboot=always, note=…`, or '' when the hook asked for nothing. */
export function describeOverrides(o: HookOverrides): string {
  const parts: string[] = [];
  if (o.exclude.length > 0) parts.push(`exclude=${o.exclude.join(' ')}`);
  if (o.reboot !== undefined) parts.push(`reboot=${o.reboot}`);
  if (o.snapshot_keep !== undefined) parts.push(`snapshot_keep=${o.snapshot_keep}`);
  for (const note of o.notes) parts.push(`note=${note}`);
  if (o.skip !== undefined) parts.push(`skip=${o.skip}`);
  return parts.join(', ');
}
