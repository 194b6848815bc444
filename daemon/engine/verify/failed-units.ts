/**
 * The guest's failed systemd units, read before and after a patch so that only the units the
 * patch broke are blamed on it. A guest without systemd answers `available: false` with the
 * reason — never an empty list that would read as "nothing failed".
 */
import { escapeControls } from '../../core/escape.js';
import type { ExecResult } from '../../core/exec.js';
import type { GuestExec } from '../../drivers/shared/guest-exec.js';
import { failedUnitsCommand } from './commands.js';
import { firstLine, scanFailedUnits, systemdAbsence } from './parse.js';

export type FailedUnits =
  | { available: true; units: string[]; truncated: boolean }
  | { available: false; reason: string };

export const FAILED_UNITS_TIMEOUT_MS = 30_000;

/**
 * Runs `systemctl list-units --failed …` in the guest. Throws only what the transport throws
 * (the guest is unreachable, the command overran its time or its output cap).
 */
export async function readFailedUnits(exec: GuestExec, opts: { timeoutMs?: number } = {}): Promise<FailedUnits> {
  const res = await exec.run(failedUnitsCommand(), { timeoutMs: opts.timeoutMs ?? FAILED_UNITS_TIMEOUT_MS });
  return interpretFailedUnits(res);
}

/** What one `systemctl list-units --failed` run says (see readFailedUnits). */
export function interpretFailedUnits(res: ExecResult): FailedUnits {
  const absent = systemdAbsence(res);
  if (absent) return { available: false, reason: absent };
  if (res.exitCode !== 0) {
    const how = res.exitCode === null ? `was stopped (${res.signal ?? 'killed'})` : `exited ${res.exitCode}`;
    const said = firstLine(res.stderr);
    return { available: false, reason: `systemctl list-units ${how}${said ? ` (${said})` : ''}` };
  }
  return { available: true, ...scanFailedUnits(res.stdout) };
}

/** `2 failed: a.service, b.service` / `none failed` / the reason, for logs and reports. */
export function describeFailedUnits(f: FailedUnits): string {
  if (!f.available) return `failed units unknown - ${f.reason}`;
  if (f.units.length === 0) return 'no failed units';
  const more = f.truncated ? ' (list cut)' : '';
  return `${f.units.length} failed${more}: ${f.units.map(escapeControls).join(', ')}`;
}
