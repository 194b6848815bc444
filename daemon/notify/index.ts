/** Notifications: what the rest of pvepatch uses (see readme.md). */
export type {
  ChannelConfig,
  ChannelKind,
  SmtpMode,
  WebhookPreset,
} from './channel-types.js';
export { CHANNEL_KINDS } from './channels/index.js';
export { parseNotifyConfig } from './config.js';
export { capList, MAX_GUESTS, MAX_LIST, MAX_PACKAGES_PER_GUEST } from './data.js';
export { type ChannelProbe, defaultChannels, detectProxmox } from './detect.js';
export { DEFAULT_NOTIFY_CONFIG_PATH, type LoadedNotifyConfig, loadNotifyConfig, type RefusedChannel } from './load.js';
export {
  type ChannelStatus,
  type DeliveryOutcome,
  type DeliveryResult,
  Notifier,
  type NotifierDeps,
} from './notifier.js';
export { type RenderedMessage, renderMessage } from './render.js';
export { atLeast, notification, severityOf } from './severity.js';
export * from './types.js';
