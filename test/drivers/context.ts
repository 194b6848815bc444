import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import type { Transport } from '../../daemon/transports/types.js';

/** A driver context over a (fake or lab) transport, through the production exec layer. */
export function driverContext(
  transport: Transport,
  opts: { lockTimeoutMs?: number; log?: (text: string) => void } = {},
): DriverContext {
  return {
    exec: new GuestExec(transport, { log: opts.log, output: opts.log }),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: opts.lockTimeoutMs }),
  };
}
