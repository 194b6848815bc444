/**
 * Which of Proxmox's own notification systems this host has, and the channels pvepatch uses when
 * no notifications.conf exists: PVE::Notify on PVE, the spool on PBS, else mail to root through
 * sendmail, else none. Going through Proxmox means the admin's matchers and targets apply.
 */
import type { ChannelConfig } from './channel-types.js';
import { PBS_SPOOL_DIR, proxmoxPbsAvailable } from './channels/proxmox-pbs.js';
import { PVE_NOTIFY_MODULE, proxmoxPveAvailable } from './channels/proxmox-pve.js';
import { SENDMAIL_PATH, sendmailAvailable } from './channels/sendmail.js';

/** Paths looked at (tests point them into a temporary directory). */
export interface ChannelProbe {
  pveNotifyModule?: string;
  pbsSpoolDir?: string;
  sendmail?: string;
}

/** The Proxmox notification channel this host offers, or undefined on neither PVE nor PBS. */
export function detectProxmox(probe: ChannelProbe = {}): ChannelConfig | undefined {
  const spool = probe.pbsSpoolDir ?? PBS_SPOOL_DIR;
  if (proxmoxPveAvailable(probe.pveNotifyModule ?? PVE_NOTIFY_MODULE)) return { name: 'proxmox', kind: 'proxmox-pve' };
  if (proxmoxPbsAvailable(spool)) return { name: 'proxmox', kind: 'proxmox-pbs', spool_dir: spool };
  return undefined;
}

/** The channels used without a notifications.conf (see the module comment). */
export function defaultChannels(probe: ChannelProbe = {}): ChannelConfig[] {
  const proxmox = detectProxmox(probe);
  if (proxmox) return [proxmox];
  const sendmail = probe.sendmail ?? SENDMAIL_PATH;
  if (sendmailAvailable(sendmail))
    return [{ name: 'mail-root', kind: 'sendmail', sendmail_path: sendmail, mailto: ['root'] }];
  return [];
}
