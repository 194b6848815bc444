import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutgoingNotification } from '../../daemon/notify/channel-types.js';
import { renderMessage } from '../../daemon/notify/render.js';
import { severityOf } from '../../daemon/notify/severity.js';
import { type EventDataMap, type NotifyEvent, templateName } from '../../daemon/notify/types.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);

/** The fixture data of an event (test/notify/fixtures/<event>.json), a fresh copy each call. */
export function fixture<E extends NotifyEvent>(event: E): EventDataMap[E] {
  return JSON.parse(readFileSync(new URL(`${event}.json`, FIXTURES), 'utf8')) as EventDataMap[E];
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `pvepatch-notify-${prefix}-`));
}

/** A notification as the Notifier hands it to a channel, for driving a channel directly. */
export function outgoing<E extends NotifyEvent>(
  event: E,
  data: EventDataMap[E] = fixture(event),
): OutgoingNotification {
  return {
    event,
    severity: severityOf(event, data),
    template: templateName(event),
    data,
    fields: { type: 'pvepatch', hostname: 'pve1', 'job-id': 'nightly' },
    timestamp: 1_796_608_800,
    rendered: () => renderMessage(event, data),
  };
}
