/**
 * Several pvepatch nodes of one Proxmox cluster, each daemon its own process (so a test can SIGKILL
 * one), sharing one lab of real guests, one PVE API simulator and one plain directory standing in
 * for /etc/pve (`cluster_dir`), whose lock requests a PmxcfsJudge answers as pmxcfs would.
 *
 * Per node: its own state/log dirs, socket, hooks dir, notification file, policy path, HTTPS API
 * (127.0.0.1, a free port, its own certificate) and a pct wrapper that only reaches the containers
 * hosted on that node, as a node's real pct does.
 *
 * Where it differs from a real cluster: the simulator is reached on pve1 for every node (it is
 * `local: 1` in /cluster/status whoever asks); `<cluster_dir>/local` is one symlink (to the first
 * node's directory) shared by all nodes, meaningful only for its quorum mode; the judge does not
 * check the writer of a lock refresh (see test/cluster/judge.ts).
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PmxcfsJudge } from '../cluster/judge.js';
import { Lab, type LabGuestSpec } from '../guests/lab.js';
import { makeCert } from '../sim/cert.js';
import { startSim } from '../sim/server.js';
import type { Sim, SimGuest } from '../sim/types.js';
import { DaemonProcess } from './daemon-process.js';
import { type CliResult, labBackends, OSTYPE, runCli, TOKEN_ID } from './harness.js';

export interface ClusterOptions {
  /** Lab guests per node name (the first node is the one the simulator is reached on). */
  nodes: Record<string, LabGuestSpec[]>;
  /** Config keys for every node (over the harness's). */
  config?: Record<string, string>;
  /** Config keys for one node (over `config`). */
  nodeConfig?: Record<string, Record<string, string>>;
  /** Lock lifetime of the judge and `cluster_lock_expiry` (default 6 s). */
  expirySeconds?: number;
  /** `cluster_refresh` (default 1 s). */
  refresh?: number;
  /**
   * ssh_config(5) text that the ssh client run by the daemons reads instead of /etc/ssh/ssh_config
   * (each daemon in a private mount namespace where a file with this text is bind-mounted over
   * it): the cluster's SSH reaches a test sshd's port and key while the daemon's argv stays PVE's.
   */
  sshConfig?: string;
}

export interface ClusterNode {
  node: string;
  configPath: string;
  stateDir: string;
  logDir: string;
  apiPort: number;
  /** The certificate of the node's HTTPS API (CN = node name; SANs 127.0.0.1, localhost). */
  certPem: string;
  /** This node's pct: refuses every vmid that is not a container hosted here. */
  pctPath: string;
  /** Every line the node's daemon processes wrote so far (all starts, in order). */
  log(): string[];
  cli(...argv: string[]): Promise<CliResult>;
  /** Starts the daemon (no-op while it runs); resolves once it listens, throws if it exited instead. */
  start(): Promise<void>;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM and wait (SIGKILL after 30 s). */
  stop(): Promise<void>;
  running(): boolean;
}

export interface Cluster {
  dir: string;
  lab: Lab;
  sim: Sim;
  /** The shared stand-in for /etc/pve. */
  clusterDir: string;
  judge: PmxcfsJudge;
  /** What the judge decided (`unlock request for <name>: …`), in order. */
  judgeLog: string[];
  /** The API token every node uses (`pve_token`). */
  token: string;
  nodes: Record<string, ClusterNode>;
  close(): Promise<void>;
}

/** Polls `cond` every 50 ms; throws `timed out after <ms> ms waiting for <what>` if it never holds. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
  });
}

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * `<dir>/bin/pct-<node>`: pct as it is on `node`. A well-formed vmid that is not a container of this
 * node gets pct's answer for a guest whose config is elsewhere (exit 255); anything else goes to
 * the lab's pct with the same argv (which also checks the vmid's format and the options).
 */
function writeNodePct(path: string, node: string, hosted: number[], labPct: string): void {
  const script = `#!/bin/bash
# pct on cluster node ${node} (pvepatch test): containers ${hosted.join(' ') || '(none)'} live here.
NODE=${shq(node)}
HOSTED=${shq(` ${hosted.join(' ')} `)}
LAB_PCT=${shq(labPct)}
vmid=\${2:-}
if [[ $vmid =~ ^[1-9][0-9]{2,8}$ && $HOSTED != *" $vmid "* ]]; then
  case \${1:-} in
    stop)
      printf 'CT %s not running\\n' "$vmid" >&2
      exit 255
      ;;
    exec | status | start)
      printf "Configuration file 'nodes/%s/lxc/%s.conf' does not exist\\n" "$NODE" "$vmid" >&2
      exit 255
      ;;
  esac
fi
exec "$LAB_PCT" "$@"
`;
  writeFileSync(path, script);
  chmodSync(path, 0o755);
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const names = Object.keys(opts.nodes);
  if (names.length === 0) throw new Error('startCluster: no nodes');
  const expirySeconds = opts.expirySeconds ?? 6;
  const refresh = opts.refresh ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-cluster-'));
  let lab: Lab | undefined;
  let sim: Sim | undefined;
  let judge: PmxcfsJudge | undefined;
  const nodes: Record<string, ClusterNode> = {};
  const judgeLog: string[] = [];
  const cleanup = async () => {
    await Promise.all(Object.values(nodes).map((n) => n.stop()));
    await judge?.stop();
    await sim?.close();
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const specs = names.flatMap((node) => opts.nodes[node]!.map((spec) => ({ node, spec })));
    lab = await Lab.create({ dir: join(dir, 'lab'), guests: specs.map((g) => g.spec), repo: 'v2' });
    const secret = randomUUID();
    const simGuests: SimGuest[] = specs.map(({ node, spec: g }) =>
      g.kind === 'vm'
        ? {
            vmid: g.vmid,
            type: 'qemu',
            node,
            name: g.hostname ?? `vm${g.vmid}`,
            status: g.status ?? 'running',
            ostype: 'l26',
            tags: ['demo'],
            config: { agent: '1' },
          }
        : {
            vmid: g.vmid,
            type: 'lxc',
            node,
            name: g.hostname ?? `ct${g.vmid}`,
            status: g.status ?? 'running',
            ostype: OSTYPE[g.flavour ?? 'debian'],
            tags: ['demo'],
          },
    );
    sim = await startSim({
      nodes: names,
      nodeIps: Object.fromEntries(names.map((n) => [n, '127.0.0.1'])),
      guests: simGuests,
      tokens: [{ id: TOKEN_ID, secret }],
      backend: lab.snapshotBackend,
      ...labBackends(lab, new Set(specs.map((g) => g.spec.vmid))),
    });
    const token = `${TOKEN_ID}=${secret}`;

    const clusterDir = join(dir, 'pve');
    mkdirSync(join(clusterDir, 'priv', 'lock'), { recursive: true });
    for (const n of names) mkdirSync(join(clusterDir, 'nodes', n), { recursive: true });
    // pmxcfs' `local` (0777 = quorate, as lstat shows any symlink); shared, so it cannot point at each node's own dir
    symlinkSync(join('nodes', names[0]!), join(clusterDir, 'local'));
    judge = new PmxcfsJudge({ clusterDir, expirySeconds, log: (l) => judgeLog.push(l) });
    judge.start();

    mkdirSync(join(dir, 'bin'));
    let sshPrefix: string[] | undefined;
    if (opts.sshConfig !== undefined) {
      const sshConfig = join(dir, 'ssh_config');
      writeFileSync(sshConfig, opts.sshConfig, { mode: 0o644 });
      sshPrefix = [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        'mount --bind "$0" /etc/ssh/ssh_config && exec "$@"',
        sshConfig,
      ];
    }
    for (const node of names) {
      const nodeDir = join(dir, node);
      mkdirSync(nodeDir);
      const pctPath = join(dir, 'bin', `pct-${node}`);
      const hosted = opts.nodes[node]!.filter((g) => g.kind !== 'vm').map((g) => g.vmid);
      writeNodePct(pctPath, node, hosted, lab.pctPath);
      const cert = await makeCert(node);
      const certPath = join(nodeDir, 'api.pem');
      const keyPath = join(nodeDir, 'api.key');
      writeFileSync(certPath, cert.certPem);
      writeFileSync(keyPath, cert.keyPem, { mode: 0o600 });
      const notifyFile = join(nodeDir, 'notifications.conf');
      writeFileSync(notifyFile, '', { mode: 0o600 });
      const apiPort = await freePort();
      const stateDir = join(nodeDir, 'state');
      const logDir = join(nodeDir, 'log');
      const config: Record<string, string> = {
        pve_url: sim.url,
        pve_token: token,
        pve_fingerprint: sim.fingerprint,
        node,
        pct: pctPath,
        state_dir: stateDir,
        log_dir: logDir,
        socket: join(nodeDir, 'run', 'api.sock'),
        lock_timeout: '5',
        // proxmox-api keeps its request timer after a failed request; a short one lets test processes exit
        api_timeout: '5',
        policy_file: join(nodeDir, 'guests.conf'),
        hooks_dir: join(nodeDir, 'hooks.d'),
        notify_file: notifyFile,
        api_port: String(apiPort),
        api_host: '127.0.0.1',
        api_cert: certPath,
        api_key: keyPath,
        pve_www_key: sim.wwwKeyPath,
        cluster_dir: clusterDir,
        cluster_refresh: String(refresh),
        cluster_lock_expiry: String(expirySeconds),
        ...opts.config,
        ...opts.nodeConfig?.[node],
      };
      const configPath = join(nodeDir, 'pvepatch.conf');
      const text = Object.entries(config)
        .map(([k, v]) => `${k}: ${v}\n`)
        .join('');
      writeFileSync(configPath, text, { mode: 0o600 });
      nodes[node] = clusterNode(
        { node, configPath, stateDir, logDir, apiPort, certPem: cert.certPem, pctPath },
        sshPrefix,
      );
    }
    // all settled before a failure is thrown, so that cleanup sees every process that did start
    const started = await Promise.allSettled(Object.values(nodes).map((n) => n.start()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { dir, lab, sim, clusterDir, judge, judgeLog, token, nodes, close: cleanup };
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}

function clusterNode(
  n: Pick<ClusterNode, 'node' | 'configPath' | 'stateDir' | 'logDir' | 'apiPort' | 'certPem' | 'pctPath'>,
  prefix?: string[],
): ClusterNode {
  const procs: DaemonProcess[] = [];
  const current = () => procs.at(-1);
  const running = () => {
    const c = current()?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  };
  return {
    ...n,
    log: () => procs.flatMap((p) => p.log),
    cli: (...argv) => runCli(['--config', n.configPath, ...argv]),
    running,
    async start() {
      if (running()) return;
      const proc = await DaemonProcess.start(n.configPath, prefix ? { prefix } : {});
      procs.push(proc);
      if (!running()) {
        throw new Error(`the daemon of ${n.node} exited while starting:\n${proc.log.join('\n')}`);
      }
    },
    async kill(signal = 'SIGKILL') {
      const proc = current();
      if (!proc || !running()) return;
      proc.signal(signal);
      await proc.exited;
    },
    async stop() {
      if (running()) await current()!.stop();
    },
  };
}
