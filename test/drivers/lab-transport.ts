import { PvepatchError, UnreachableError } from '../../daemon/core/errors.js';
import { type ExecResult, execArgv } from '../../daemon/core/exec.js';
import type { Transport, TransportExecOptions } from '../../daemon/transports/types.js';

/**
 * Test-only transport into a lab guest: `<pct> exec <vmid> --keep-env 0 -- argv`, the argv the
 * production pct transport sends. Records every guest argv so tests can assert them exactly.
 */
export class LabTransport implements Transport {
  readonly name = 'lab-pct';
  readonly calls: string[][] = [];
  private readonly pctPath: string;
  private readonly vmid: number;

  constructor(pctPath: string, vmid: number) {
    this.pctPath = pctPath;
    this.vmid = vmid;
  }

  async exec(argv: readonly string[], opts: TransportExecOptions = {}): Promise<ExecResult> {
    const env = opts.env ? ['env', ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)] : [];
    const full = [this.pctPath, 'exec', String(this.vmid), '--keep-env', '0', '--', ...env, ...argv];
    this.calls.push([...env, ...argv]);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const res = await execArgv(full, {
      timeoutMs,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
    });
    if (res.timedOut)
      throw new PvepatchError('timeout', `unable to run '${argv.join(' ')}' - no exit after ${timeoutMs}ms`);
    if (res.exitCode === 255 && /not running|does not exist|Parameter verification failed/.test(res.stderr)) {
      throw new UnreachableError(`unable to enter CT ${this.vmid} - ${res.stderr.trim()}`);
    }
    return res;
  }
}
