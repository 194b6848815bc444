/**
 * The daemon's notifications: the channels of notifications.conf (or the host's defaults when the
 * file does not exist), read at start and again at every reload; `send` hands a notification to
 * them in the background and never throws; `test` and `status` serve the API.
 */
import { errorMessage } from '../core/errors.js';
import { type LoadedNotifyConfig, loadNotifyConfig } from './load.js';
import { type ChannelStatus, type DeliveryResult, Notifier } from './notifier.js';
import type { Notification } from './types.js';

export interface NotifyView {
  /** 'file': notifications.conf; 'default': no file, the host's own system (or mail to root). */
  source: 'file' | 'default';
  file: string;
  channels: ChannelStatus[];
  /** Channels of the file that were refused (a secret file not private), with why. */
  refused: { name: string; reason: string }[];
  /** Why the file could not be used (the channels read before stay). */
  error?: string;
}

export class NotifyService {
  private loaded: LoadedNotifyConfig = { source: 'default', channels: [], refused: [] };
  private notifier: Notifier;
  private error: string | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly file: () => string,
    private readonly deps: { hostname: string; log: (line: string) => void; warn: (line: string) => void },
  ) {
    this.notifier = new Notifier([], deps);
  }

  /** Reads the channels (at start and at every reload); a bad file keeps the channels read before. */
  load(): void {
    try {
      this.loaded = loadNotifyConfig(this.file());
      this.error = undefined;
      this.notifier = new Notifier(this.loaded.channels, this.deps);
      for (const r of this.loaded.refused) this.deps.warn(r.reason);
      const names = this.loaded.channels.map((c) => `${c.name} (${c.kind})`).join(', ') || 'none';
      this.deps.log(`notification channels from ${this.loaded.source === 'file' ? this.file() : 'the host'}: ${names}`);
    } catch (err) {
      this.error = errorMessage(err);
      this.deps.warn(`notifications: ${this.error}; the channels read before stay`);
    }
  }

  /** Sends in the background; every failure is logged by the notifier. */
  send(n: Notification | undefined): void {
    if (!n) return;
    const p = this.notifier.notify(n).catch((err) => this.deps.warn(`notification failed - ${errorMessage(err)}`));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  test(channel?: string): Promise<DeliveryResult[]> {
    return this.notifier.test(channel);
  }

  view(): NotifyView {
    return {
      source: this.loaded.source,
      file: this.file(),
      channels: this.notifier.status(),
      refused: this.loaded.refused,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Waits for notifications still being sent (at stop, bounded by the caller). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
