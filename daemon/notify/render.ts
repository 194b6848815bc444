/**
 * Renders a notification with the precompiled templates (templates.gen.js, made from templates/ by
 * scripts/precompile-templates.mjs). Proxmox renders the same templates itself from the same data;
 * this is for the channels that send text: mail, webhooks.
 */
import { PvepatchError } from '../core/errors.js';
import { TEMPLATES } from './templates.gen.js';
import { type EventDataMap, type NotifyEvent, templateName } from './types.js';

export interface RenderedMessage {
  /** One line: newlines become spaces, outer blanks are trimmed (as Proxmox does for subjects). */
  title: string;
  text: string;
  html: string;
}

/** Renders the subject, text and HTML body of an event; throws when the data lacks a field they use. */
export function renderMessage<E extends NotifyEvent>(event: E, data: EventDataMap[E]): RenderedMessage {
  const name = templateName(event);
  const set = TEMPLATES[name];
  try {
    return {
      title: set.subject(data).replace(/\r?\n/g, ' ').trim(),
      text: set.text(data),
      html: set.html(data),
    };
  } catch (err) {
    throw new PvepatchError(
      'internal',
      `unable to render notification template '${name}' - ${(err as Error).message}; this is a bug in pvepatch, please report it`,
      { cause: err },
    );
  }
}
