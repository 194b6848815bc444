/**
 * Every channel kind, one line each. test/notify/channels-registry.test.ts fails when a file in this
 * folder is missing here.
 */
import type { ChannelConfig, ChannelDriver, ChannelKind } from '../channel-types.js';
import { proxmoxPbsChannel } from './proxmox-pbs.js';
import { proxmoxPveChannel } from './proxmox-pve.js';
import { sendmailChannel } from './sendmail.js';
import { smtpChannel } from './smtp.js';
import { webhookChannel } from './webhook.js';

export const CHANNELS = {
  'proxmox-pve': proxmoxPveChannel,
  'proxmox-pbs': proxmoxPbsChannel,
  sendmail: sendmailChannel,
  webhook: webhookChannel,
  smtp: smtpChannel,
} satisfies { [K in ChannelKind]: ChannelDriver<Extract<ChannelConfig, { kind: K }>> };

export const CHANNEL_KINDS = Object.keys(CHANNELS) as ChannelKind[];

/** The driver of a channel's kind, typed for that channel. */
export function channelDriver<C extends ChannelConfig>(config: C): ChannelDriver<C> {
  return CHANNELS[config.kind] as unknown as ChannelDriver<C>;
}
