/**
 * Caps for what a notification carries: a mail, an ntfy message or a Proxmox notification is no
 * place for a run's whole package list, and text from guests (reasons, names) is hostile until
 * proven otherwise. Builders of notification data use `capList`; the Notifier passes every
 * notification through `sanitizeData` before any channel sees it.
 */
import { escapeControls } from '../core/escape.js';

export const MAX_PACKAGES_PER_GUEST = 50;
export const MAX_GUESTS = 200;
export const MAX_LIST = 100;
/** Longest string kept in notification data; the rest is cut with a marker. */
export const MAX_STRING = 2000;

/** The first `max` items and how many were left out (for the templates' `…_more` fields). */
export function capList<T>(items: readonly T[], max: number): { items: T[]; more: number } {
  return { items: items.slice(0, max), more: Math.max(0, items.length - max) };
}

/** A string with its control characters made visible and cut to MAX_STRING characters. */
export function safeText(text: string): string {
  const cut = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)} [...]` : text;
  return escapeControls(cut);
}

/**
 * A copy with every string made safe (see safeText), arrays cut at MAX_GUESTS items and any value
 * that is not a string, finite number, array or plain object replaced by '' (the data must render
 * the same in handlebars.js and handlebars-rust, and survive JSON::PP in Perl).
 */
export function sanitizeData<T>(value: T): T {
  return walk(value, 0) as T;
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return safeText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : 0;
  if (depth > 4) return '';
  if (Array.isArray(value)) return value.slice(0, MAX_GUESTS).map((v) => walk(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, depth + 1);
    return out;
  }
  return '';
}
