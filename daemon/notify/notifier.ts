/**
 * Sends notifications through the configured channels. Every channel is tried on its own: one
 * failing (or throwing) never stops the others, and `notify` never throws. Each failure is logged
 * with the channel's name and what to do; results and logs never hold a secret.
 */

import { errorMessage, PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import type { ChannelConfig, ChannelKind, OutgoingNotification } from './channel-types.js';
import { channelDriver } from './channels/index.js';
import { sanitizeData } from './data.js';
import { type RenderedMessage, renderMessage } from './render.js';
import { atLeast, notification } from './severity.js';
import { type Notification, type NotifyEvent, type Severity, templateName } from './types.js';

export type { ChannelConfig } from './channel-types.js';
export { defaultChannels } from './detect.js';

export interface NotifierDeps {
  /** The node's name: the `hostname` field, the mail sender. */
  hostname: string;
  log: (line: string) => void;
  now?: () => Date;
  /** Besides root, the uid that may own secret files. */
  uid?: number;
  /** Waits between webhook retries (tests make it instant). */
  sleep?: (ms: number) => Promise<void>;
}

export type DeliveryOutcome = 'sent' | 'failed' | 'skipped';

export interface DeliveryResult {
  channel: string;
  kind: ChannelKind;
  outcome: DeliveryOutcome;
  /** sent: what was done; failed: what failed and what to do; skipped: why. */
  message: string;
}

export interface ChannelStatus {
  name: string;
  kind: ChannelKind;
  disabled: boolean;
  events: NotifyEvent[] | 'all';
  min_severity: Severity;
  sent: number;
  failed: number;
  last: { at: string; event: NotifyEvent; ok: boolean; error?: string } | undefined;
}

interface Stats {
  sent: number;
  failed: number;
  last: ChannelStatus['last'];
}

export class Notifier {
  private readonly stats = new Map<string, Stats>();

  constructor(
    private readonly channels: readonly ChannelConfig[],
    private readonly deps: NotifierDeps,
  ) {}

  /** Sends to every enabled channel whose events and min_severity let the notification through. */
  async notify(n: Notification): Promise<DeliveryResult[]> {
    const message = this.prepare(n);
    return Promise.all(this.channels.map((c) => this.deliver(c, message, skipReason(c, n))));
  }

  /**
   * Sends the `test` event to one channel (also when it is disabled or filters the event out, as
   * Proxmox's own target test does) or to every enabled channel.
   */
  async test(channel?: string): Promise<DeliveryResult[]> {
    const targets =
      channel === undefined
        ? this.channels.filter((c) => !c.disabled)
        : this.channels.filter((c) => c.name === channel);
    if (channel !== undefined && targets.length === 0) {
      const known = this.channels.map((c) => c.name).join(', ') || 'none';
      throw new PvepatchError(
        'not-found',
        `unable to test notification channel '${escapeControls(channel)}' - no such channel (configured: ${known})`,
      );
    }
    const at = this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    return Promise.all(
      targets.map((c) => {
        const n = notification('test', { hostname: this.deps.hostname, channel: c.name, at });
        return this.deliver(c, this.prepare(n), undefined);
      }),
    );
  }

  status(): ChannelStatus[] {
    return this.channels.map((c) => {
      const s = this.stats.get(c.name);
      return {
        name: c.name,
        kind: c.kind,
        disabled: c.disabled === true,
        events: c.events ? [...c.events] : 'all',
        min_severity: c.min_severity ?? 'info',
        sent: s?.sent ?? 0,
        failed: s?.failed ?? 0,
        last: s?.last ? { ...s.last } : undefined,
      };
    });
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private prepare(n: Notification): OutgoingNotification {
    const data = sanitizeData(n.data);
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(n.fields)) if (typeof v === 'string') fields[k] = escapeControls(v);
    fields.type = 'pvepatch';
    if (!fields.hostname) fields.hostname = this.deps.hostname;
    let rendered: RenderedMessage | undefined;
    return {
      event: n.event,
      severity: n.severity,
      template: templateName(n.event),
      data,
      fields,
      timestamp: Math.floor(this.now().getTime() / 1000),
      rendered: () => {
        rendered ??= renderMessage(n.event, data as never);
        return rendered;
      },
    };
  }

  private async deliver(c: ChannelConfig, m: OutgoingNotification, skip: string | undefined): Promise<DeliveryResult> {
    const base = { channel: c.name, kind: c.kind };
    if (skip) return { ...base, outcome: 'skipped', message: skip };
    const at = this.now().toISOString();
    const stats = this.stats.get(c.name) ?? { sent: 0, failed: 0, last: undefined };
    this.stats.set(c.name, stats);
    try {
      const { hostname, uid, sleep } = this.deps;
      const done = await channelDriver(c).send(c, m, { hostname, uid, ...(sleep ? { sleep } : {}) });
      stats.sent++;
      stats.last = { at, event: m.event, ok: true };
      this.deps.log(`notification '${m.event}' sent through channel '${c.name}' (${c.kind}): ${done}`);
      return { ...base, outcome: 'sent', message: done };
    } catch (err) {
      const error = errorMessage(err);
      stats.failed++;
      stats.last = { at, event: m.event, ok: false, error };
      this.deps.log(`unable to send notification '${m.event}' through channel '${c.name}' (${c.kind}): ${error}`);
      return { ...base, outcome: 'failed', message: error };
    }
  }
}

function skipReason(c: ChannelConfig, n: Notification): string | undefined {
  if (c.disabled) return 'the channel is disabled';
  if (c.events && !c.events.includes(n.event))
    return `the channel does not take '${n.event}' (events ${c.events.join(',')})`;
  if (c.min_severity && !atLeast(n.severity, c.min_severity)) {
    return `severity ${n.severity} is below the channel's min-severity ${c.min_severity}`;
  }
  return undefined;
}
