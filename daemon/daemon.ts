import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createApp } from './api/app.js';
import { listenOnSocket } from './api/socket.js';
import { daemonSettings } from './config/load.js';
import type { Config } from './config/schema.js';
import { errorMessage } from './core/errors.js';
import { MINIMAL_ENV } from './core/exec.js';
import { createLogger, type Logger } from './core/logger.js';
import { Engine } from './engine/engine.js';
import type { EngineServices } from './engine/types.js';
import { ProxmoxClient } from './proxmox/client.js';
import { StateStore } from './store/state.js';
import { StateDirLock } from './store/state-lock.js';
import { VERSION } from './version.js';

/**
 * pvepatchd: constructed with its config; start() acquires, stop() releases.
 *
 * Start: the state-directory lock before anything else (a second daemon exits here, having
 * touched nothing), the state read and checked, interrupted runs marked, the socket, READY — and
 * only then, in the background, the API check and the recovery work that talks to guests.
 * Stop: no new work; each guest finishes its current stage within stop_timeout (or until force());
 * what remains is marked interrupted with records intact.
 */
export class Daemon {
  private readonly cfg: Config;
  private readonly log: Logger;
  private readonly lock: StateDirLock;
  private server: Server | undefined;
  private client: ProxmoxClient | undefined;
  private engine: Engine | undefined;
  private forced: (() => void) | undefined;
  private readonly forceRequested = new Promise<void>((resolve) => {
    this.forced = resolve;
  });

  constructor(cfg: Config, log: Logger = createLogger()) {
    this.cfg = cfg;
    this.log = log;
    this.lock = new StateDirLock(cfg.state_dir);
  }

  async start(): Promise<void> {
    const s = daemonSettings(this.cfg);
    // checks the token and URL; it connects nothing until asked
    this.client = new ProxmoxClient({
      url: this.cfg.pve_url,
      token: s.token,
      ...s.trust,
      timeoutMs: this.cfg.api_timeout * 1000,
    });
    try {
      this.lock.acquire();
      const store = new StateStore(this.cfg.state_dir);
      await store.start();
      const svc: EngineServices = { config: this.cfg, client: this.client, store, node: s.node };
      this.engine = new Engine(svc, (line) => this.log.warn(line));
      await this.engine.start((line) => this.log.warn(line));
      this.server = await listenOnSocket(createApp(this.engine, svc, VERSION), this.cfg.socket);
    } catch (err) {
      await this.client?.close();
      this.lock.release();
      throw err;
    }
    this.log.info(`pvepatchd ${VERSION} listening on ${this.cfg.socket} (node ${s.node}, PVE API ${this.cfg.pve_url})`);
    notifySystemd('READY=1');
    void this.checkApi();
    void this.engine.maintenance.kick();
  }

  /** The second SIGTERM: stop waiting for guests to finish their stage. */
  force(): void {
    this.forced?.();
  }

  async stop(): Promise<void> {
    const engine = this.engine;
    if (engine) {
      engine.requestStop();
      notifySystemd('STOPPING=1');
      const drained = await engine.drain(this.cfg.stop_timeout * 1000, this.forceRequested);
      if (!drained) {
        this.log.warn('stopping before every guest finished its stage (stop_timeout or a second signal)');
        await engine.forceStop();
      }
      await Promise.race([engine.maintenance.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
    await this.client?.close();
    this.lock.release();
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

/** sd_notify through systemd-notify (Node has no datagram unix sockets); no-op outside systemd. */
function notifySystemd(state: 'READY=1' | 'STOPPING=1'): void {
  const socket = process.env.NOTIFY_SOCKET;
  if (!socket) return;
  execFile(
    'systemd-notify',
    [`--pid=${process.pid}`, state],
    { env: { ...MINIMAL_ENV, NOTIFY_SOCKET: socket } },
    () => {},
  );
}
