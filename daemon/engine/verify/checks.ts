/**
 * The admin's checks (policy `check` lines) after a patch or a reboot. `service` and `command`
 * run in the guest through GuestExec (argv only, no shell); `tcp` and `http` go from the host to
 * the guest's address. Each check is bounded by the check timeout; whatever goes wrong becomes a
 * result — only a programming error (anything that is not a PvepatchError) is thrown.
 */

import { errorMessage, isPvepatchError } from '../../core/errors.js';
import { escapeControls } from '../../core/escape.js';
import type { GuestExec } from '../../drivers/shared/guest-exec.js';
import { formatCheck } from '../../policy/checks.js';
import type { Check } from '../../policy/types.js';
import { serviceActiveCommand } from './commands.js';
import { httpProbe, type ProbeResult, tcpProbe } from './host-probes.js';
import { firstLine, systemdAbsence } from './parse.js';

/**
 * `pass`: the check held. `fail`: it ran and said no (inactive unit, non-zero exit, refused
 * connection, wrong status, no answer in time). `error`: it could not be made (no systemd, no
 * address for a host-side check, the guest unreachable).
 */
export type CheckOutcome = 'pass' | 'fail' | 'error';

export interface CheckResult {
  /** The check as written in the policy (escaped). */
  check: string;
  ok: boolean;
  outcome: CheckOutcome;
  /** What was seen, guest text escaped. */
  detail: string;
  ms: number;
}

export interface RunChecksOptions {
  /** The guest's address for tcp/http checks (policy `address`, or what the caller found). */
  address?: string | undefined;
  /** Per check. */
  timeoutMs: number;
}

/** Runs the checks one after another, in order; never rejects for a failing or impossible check. */
export async function runChecks(
  exec: GuestExec,
  checks: readonly Check[],
  opts: RunChecksOptions,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runCheck(exec, check, opts));
  return results;
}

export async function runCheck(exec: GuestExec, check: Check, opts: RunChecksOptions): Promise<CheckResult> {
  const started = Date.now();
  let r: { outcome: CheckOutcome; detail: string };
  try {
    r = await attempt(exec, check, opts);
  } catch (err) {
    if (!isPvepatchError(err)) throw err;
    const outcome = err.code === 'timeout' ? 'fail' : 'error';
    r = { outcome, detail: escapeControls(errorMessage(err)) };
  }
  return { check: formatCheck(check), ok: r.outcome === 'pass', ...r, ms: Date.now() - started };
}

function attempt(
  exec: GuestExec,
  check: Check,
  opts: RunChecksOptions,
): Promise<{ outcome: CheckOutcome; detail: string }> {
  switch (check.kind) {
    case 'service':
      return serviceCheck(exec, check.unit, opts.timeoutMs);
    case 'command':
      return commandCheck(exec, check.argv, opts.timeoutMs);
    case 'tcp':
      return hostCheck(opts.address, (a) => tcpProbe(a, check.port, opts.timeoutMs));
    case 'http':
      return hostCheck(opts.address, (a) => httpProbe(a, check.port, check.path, check.status, opts.timeoutMs));
  }
}

async function serviceCheck(exec: GuestExec, unit: string, timeoutMs: number) {
  const res = await exec.run(serviceActiveCommand(unit), { timeoutMs });
  const state = firstLine(res.stdout, 64);
  if (res.exitCode === 0 && state === 'active') return { outcome: 'pass' as const, detail: 'active' };
  const absent = systemdAbsence(res);
  if (absent) return { outcome: 'error' as const, detail: `not available - ${absent}` };
  const said = state || firstLine(res.stderr) || 'no answer';
  return { outcome: 'fail' as const, detail: `${said} (exit ${res.exitCode ?? res.signal})` };
}

async function commandCheck(exec: GuestExec, argv: readonly string[], timeoutMs: number) {
  const res = await exec.run(argv, { timeoutMs });
  if (res.exitCode === 0) return { outcome: 'pass' as const, detail: 'exit 0' };
  const how = res.exitCode === null ? `stopped by ${res.signal ?? 'a signal'}` : `exit ${res.exitCode}`;
  const said = firstLine(res.stderr) || firstLine(res.stdout);
  return { outcome: 'fail' as const, detail: said ? `${how}: ${said}` : how };
}

async function hostCheck(address: string | undefined, probe: (address: string) => Promise<ProbeResult>) {
  if (!address) {
    return {
      outcome: 'error' as const,
      detail: "not available - the guest's address is unknown; set 'address' in the policy",
    };
  }
  const r = await probe(address);
  return { outcome: r.ok ? ('pass' as const) : ('fail' as const), detail: r.detail };
}
