import { PvepatchError, UnreachableError } from '../../core/errors.js';
import { commandName, execArgv } from '../../core/exec.js';
import type { GuestRef, Transport, TransportExecOptions } from '../types.js';
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
    if (guest.type !== 'lxc')
      throw new PvepatchError('internal', `pct transport cannot enter ${guest.type} ${guest.vmid}`);
    if (guest.node !== opts.localNode) {
      throw new UnreachableError(
        `unable to enter CT ${guest.vmid} - it runs on node '${guest.node}', this daemon on '${opts.localNode}'; run pvepatch on that node`,
      );
    }
    const timeoutMs = o.timeoutMs ?? opts.defaultTimeoutMs;
    const full = pctExecArgv(opts.pctPath, guest.vmid, argv, o.env);
    const res = await execArgv(full, {
      timeoutMs,
      ...(o.input !== undefined ? { input: o.input } : {}),
      ...(o.onOutput ? { onOutput: o.onOutput } : {}),
      ...(o.maxOutputBytes !== undefined ? { maxOutputBytes: o.maxOutputBytes } : {}),
      ...(o.overflow ? { overflow: o.overflow } : {}),
    });
    if (res.timedOut) {
      throw new PvepatchError(
        'timeout',
        `unable to run '${commandName(argv)}' in CT ${guest.vmid} - no exit after ${Math.ceil(timeoutMs / 1000)}s`,
      );
    }
    const reason = unreachableReason(res.exitCode, res.stderr);
    if (reason) throw new UnreachableError(`unable to enter CT ${guest.vmid} - ${reason}`);
    return res;
  }
}

/**
 * pct fails with 255 and a short message of its own before the command starts; a long stderr is
 * the guest's, and the guest does not get to say that it is unreachable.
 */
function unreachableReason(code: number | null, stderr: string): string | undefined {
  if (code !== 255 || stderr.length > 4096) return undefined;
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => PCT_REFUSALS.some((r) => l.includes(r)));
}
