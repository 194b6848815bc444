import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createApp } from './api/app.js';
import { listenOnSocket } from './api/socket.js';
import { daemonSettings } from './config/load.js';
import type { Config } from './config/schema.js';
import { errorMessage } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import { Engine } from './engine/engine.js';
import type { EngineServices } from './engine/types.js';
import { ProxmoxClient } from './proxmox/client.js';
import { StateStore } from './store/state.js';
import { VERSION } from './version.js';

/** pvepatchd: constructed with its config; start() acquires, stop() releases. */
export class Daemon {
  private readonly cfg: Config;
  private readonly log: Logger;
  private server: Server | undefined;
  private client: ProxmoxClient | undefined;

  constructor(cfg: Config, log: Logger = createLogger()) {
    this.cfg = cfg;
    this.log = log;
  }

  async start(): Promise<void> {
    const s = daemonSettings(this.cfg);
    this.client = new ProxmoxClient({
      url: this.cfg.pve_url,
      token: s.token,
      ...s.trust,
      timeoutMs: this.cfg.api_timeout * 1000,
    });
    const store = new StateStore(this.cfg.state_dir);
    await store.start();
    const svc: EngineServices = { config: this.cfg, client: this.client, store, node: s.node };
    const engine = new Engine(svc);
    await engine.start((line) => this.log.warn(line));
    await this.checkApi();
    this.server = await listenOnSocket(createApp(engine, svc, VERSION), this.cfg.socket);
    this.log.info(`pvepatchd ${VERSION} listening on ${this.cfg.socket} (node ${s.node}, PVE API ${this.cfg.pve_url})`);
    notifySystemd();
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
    await this.client?.close();
  }

  /** A wrong token or certificate is reported at start, but the daemon stays up to say so per request. */
  private async checkApi(): Promise<void> {
    try {
      const v = (await this.client!.get('/version')) as { version?: string };
      this.log.info(`connected to Proxmox VE ${v.version ?? '?'}`);
    } catch (err) {
      this.log.error(`Proxmox API check failed - ${errorMessage(err)}`);
    }
  }
}

function notifySystemd(): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], () => {});
}
