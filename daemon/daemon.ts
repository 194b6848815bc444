import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AppOptions, createApp } from './api/app.js';
import { authenticate, FailureLimiter, PveProxyPermissionSource, requireRoot } from './api/auth/index.js';
import { allowedOrigins, cors, securityHeaders } from './api/browser.js';
import { type ClusterRouting, clusterPlanner } from './api/cluster-routes.js';
import { certificatePaths, listenHttps } from './api/https.js';
import { httpsAccess, localMetricsRequest, unless } from './api/https-access.js';
import { ROOT_SOCKET, type SettingsRoutes } from './api/settings.js';
import { listenOnSocket } from './api/socket.js';
import { PlanStore } from './approvals/store.js';
import { AuditLog } from './audit/audit-log.js';
import { BackupResultStore } from './backups/store.js';
import { clusterModeOn } from './cluster/paths.js';
import { HttpsPeerClient } from './cluster/peer-client.js';
import { quorumCheck } from './cluster/quorum-check.js';
import { ClusterService } from './cluster/service.js';
import type { ClusterView, ForwardAuth } from './cluster/types.js';
import { daemonSettings, type LoadOptions } from './config/load.js';
import { type Config, RESTART_KEYS } from './config/schema.js';
import { ConfigSettings } from './config/settings.js';
import { errorMessage } from './core/errors.js';
import { MINIMAL_ENV } from './core/exec.js';
import { createLogger, type Logger } from './core/logger.js';
import { Engine } from './engine/engine.js';
import { RebootWindow } from './engine/reboot-window.js';
import type { EngineServices, GuestPlan, PlanRequest } from './engine/types.js';
import { ExceptionStore } from './exceptions/store.js';
import { RequestHistogram } from './metrics/metrics.js';
import { NotifyService } from './notify/service.js';
import { ProxmoxClient } from './proxmox/client.js';
import { ClusterRollouts } from './rollouts/cluster.js';
import { RolloutManager } from './rollouts/manager.js';
import { RolloutStore } from './rollouts/store.js';
import { ScheduleService } from './schedule/service.js';
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
  private https: Server | undefined;
  private audit: AuditLog | undefined;
  private permissions: PveProxyPermissionSource | undefined;
  /** Node names of the cluster, for the web UI origins CORS lets in. */
  private nodes: string[] = [];
  private pveMajor: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private client: ProxmoxClient | undefined;
  private engine: Engine | undefined;
  private rollouts: RolloutManager | undefined;
  private schedules: ScheduleService | undefined;
  private rebootWindow: RebootWindow | undefined;
  private svc: EngineServices | undefined;
  private notify: NotifyService | undefined;
  /** Cluster mode (cluster_dir exists): shared definitions, node status, the leader lock. */
  private cluster: ClusterService | undefined;
  /** The HTTPS API's certificate fingerprint, published for the other nodes to pin. */
  private apiFingerprint: string | undefined;
  /** Requests for other nodes' guests and runs go to their daemons (cluster mode). */
  private peerClient: HttpsPeerClient | undefined;
  private forced: (() => void) | undefined;
  private readonly forceRequested = new Promise<void>((resolve) => {
    this.forced = resolve;
  });
  /** The settings API (GET/PUT /settings); only when the daemon knows where its config came from. */
  private readonly settings: ConfigSettings | undefined;

  /** `opts.config`: how `cfg` was loaded (file and environment), so the settings API can change it. */
  constructor(cfg: Config, log: Logger = createLogger(), opts: { config?: LoadOptions } = {}) {
    this.cfg = cfg;
    this.log = log;
    this.lock = new StateDirLock(cfg.state_dir);
    this.settings = opts.config
      ? new ConfigSettings({ source: opts.config, current: () => this.cfg, apply: (next) => this.reload(next) })
      : undefined;
  }

  /** The settings routes with this listener's guards, when the daemon offers them. */
  private settingsRoutes(guards: Pick<SettingsRoutes, 'read' | 'write'>): { settings?: SettingsRoutes } {
    return this.settings ? { settings: { provider: this.settings, ...guards } } : {};
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
      const quorum = quorumCheck(this.client, {
        ttlMs: Math.min(5000, this.cfg.cluster_refresh * 1000),
        onChange: (q) => {
          if (q === false) this.log.warn('cluster quorum lost - no guest is started until it returns (pvecm status)');
          else if (q === true) this.log.info('cluster is quorate');
        },
      });
      const cluster = clusterModeOn(this.cfg.cluster_dir) ? this.clusterService(s.node, quorum) : undefined;
      this.cluster = cluster;
      const sharedDb = cluster?.shared;
      const store = new StateStore(this.cfg.state_dir, {
        logDir: this.cfg.log_dir,
        runsKeep: () => this.cfg.runs_keep,
      });
      await store.start();
      const exceptions = new ExceptionStore(this.cfg.state_dir, undefined, sharedDb);
      await exceptions.start();
      const plans = new PlanStore(this.cfg.state_dir, sharedDb);
      await plans.start();
      const backups = new BackupResultStore(this.cfg.state_dir);
      await backups.start();
      this.notify = new NotifyService(() => this.cfg.notify_file, {
        hostname: s.node,
        log: (line) => this.log.info(line),
        warn: (line) => this.log.warn(line),
      });
      this.notify.load();
      const notify = this.notify;
      const svc: EngineServices = {
        config: this.cfg,
        client: this.client,
        store,
        exceptions,
        plans,
        backups,
        node: s.node,
        quorum,
        notify: (n) => notify.send(n),
      };
      this.svc = svc;
      this.engine = new Engine(svc, (line) => this.log.warn(line));
      await this.engine.start((line) => this.log.warn(line));
      const rolloutStore = new RolloutStore(this.cfg.state_dir, sharedDb);
      await rolloutStore.start();
      const clusterRollouts = cluster
        ? new ClusterRollouts(svc, this.engine, rolloutStore, cluster, this.cfg.cluster_node_wait * 1000, (line) =>
            this.log.info(line),
          )
        : undefined;
      this.rollouts = new RolloutManager(
        svc,
        this.engine,
        rolloutStore,
        (line) => this.log.warn(line),
        clusterRollouts,
      );
      await this.rollouts.start();
      this.schedules = new ScheduleService(
        this.cfg.state_dir,
        this.engine,
        this.rollouts,
        this.log,
        plans,
        svc.notify,
        s.node,
        sharedDb,
        this.schedulePlanner(s.token),
      );
      await this.schedules.start();
      if (cluster) {
        const schedules = this.schedules;
        cluster.onTick(async () => {
          await exceptions.refresh();
          await plans.refresh();
          await schedules.refresh();
          await clusterRollouts?.tick();
        });
        // the leader alone fires schedules: once per occurrence for the whole cluster
        cluster.onLeader(() => schedules.arm());
        cluster.onFollower(() => schedules.disarm());
      }
      this.audit = new AuditLog(this.cfg.log_dir, {
        maxBytes: this.cfg.audit_max_mb * 1024 * 1024,
        keep: this.cfg.audit_keep,
      });
      const requests = new RequestHistogram();
      const shared = { audit: this.audit, requests };
      this.server = await listenOnSocket(
        createApp(this.engine, svc, VERSION, {
          ...shared,
          // root on the socket: the daemon's own API token speaks for it on the other nodes
          ...this.clusterRouting(daemonAuth(s.token, 'root@pam')),
          clusterView: () => this.clusterView(s.node),
          rollouts: this.rollouts,
          schedules: { service: this.schedules },
          notifications: { service: this.notify },
          ...this.settingsRoutes(ROOT_SOCKET),
        }),
        this.cfg.socket,
      );
      this.nodes = [s.node];
      if (this.cfg.api_port !== 0) await this.startHttps(svc, s.trust, shared);
    } catch (err) {
      await this.client?.close();
      this.lock.release();
      throw err;
    }
    this.log.info(`pvepatchd ${VERSION} listening on ${this.cfg.socket} (node ${s.node}, PVE API ${this.cfg.pve_url})`);
    notifySystemd('READY=1');
    this.startWatchdog();
    void this.checkApi();
    void this.engine.maintenance.kick();
    // after READY: a catch-up (a run missed while down, its window still open) may fire at once;
    // in a cluster only on the leader, once this node holds the lock
    if (this.cluster) await this.cluster.start();
    else this.schedules?.arm();
    this.rebootWindow = new RebootWindow(this.svc!, this.engine, (line) => this.log.info(line));
    this.rebootWindow.start();
  }

  /** Cluster mode: report and approval schedules plan every node's guests, each node its own. */
  private schedulePlanner(token: string): ((req: PlanRequest) => Promise<GuestPlan[]>) | undefined {
    const auth = daemonAuth(token, 'schedule');
    const cluster = this.clusterRouting(auth).cluster;
    if (!cluster || !this.engine || !this.svc) return undefined;
    return clusterPlanner({ cluster, engine: this.engine, svc: this.svc }, auth);
  }

  /** GET /cluster: the cluster service's view, or a standalone node's. */
  private clusterView(node: string): Promise<ClusterView> {
    if (this.cluster) return this.cluster.view();
    return Promise.resolve({ mode: 'standalone', node, cluster_dir: this.cfg.cluster_dir });
  }

  /** The API's view of the cluster (cluster mode): the other nodes and how to forward to them. */
  private clusterRouting(auth: ClusterRouting['forwardAuth']): { cluster?: ClusterRouting } {
    const cluster = this.cluster;
    if (!cluster) return {};
    this.peerClient ??= new HttpsPeerClient({ node: cluster.node, timeoutMs: this.cfg.api_timeout * 1000 });
    return {
      cluster: { node: cluster.node, peers: () => cluster.peers(), forwardAuth: auth, client: this.peerClient },
    };
  }

  /** The cluster side of this node's daemon (cluster mode). */
  private clusterService(node: string, quorum: () => Promise<boolean | undefined>): ClusterService {
    let members: { at: number; list: Promise<{ node: string; ip?: string }[] | undefined> } | undefined;
    return new ClusterService({
      clusterDir: this.cfg.cluster_dir,
      node,
      version: VERSION,
      runDir: this.cfg.state_dir,
      refreshSeconds: this.cfg.cluster_refresh,
      expirySeconds: this.cfg.cluster_lock_expiry,
      quorum,
      // the nodes and their addresses, asked at most every refresh interval
      members: () => {
        if (!members || Date.now() - members.at > this.cfg.cluster_refresh * 1000) {
          const list = this.client!.get<{ type?: string; name?: string; ip?: string }[]>('/cluster/status').then(
            (entries) =>
              entries.flatMap((e) =>
                e.type === 'node' && e.name ? [{ node: e.name, ...(e.ip ? { ip: e.ip } : {}) }] : [],
              ),
            () => undefined,
          );
          members = { at: Date.now(), list };
        }
        return members.list;
      },
      api: () => ({
        port: this.https ? this.cfg.api_port : 0,
        ...(this.apiFingerprint ? { fingerprint: this.apiFingerprint } : {}),
      }),
      log: this.log,
    });
  }

  /**
   * The HTTPS API beside the socket: the same routes, for callers with a Proxmox ticket or token
   * and their own privileges. A certificate or port problem is logged and the socket stays served.
   */
  private async startHttps(
    svc: EngineServices,
    trust: { fingerprint?: string; caPem?: string },
    shared: Pick<AppOptions, 'audit' | 'requests'>,
  ): Promise<void> {
    const cfg = this.cfg;
    this.permissions = new PveProxyPermissionSource({
      url: cfg.pve_url,
      ...trust,
      cacheSeconds: cfg.auth_cache_seconds,
      timeoutMs: cfg.api_timeout * 1000,
    });
    // metrics_localhost: GET /metrics from a loopback address needs no credentials (read per request: reloadable)
    const localMetrics = localMetricsRequest(() => cfg.metrics_localhost);
    const app = createApp(this.engine!, svc, VERSION, {
      ...shared,
      access: httpsAccess(() => this.pveMajor),
      clusterView: () => this.clusterView(svc.node),
      // the caller's own credentials go to the other nodes: Proxmox privileges decide there too
      ...this.clusterRouting((req) => ({
        kind: 'caller',
        headers: {
          ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}),
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          ...(typeof req.headers.csrfpreventiontoken === 'string'
            ? { csrfpreventiontoken: req.headers.csrfpreventiontoken }
            : {}),
        },
      })),
      front: [
        securityHeaders,
        cors(() => allowedOrigins(this.nodes, cfg.api_origins)),
        authenticate({
          source: this.permissions,
          wwwKeyPath: cfg.pve_www_key,
          limiter: new FailureLimiter(),
          anonymous: localMetrics,
        }),
      ],
      nodeWide: unless(localMetrics, requireRoot('audit')),
      ...(this.rollouts ? { rollouts: this.rollouts } : {}),
      ...(this.schedules
        ? { schedules: { service: this.schedules, read: requireRoot('audit'), write: requireRoot('settings') } }
        : {}),
      ...(this.notify
        ? { notifications: { service: this.notify, read: requireRoot('audit'), write: requireRoot('settings') } }
        : {}),
      ...this.settingsRoutes({ read: requireRoot('audit'), write: requireRoot('settings') }),
    });
    try {
      this.https = await listenHttps(app, cfg);
      try {
        this.apiFingerprint = new X509Certificate(readFileSync(certificatePaths(cfg).cert)).fingerprint256;
      } catch {
        // the other nodes cannot pin it; they refuse to forward here and say so
      }
      this.log.info(`HTTPS API on port ${cfg.api_port} (Proxmox tickets and API tokens)`);
    } catch (err) {
      this.log.error(`HTTPS API not served - ${errorMessage(err)}`);
    }
  }

  /**
   * systemd's watchdog (WatchdogSec): WATCHDOG=1 at half the interval while the event loop runs; a
   * daemon whose loop hangs stops pinging and systemd restarts it.
   */
  private startWatchdog(): void {
    const usec = Number(process.env.WATCHDOG_USEC);
    const pid = process.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (pid && Number(pid) !== process.pid)) return;
    this.watchdog = setInterval(() => notifySystemd('WATCHDOG=1'), Math.max(500, usec / 2000));
    this.watchdog.unref();
  }

  /**
   * SIGHUP (ExecReload) and PUT /settings: applies a config read again. Settings the engine reads
   * per run or per guest take effect for what starts next; running runs go on untouched. Settings
   * bound at start (RESTART_KEYS: paths, the socket, the API's address and credentials, the HTTPS
   * listener) are kept and named: they need a restart. Returns the keys applied and those kept.
   */
  reload(next: Config): { applied: string[]; needRestart: string[] } {
    notifySystemd('RELOADING=1');
    const applied: string[] = [];
    const changes: string[] = [];
    const needRestart: string[] = [];
    for (const key of Object.keys(next) as (keyof Config)[]) {
      const [before, after] = [JSON.stringify(this.cfg[key]), JSON.stringify(next[key])];
      if (before === after) continue;
      if (RESTART_KEYS.has(key)) {
        needRestart.push(key);
        continue;
      }
      (this.cfg as Record<string, unknown>)[key] = next[key];
      applied.push(key);
      changes.push(`${key}: ${before ?? '-'} -> ${after ?? '-'}`);
    }
    this.log.info(`config reloaded${changes.length ? `: ${changes.join(', ')}` : ': no change'}`);
    if (needRestart.length) this.log.warn(`config keys that need a restart to change: ${needRestart.join(', ')}`);
    notifySystemd('READY=1');
    if (applied.includes('reboot_window')) this.rebootWindow?.kick();
    // the channels' file may have changed even when no key did
    this.notify?.load();
    return { applied, needRestart };
  }

  /** The second SIGTERM: stop waiting for guests to finish their stage. */
  force(): void {
    this.forced?.();
  }

  async stop(): Promise<void> {
    const engine = this.engine;
    this.schedules?.stop();
    this.rebootWindow?.stop();
    if (engine) {
      engine.requestStop();
      notifySystemd('STOPPING=1');
      clearInterval(this.watchdog);
      const drained = await engine.drain(this.cfg.stop_timeout * 1000, this.forceRequested);
      if (!drained) {
        this.log.warn('stopping before every guest finished its stage (stop_timeout or a second signal)');
        await engine.forceStop();
      }
      await Promise.race([engine.maintenance.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    // after the guests' last steps were recorded: the lock goes to another node at once
    await this.cluster?.stop();
    for (const server of [this.server, this.https]) {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections?.();
    }
    // notifications of the last runs go out before the daemon ends (a webhook retrying gives up)
    await Promise.race([this.notify?.settle(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.permissions?.close();
    await this.peerClient?.close();
    await this.audit?.flush();
    this.audit?.close();
    await this.client?.close();
    this.lock.release();
  }

  /** A wrong token or certificate is reported at start, but the daemon stays up to say so per request. */
  private async checkApi(): Promise<void> {
    try {
      const v = (await this.client!.get('/version')) as { version?: string };
      this.log.info(`connected to Proxmox VE ${v.version ?? '?'}`);
      const major = Number.parseInt(v.version ?? '', 10);
      if (Number.isInteger(major)) this.pveMajor = major;
      const nodes = (await this.client!.get('/nodes')) as { node?: string }[];
      this.nodes = [...new Set([...this.nodes, ...nodes.flatMap((n) => (n.node ? [n.node] : []))])];
    } catch (err) {
      this.log.error(`Proxmox API check failed - ${errorMessage(err)}`);
    }
  }
}

/** The daemon's own token speaking to other nodes' daemons for `who` (recorded there as attribution). */
function daemonAuth(token: string, who: string): () => ForwardAuth {
  return () => ({ kind: 'daemon', token, onBehalfOf: who });
}

/** Notifications leave in order: each systemd-notify is started when the one before has exited. */
let notifyQueue: Promise<void> = Promise.resolve();

/**
 * sd_notify through systemd-notify (Node has no datagram unix sockets); no-op outside systemd.
 * `--no-block` sends without waiting for systemd to process it, so a busy manager never stalls us.
 */
function notifySystemd(state: string): void {
  const socket = process.env.NOTIFY_SOCKET;
  if (!socket) return;
  notifyQueue = notifyQueue.then(
    () =>
      new Promise<void>((resolve) => {
        execFile(
          'systemd-notify',
          ['--no-block', `--pid=${process.pid}`, state],
          { env: { ...MINIMAL_ENV, NOTIFY_SOCKET: socket }, timeout: 5000 },
          () => resolve(),
        );
      }),
  );
}
