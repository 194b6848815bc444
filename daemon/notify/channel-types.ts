/**
 * Channel configuration (what `notifications.conf` or `defaultChannels` yields) and the contract
 * between the Notifier and the channel drivers in channels/.
 */
import type { RenderedMessage } from './render.js';
import type { NotifyEvent, Severity, TemplateName } from './types.js';

export type ChannelKind = 'proxmox-pve' | 'proxmox-pbs' | 'sendmail' | 'webhook' | 'smtp';

interface ChannelBase {
  /** Unique; shown in logs, status and delivery results. */
  name: string;
  /** Events this channel gets; default all. */
  events?: NotifyEvent[];
  /** Lowest severity this channel gets; default info (everything). */
  min_severity?: Severity;
  disabled?: boolean;
}

/** Hands the notification to PVE's own notification system (PVE::Notify, PVE ≥ 8.2.3). */
export interface ProxmoxPveChannelConfig extends ChannelBase {
  kind: 'proxmox-pve';
  /** Default /usr/bin/perl. */
  perl?: string;
  /** Extra Perl include directories (-I), searched before the system's. */
  include_dirs?: string[];
  /** Default 120 000: PVE::Notify sends to every matching target before it returns. */
  timeout_ms?: number;
}

/** Queues the notification in PBS's spool directory; proxmox-backup-api sends it within 5 s. */
export interface ProxmoxPbsChannelConfig extends ChannelBase {
  kind: 'proxmox-pbs';
  /** Default /var/lib/proxmox-backup/notifications. */
  spool_dir?: string;
}

/** Mail through the local MTA (`sendmail -t -oi`); on Proxmox hosts root's mail is forwarded. */
export interface SendmailChannelConfig extends ChannelBase {
  kind: 'sendmail';
  /** Default /usr/sbin/sendmail. */
  sendmail_path?: string;
  /** Default ['root']. */
  mailto?: string[];
  /** Default pvepatch@<hostname>. */
  from?: string;
  timeout_ms?: number;
}

export type WebhookPreset = 'generic' | 'ntfy' | 'gotify';

export interface WebhookChannelConfig extends ChannelBase {
  kind: 'webhook';
  /** generic: the URL posted to; ntfy: the topic URL; gotify: the server's base URL. */
  url: string;
  /** Default generic. */
  preset?: WebhookPreset;
  /** generic: HMAC key; ntfy: access token (optional); gotify: application token (required). */
  secret_file?: string;
  /** PEM file of the CA that must have issued the server's certificate (instead of the system's). */
  ca_file?: string;
  /** SHA-256 fingerprint of the server's certificate (pinned; the chain is then not checked). */
  fingerprint?: string;
  /** Per attempt; default 10 000. */
  timeout_ms?: number;
  /** Default 4: the first try and 3 retries after 1 s, 2 s, 4 s. */
  attempts?: number;
  /** The first retry's delay; default 1000, doubled for each further retry. */
  retry_base_ms?: number;
}

export type SmtpMode = 'insecure' | 'starttls' | 'tls';

export interface SmtpChannelConfig extends ChannelBase {
  kind: 'smtp';
  server: string;
  /** Default 465 for tls, 587 for starttls, 25 for insecure. */
  port?: number;
  /** tls: implicit TLS; starttls: STARTTLS required; insecure: none (no login allowed). Default tls. */
  mode?: SmtpMode;
  /** Required: a relay may refuse the bare node name pvepatch@<hostname> would give. */
  from: string;
  mailto: string[];
  username?: string;
  /** A root-owned file of mode 0600 or 0400 holding the password. */
  password_file?: string;
  ca_file?: string;
  timeout_ms?: number;
}

export type ChannelConfig =
  | ProxmoxPveChannelConfig
  | ProxmoxPbsChannelConfig
  | SendmailChannelConfig
  | WebhookChannelConfig
  | SmtpChannelConfig;

/** A notification as the channels get it: ready for Proxmox (template + data) or rendered. */
export interface OutgoingNotification {
  event: NotifyEvent;
  severity: Severity;
  template: TemplateName;
  data: unknown;
  /** Always holds `type` and `hostname`. */
  fields: Record<string, string>;
  /** Unix seconds. */
  timestamp: number;
  /** Subject, text and HTML; rendered once, on first use; throws when a template does not fit. */
  rendered(): RenderedMessage;
}

export interface ChannelContext {
  /** The node's name (mail sender, fallbacks). */
  hostname: string;
  /** Besides root, the uid that may own secret files (the user running pvepatch; tests). */
  uid?: number;
  /** Waits between webhook retries; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * One channel kind. `send` resolves with a short note of what it did ("queued as …") and throws a
 * PvepatchError saying what failed and what to do; it never puts a secret into either.
 */
export interface ChannelDriver<C extends ChannelConfig = ChannelConfig> {
  kind: C['kind'];
  send(config: C, message: OutgoingNotification, ctx: ChannelContext): Promise<string>;
}
