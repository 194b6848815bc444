import { join } from 'node:path';
import { PvepatchError, UnreachableError } from '../../core/errors.js';
import {
  commandName,
  type ExecResult,
  execArgv,
  type LiveProcess,
  type OutputStream,
  spawnLive,
} from '../../core/exec.js';
import { ShellSession } from '../../drivers/shared/shell-session.js';
import type { ProxmoxClient } from '../../proxmox/client.js';
import { localExecOptions } from '../exec-options.js';
import { pctExecArgv } from '../pct/commands.js';
import { unreachableReason } from '../pct/index.js';
import type { GuestRef, Transport, TransportDef, TransportExecOptions } from '../types.js';
import { type ClusterSshTarget, clusterSshArgv, remoteCommandLine } from './command.js';
import { sshFailure } from './errors.js';
import { nodeAddress } from './node-address.js';

export { clusterSshArgv, remoteCommandLine } from './command.js';

export interface ClusterSshOptions {
  /** The pct on the other node (`cluster_ssh_pct`). */
  pctPath: string;
  /** The node this daemon runs on (a container here is pct's, not this transport's). */
  localNode: string;
  /** `<cluster_dir>/priv/known_hosts`. */
  knownHostsPath: string;
  /** Resolves the guest's node to its cluster address. */
  address: (node: string) => Promise<string>;
  defaultTimeoutMs: number;
  /** TCP connect and SSH handshake, in seconds; default 10. */
  connectTimeout?: number;
}

/**
 * A container on another node whose pvepatch daemon is not running, entered from here as PVE's
 * own migrations reach another node: `ssh … root@<node ip> -- '<pct>' 'exec' '<vmid>' '--keep-env'
 * '0' '--' argv…` with the cluster's root key and known hosts. One ssh process per command (and
 * one per session); nothing stays open between them.
 */
export class ClusterSshTransport implements Transport {
  readonly name = 'cluster-ssh';
  private readonly guest: GuestRef;
  private readonly opts: ClusterSshOptions;

  constructor(guest: GuestRef, opts: ClusterSshOptions) {
    this.guest = guest;
    this.opts = opts;
  }

  async exec(argv: readonly string[], o: TransportExecOptions = {}): Promise<ExecResult> {
    this.assertRemote();
    const timeoutMs = o.timeoutMs ?? this.opts.defaultTimeoutMs;
    const target = await this.target();
    const full = clusterSshArgv(target, this.remote(argv, o.env));
    const res = await execArgv(full, localExecOptions(o, timeoutMs));
    if (res.timedOut) throw this.timeoutError(argv, timeoutMs);
    const refused = this.refusal(target, res);
    if (refused) throw refused;
    return res;
  }

  /** `ssh … -- '<pct>' 'exec' '<vmid>' … '/bin/sh' '-s'`: one connection and one entry for a whole stage. */
  openSession(): ShellSession {
    this.assertRemote();
    const target = this.target();
    const argv = target.then((t) => clusterSshArgv(t, this.remote(['/bin/sh', '-s'])));
    let resolved: ClusterSshTarget | undefined;
    target.then(
      (t) => {
        resolved = t;
      },
      () => {},
    );
    return new ShellSession((onData) => deferredSpawn(argv, onData), {
      timedOut: (cmd, ms) => this.timeoutError(cmd, ms),
      endedEarly: (cmd, res) => this.endedEarly(cmd, res, resolved),
    });
  }

  private remote(argv: readonly string[], env?: Record<string, string>): string {
    return remoteCommandLine(pctExecArgv(this.opts.pctPath, this.guest.vmid, argv, env));
  }

  private async target(): Promise<ClusterSshTarget> {
    const { node } = this.guest;
    return {
      node,
      ip: await this.opts.address(node),
      knownHosts: this.opts.knownHostsPath,
      connectTimeout: this.opts.connectTimeout ?? 10,
    };
  }

  /** ssh's own failure to connect, pct's refusal to enter, or a missing pct on the other node. */
  private refusal(t: ClusterSshTarget, res: ExecResult): UnreachableError | undefined {
    const { vmid, node } = this.guest;
    const ssh = sshFailure(res.exitCode, res.stderr, { node, ip: t.ip, knownHosts: t.knownHosts });
    if (ssh) return ssh;
    const reason = unreachableReason(res.exitCode, res.stderr);
    if (reason) return new UnreachableError(`unable to enter CT ${vmid} on node '${node}' - ${reason}`);
    const pct = this.opts.pctPath;
    if (
      res.exitCode === 127 &&
      res.stderr.length <= 4096 &&
      res.stderr.split('\n').some((l) => l.includes(`${pct}: not found`) || l.includes(`${pct}: No such file`))
    ) {
      return new UnreachableError(
        `unable to enter CT ${vmid} on node '${node}' - there is no ${pct} on that node; set cluster_ssh_pct to its pct`,
      );
    }
    return undefined;
  }

  private timeoutError(argv: readonly string[], timeoutMs: number): PvepatchError {
    return new PvepatchError(
      'timeout',
      `unable to run '${commandName(argv)}' in CT ${this.guest.vmid} on node '${this.guest.node}' over the cluster's SSH - no exit after ${Math.ceil(timeoutMs / 1000)}s`,
    );
  }

  /** The session ended before the command's end marker: ssh could not connect, pct could not enter, or the CT went away. */
  private endedEarly(argv: readonly string[], res: ExecResult, t: ClusterSshTarget | undefined): UnreachableError {
    const { vmid, node } = this.guest;
    const refused = t ? this.refusal(t, res) : undefined;
    if (refused) return refused;
    const how = res.exitCode === null ? `signal ${res.signal}` : `exit code ${res.exitCode}`;
    return new UnreachableError(
      `unable to finish '${commandName(argv)}' in CT ${vmid} on node '${node}' - the shell over the cluster's SSH ended first (${how}); is the node up and the container still running?`,
    );
  }

  private assertRemote(): void {
    const { guest, opts } = this;
    if (guest.type !== 'lxc')
      throw new PvepatchError('internal', `cluster-ssh transport cannot enter ${guest.type} ${guest.vmid}`);
    if (guest.node === opts.localNode)
      throw new PvepatchError('internal', `cluster-ssh transport is for other nodes; CT ${guest.vmid} runs here`);
  }
}

/**
 * A LiveProcess whose argv is still being worked out (the node's address): writes wait for it, a
 * kill before the start is a kill at the start, and a failed lookup is `exited`'s rejection.
 */
function deferredSpawn(argv: Promise<string[]>, onData: (stream: OutputStream, chunk: Buffer) => void): LiveProcess {
  let proc: LiveProcess | undefined;
  let pending: string[] = [];
  let ended = false;
  let killed = false;
  const exited = argv.then((a) => {
    proc = spawnLive(a, onData, { lingerMs: 200 });
    for (const text of pending) proc.write(text);
    pending = [];
    if (killed) proc.kill();
    else if (ended) proc.end();
    return proc.exited;
  });
  exited.catch(() => {});
  return {
    write: (text) => {
      if (proc) proc.write(text);
      else pending.push(text);
    },
    end: () => {
      ended = true;
      proc?.end();
    },
    kill: () => {
      killed = true;
      proc?.kill();
    },
    exited,
  };
}

/** What `create` needs besides the guest; the address lookup is the API's, cached per client. */
function addressFrom(client: ProxmoxClient): (node: string) => Promise<string> {
  return (node) => nodeAddress(client, node);
}

/**
 * Containers on another node whose pvepatch daemon is not running, reached through the cluster's
 * SSH; only when `cluster_ssh` is on.
 */
export const clusterSsh: TransportDef = {
  name: 'cluster-ssh',
  types: ['lxc'],
  refuses: (g, env) => {
    if (!env.config.cluster_ssh)
      return `cluster_ssh is off: containers on another node ('${g.node}') are patched by that node's pvepatch daemon`;
    if (g.node === env.node) return `CT runs on this node ('${env.node}'); it is reached with pct`;
    return null;
  },
  create: (g, env) =>
    new ClusterSshTransport(g, {
      pctPath: env.config.cluster_ssh_pct,
      localNode: env.node,
      knownHostsPath: join(env.config.cluster_dir, 'priv', 'known_hosts'),
      address: addressFrom(env.client),
      defaultTimeoutMs: env.config.exec_timeout * 1000,
    }),
};
