import { withEnv } from '../env-argv.js';

/**
 * `pct exec <vmid> --keep-env 0 -- [env K=V…] argv…`: a clean environment inside the container
 * (pct's default still keeps the caller's); variables the driver needs go through env(1) in argv.
 */
export function pctExecArgv(
  pct: string,
  vmid: number,
  argv: readonly string[],
  env?: Record<string, string>,
): string[] {
  return [pct, 'exec', String(vmid), '--keep-env', '0', '--', ...withEnv(argv, env)];
}
