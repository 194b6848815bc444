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
  const envArgs =
    env && Object.keys(env).length > 0 ? ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : [];
  return [pct, 'exec', String(vmid), '--keep-env', '0', '--', ...envArgs, ...argv];
}
