import { PvepatchError } from '../../daemon/core/errors.js';
import { type ExecResult, execArgv, MINIMAL_ENV } from '../../daemon/core/exec.js';
import type { Transport, TransportExecOptions } from '../../daemon/transports/types.js';

/**
 * Test-only transport whose "guest" is this host: each argv runs as a real process through
 * `/usr/bin/env --`, so a program that is not there exits 127 as it would in a guest, rather than
 * failing to spawn. `path` is the guest's PATH. Records every argv.
 */
export class LocalTransport implements Transport {
  readonly name = 'local';
  readonly calls: string[][] = [];
  private readonly path: string;

  constructor(path = MINIMAL_ENV.PATH!) {
    this.path = path;
  }

  async exec(argv: readonly string[], opts: TransportExecOptions = {}): Promise<ExecResult> {
    this.calls.push([...argv]);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const res = await execArgv(['/usr/bin/env', '--', ...argv], {
      timeoutMs,
      env: { PATH: this.path, LC_ALL: 'C' },
      ...(opts.maxOutputBytes !== undefined ? { maxOutputBytes: opts.maxOutputBytes } : {}),
      ...(opts.overflow !== undefined ? { overflow: opts.overflow } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    if (res.timedOut) {
      throw new PvepatchError('timeout', `unable to run '${argv[0]}' in the guest - no exit after ${timeoutMs} ms`);
    }
    return res;
  }
}
