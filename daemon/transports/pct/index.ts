import { PvepatchError, UnreachableError } from '../../core/errors.js';
import { commandName, type ExecResult, execArgv, spawnLive } from '../../core/exec.js';
import { ShellSession } from '../../drivers/shared/shell-session.js';
import { localExecOptions } from '../exec-options.js';
import type { GuestRef, Transport, TransportDef, TransportExecOptions } from '../types.js';
import { pctExecArgv } from './commands.js';

export interface PctOptions {
  /** Path of the pct binary (default /usr/sbin/pct). */
  pctPath: string;
  /** Name of the node this daemon runs on; only containers there can be entered. */
  localNode: string;
  defaultTimeoutMs: number;
}

/** pct's own refusals (exit 255) when it cannot enter the container at all. */
const PCT_REFUSALS = [
  'not running',
  'does not exist',
  'Parameter verification failed',
  'lxc-attach',
  'Failed to get init pid',
];

/** `pct exec <vmid> --keep-env 0 -- argv` on the local node. */
export class PctTransport implements Transport {
  readonly name = 'pct';
  private readonly guest: GuestRef;
  private readonly opts: PctOptions;

  constructor(guest: GuestRef, opts: PctOptions) {
    this.guest = guest;
    this.opts = opts;
  }

  async exec(argv: readonly string[], o: TransportExecOptions = {}) {
    const { guest, opts } = this;
    this.assertLocal();
    const timeoutMs = o.timeoutMs ?? opts.defaultTimeoutMs;
    const full = pctExecArgv(opts.pctPath, guest.vmid, argv, o.env);
    const res = await execArgv(full, localExecOptions(o, timeoutMs));
    if (res.timedOut) throw this.timeoutError(argv, timeoutMs);
    const reason = unreachableReason(res.exitCode, res.stderr);
    if (reason) throw new UnreachableError(`unable to enter CT ${guest.vmid} - ${reason}`);
    return res;
  }

  /** `pct exec <vmid> --keep-env 0 -- /bin/sh -s`: one entry into the container for many commands. */
  openSession(): ShellSession {
    this.assertLocal();
    const argv = pctExecArgv(this.opts.pctPath, this.guest.vmid, ['/bin/sh', '-s']);
    return new ShellSession((onData) => spawnLive(argv, onData, { lingerMs: 200 }), {
      timedOut: (cmd, ms) => this.timeoutError(cmd, ms),
      endedEarly: (cmd, res) => this.endedEarly(cmd, res),
    });
  }

  private timeoutError(argv: readonly string[], timeoutMs: number): PvepatchError {
    return new PvepatchError(
      'timeout',
      `unable to run '${commandName(argv)}' in CT ${this.guest.vmid} - no exit after ${Math.ceil(timeoutMs / 1000)}s`,
    );
  }

  /** The shell ended before the command's end marker: pct could not enter, or the container went away. */
  private endedEarly(argv: readonly string[], res: ExecResult): UnreachableError {
    const { vmid } = this.guest;
    const reason = unreachableReason(res.exitCode, res.stderr);
    if (reason) return new UnreachableError(`unable to enter CT ${vmid} - ${reason}`);
    const how = res.exitCode === null ? `signal ${res.signal}` : `exit code ${res.exitCode}`;
    return new UnreachableError(
      `unable to finish '${commandName(argv)}' in CT ${vmid} - the guest shell ended first (${how}); is the container still running?`,
    );
  }

  private assertLocal(): void {
    const { guest, opts } = this;
    if (guest.type !== 'lxc')
      throw new PvepatchError('internal', `pct transport cannot enter ${guest.type} ${guest.vmid}`);
    if (guest.node !== opts.localNode) {
      throw new UnreachableError(
        `unable to enter CT ${guest.vmid} - it runs on node '${guest.node}', this daemon on '${opts.localNode}'; run pvepatch on that node`,
      );
    }
  }
}

/**
 * pct fails with 255 and a short message of its own before the command starts; a long stderr is
 * the guest's, and the guest does not get to say that it is unreachable.
 */
export function unreachableReason(code: number | null, stderr: string): string | undefined {
  if (code !== 255 || stderr.length > 4096) return undefined;
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => PCT_REFUSALS.some((r) => l.includes(r)));
}

/** Containers on this node, entered with the node's own `pct`. */
export const pct: TransportDef = {
  name: 'pct',
  types: ['lxc'],
  refuses: (g, env) =>
    g.node === env.node ? null : `CT runs on node '${g.node}'; pct reaches only this node ('${env.node}')`,
  create: (g, env) =>
    new PctTransport(g, {
      pctPath: env.config.pct,
      localNode: env.node,
      defaultTimeoutMs: env.config.exec_timeout * 1000,
    }),
};
