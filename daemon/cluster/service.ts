/**
 * The daemon's part in the cluster (cluster mode: `cluster_dir` exists): every `cluster_refresh`
 * seconds it checks quorum, publishes this node's status in
 * `<cluster_dir>/nodes/<node>/pvepatch/status.json` and reads the shared definitions again (pmxcfs
 * has no change notification); it competes for the leader lock all the time and says when this
 * node becomes leader or stops being one. Without quorum nothing is written, the lock counts as
 * lost and the shared files are only read.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { nodeClusterFs } from './cluster-fs.js';
import { LeaderLock, readLeaderRecord } from './leader-lock.js';
import { type ClusterPaths, clusterPaths } from './paths.js';
import { quorumFromLocalDir } from './quorum.js';
import type { SharedDbOptions } from './shared-db.js';
import { readSharedJson, writeSharedJson } from './shared-file.js';
import type { ClusterView, NodeStatus, Peer } from './types.js';

export interface ClusterServiceOptions {
  clusterDir: string;
  node: string;
  version: string;
  /** Where the node-local lock file goes (state_dir). */
  runDir: string;
  refreshSeconds: number;
  expirySeconds: number;
  /** Quorum as the PVE API says it (undefined: unknown; then `<cluster_dir>/local` decides). */
  quorum: () => Promise<boolean | undefined>;
  /** The cluster's nodes with their addresses (`/cluster/status`); undefined when unknown. */
  members: () => Promise<{ node: string; ip?: string }[] | undefined>;
  /** The HTTPS API this node serves, for the others to forward to. */
  api: () => { port: number; fingerprint?: string };
  log: Logger;
}

type Listener = () => void | Promise<void>;

export class ClusterService {
  readonly node: string;
  readonly clusterDir: string;
  readonly paths: ClusterPaths;
  readonly shared: SharedDbOptions;
  private readonly lock: LeaderLock;
  private readonly opts: ClusterServiceOptions;
  private readonly startedAt = new Date().toISOString();
  private quorate: boolean | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private abort = new AbortController();
  private readonly tickers: Listener[] = [];
  private readonly leaderListeners: Listener[] = [];
  private readonly followerListeners: Listener[] = [];
  private lostWake: (() => void) | undefined;
  private ticking: Promise<void> | undefined;

  constructor(opts: ClusterServiceOptions) {
    this.opts = opts;
    this.node = opts.node;
    this.clusterDir = opts.clusterDir;
    this.paths = clusterPaths(opts.clusterDir, opts.node);
    this.shared = {
      dir: this.paths.shared,
      clusterDir: opts.clusterDir,
      writable: () => this.quorate !== false,
      log: (line) => opts.log.warn(line),
    };
    this.lock = new LeaderLock({
      clusterDir: opts.clusterDir,
      node: opts.node,
      runDir: opts.runDir,
      expirySeconds: opts.expirySeconds,
      refreshSeconds: Math.min(opts.refreshSeconds, Math.max(1, Math.floor(opts.expirySeconds / 3))),
      retrySeconds: 1,
      logger: opts.log,
    });
    this.lock.on('acquired', () => {
      opts.log.info(`node '${opts.node}' leads pvepatch in this cluster: it runs the schedules and drives rollouts`);
      void this.writeStatus();
      this.emit(this.leaderListeners);
    });
    this.lock.on('lost', () => {
      this.emit(this.followerListeners);
      void this.writeStatus();
      this.lostWake?.();
    });
  }

  /** Called with every refresh (after quorum and the status): read shared files again, look at work. */
  onTick(fn: Listener): void {
    this.tickers.push(fn);
  }

  /** This node became the leader. */
  onLeader(fn: Listener): void {
    this.leaderListeners.push(fn);
  }

  /** This node stopped being the leader (lost the lock, lost quorum, stopping). */
  onFollower(fn: Listener): void {
    this.followerListeners.push(fn);
  }

  isLeader(): boolean {
    return this.lock.isHeld();
  }

  /** Quorum as last seen (null: not known yet). */
  isQuorate(): boolean | null {
    return this.quorate;
  }

  get tickMs(): number {
    return Math.min(2000, this.opts.refreshSeconds * 1000);
  }

  async start(): Promise<void> {
    await this.checkQuorum();
    await this.writeStatus();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    void this.leaderLoop();
  }

  private lastStatusAt = 0;

  private tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        await this.checkQuorum();
        if (Date.now() - this.lastStatusAt >= this.opts.refreshSeconds * 1000) await this.writeStatus();
        for (const fn of this.tickers) {
          try {
            await fn();
          } catch (err) {
            this.opts.log.warn(`cluster: ${errorMessage(err)}`);
          }
        }
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private async checkQuorum(): Promise<void> {
    let q = await this.opts.quorum();
    // without the API's answer, the mode of <cluster_dir>/local (pmxcfs' own way), when there is one
    if (q === undefined && existsSync(join(this.opts.clusterDir, 'local')))
      q = await quorumFromLocalDir(this.opts.clusterDir).catch(() => undefined);
    const next = q === undefined ? this.quorate : q;
    if (next === this.quorate) return;
    const was = this.quorate;
    this.quorate = next;
    if (next === false) {
      this.opts.log.warn(
        `cluster quorum lost on node '${this.node}' - ${this.opts.clusterDir} is read-only; current steps finish, nothing new starts until it returns (pvecm status)`,
      );
    } else if (was === false) this.opts.log.info(`cluster quorum is back on node '${this.node}' - going on`);
    this.lock.setQuorate(next !== false);
  }

  /** Competes for the leader lock for as long as the daemon runs. */
  private async leaderLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.lock.acquire(this.abort.signal);
      } catch (err) {
        if (this.stopped) return;
        this.opts.log.warn(`cluster: leader lock - ${errorMessage(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      // held: wait until it is lost (or the daemon stops)
      await new Promise<void>((resolve) => {
        this.lostWake = resolve;
        if (!this.lock.isHeld() || this.stopped) resolve();
      });
      this.lostWake = undefined;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async writeStatus(stopping = false): Promise<void> {
    if (this.quorate === false) return; // pmxcfs refuses every write without quorum
    const api = this.opts.api();
    const now = new Date().toISOString();
    const status: NodeStatus & { stopped?: boolean } = {
      node: this.node,
      version: this.opts.version,
      pid: process.pid,
      api_port: api.port,
      ...(api.fingerprint ? { api_fingerprint: api.fingerprint } : {}),
      started_at: this.startedAt,
      heartbeat_at: now,
      quorate: this.quorate,
      leader: !stopping && this.lock.isHeld(),
      ...(stopping ? { stopped: true } : {}),
    };
    try {
      await writeSharedJson(join(this.paths.nodeStatus, 'status.json'), status, { clusterDir: this.opts.clusterDir });
      this.lastStatusAt = Date.now();
    } catch (err) {
      this.opts.log.warn(`cluster: unable to publish this node's status - ${errorMessage(err)}`);
    }
  }

  /** A status older than this is a node without a running daemon. */
  private get staleMs(): number {
    return Math.min(3 * this.opts.refreshSeconds + 5, this.opts.expirySeconds) * 1000;
  }

  /** Every other node of the cluster, with whether a pvepatch daemon runs there. */
  async peers(): Promise<Peer[]> {
    const members = (await this.opts.members().catch(() => undefined)) ?? [];
    const names = new Set(members.map((m) => m.node));
    try {
      for (const n of await readdir(join(this.opts.clusterDir, 'nodes'))) names.add(n);
    } catch {
      // no nodes directory: the members are all we know
    }
    names.delete(this.node);
    const out: Peer[] = [];
    for (const node of [...names].sort()) {
      const ip = members.find((m) => m.node === node)?.ip;
      out.push({ ...(await this.peerStatus(node)), ...(ip ? { ip } : {}) });
    }
    return out;
  }

  /** One node's published status and whether it is fresh. */
  async peerStatus(node: string): Promise<Peer> {
    let status: (NodeStatus & { stopped?: boolean }) | undefined;
    try {
      status = (await readSharedJson(join(this.opts.clusterDir, 'nodes', node, 'pvepatch', 'status.json'), {
        fs: nodeClusterFs,
        clusterDir: this.opts.clusterDir,
      })) as typeof status;
    } catch {
      status = undefined;
    }
    if (!status || typeof status.heartbeat_at !== 'string')
      return { node, alive: false, reason: `no pvepatch daemon has run on node '${node}'` };
    const age = Date.now() - Date.parse(status.heartbeat_at);
    if (status.stopped)
      return {
        node,
        alive: false,
        status,
        reason: `the pvepatch daemon on node '${node}' was stopped at ${status.heartbeat_at}`,
      };
    if (!(age < this.staleMs))
      return {
        node,
        alive: false,
        status,
        reason: `no pvepatch daemon running on node '${node}' (its last status is from ${status.heartbeat_at})`,
      };
    return { node, alive: true, status };
  }

  /** This node's view of the cluster, for `GET /cluster` and `pvepatch cluster`. */
  async view(): Promise<ClusterView> {
    const record = await readLeaderRecord(this.clusterDir);
    const leads = this.isLeader();
    const leader = leads ? this.node : (record?.node ?? null);
    const self = {
      node: this.node,
      alive: true,
      leader: leads,
      version: this.opts.version,
      heartbeat_at: new Date(this.lastStatusAt || Date.now()).toISOString(),
    };
    const others = (await this.peers()).map((p) => ({
      node: p.node,
      alive: p.alive,
      // a record left by a dead leader names a node that leads no more
      leader: p.alive && p.node === leader,
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.status?.version ? { version: p.status.version } : {}),
      ...(p.status?.heartbeat_at ? { heartbeat_at: p.status.heartbeat_at } : {}),
    }));
    return {
      mode: 'cluster',
      node: this.node,
      cluster_dir: this.clusterDir,
      leader,
      quorate: this.quorate,
      nodes: [self, ...others].sort((a, b) => a.node.localeCompare(b.node)),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort(new Error('the daemon stops'));
    this.lostWake?.();
    await this.ticking;
    const wasLeader = this.lock.isHeld();
    await this.lock.release();
    if (wasLeader) this.emit(this.followerListeners);
    await this.writeStatus(true);
  }

  private emit(listeners: Listener[]): void {
    for (const fn of listeners) {
      Promise.resolve()
        .then(fn)
        .catch((err) => this.opts.log.error(`cluster: ${errorMessage(err)}`));
    }
  }
}
