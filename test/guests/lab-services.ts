/**
 * Services in lab guests: a small, honest STAND-IN for systemd, which lab guests do not run (their
 * pid 1 is the shim's perl reaper). `installLabServices` writes into a running guest:
 *
 * - `/usr/local/bin/systemctl` (lab-services/systemctl.pl, perl-base only): start, stop, restart,
 *   enable, disable, is-active, is-enabled, is-failed and `list-units --failed --plain --no-legend`,
 *   with systemd 252's output shapes and exit codes for those;
 * - `/usr/local/lib/lab-units/<name>.service`: `Description=`, a human `ExecStart=` line and one
 *   `X-Lab-Argv=` line per argv element (what the stand-in runs, no shell involved);
 * - `/usr/local/lib/lab-units/boot` (lab-services/boot.sh): the pct shim's guest init runs it in the
 *   background at every start, and it starts the enabled units.
 *
 * State lives in /run/lab-units/ (emptied at every start, like a tmpfs /run); enablement is the
 * systemd link in /etc/systemd/system/multi-user.target.wants/. /run/systemd/system is never
 * created, so Debian maintainer scripts do not think systemd runs and never call the stand-in.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

export const LAB_UNIT_DIR = '/usr/local/lib/lab-units';
export const LAB_SYSTEMCTL = '/usr/local/bin/systemctl';

export type LabUnitState = 'active' | 'inactive' | 'failed';

export interface LabUnit {
  /** Unit name without `.service`. */
  name: string;
  /** argv the unit runs (ExecStart); argv[0] is a path or a name looked up in the guest's PATH. */
  exec: string[];
  /** Enabled units start at every guest start; default false. */
  enabled?: boolean;
  description?: string;
  /** Start it now, as a package's postinst does; default: when enabled. */
  start?: boolean;
}

const UNIT_NAME = /^[A-Za-z0-9:_.@-]{1,200}$/;
const script = (name: string) => fileURLToPath(new URL(`./lab-services/${name}`, import.meta.url));

/** Writes the stand-in, the boot hook and the units into a running guest, then enables/starts them. */
export async function installLabServices(lab: Lab, vmid: number, units: readonly LabUnit[]): Promise<void> {
  for (const u of units) validateUnit(u);
  await lab.execOk(vmid, ['mkdir', '-p', LAB_UNIT_DIR, '/usr/local/bin']);
  await lab.writeGuestFile(vmid, LAB_SYSTEMCTL, await readFile(script('systemctl.pl'), 'utf8'), 0o755);
  await lab.writeGuestFile(vmid, `${LAB_UNIT_DIR}/boot`, await readFile(script('boot.sh'), 'utf8'), 0o755);
  for (const u of units) {
    await lab.writeGuestFile(vmid, `${LAB_UNIT_DIR}/${u.name}.service`, unitFile(u));
    await lab.execOk(vmid, [LAB_SYSTEMCTL, u.enabled ? 'enable' : 'disable', u.name]);
    if (u.start ?? u.enabled) await lab.execOk(vmid, [LAB_SYSTEMCTL, 'start', u.name]);
  }
}

/** The unit's state as `systemctl is-active` prints it. */
export async function labUnitState(lab: Lab, vmid: number, name: string): Promise<LabUnitState> {
  const res = await lab.exec(vmid, [LAB_SYSTEMCTL, 'is-active', name]);
  const state = res.stdout.trim();
  if (state === 'active' || state === 'inactive' || state === 'failed') return state;
  throw new Error(`guest ${vmid}: systemctl is-active ${name} printed '${state}' (exit ${res.exitCode})`);
}

/**
 * Polls until the unit reaches `state`: a unit's start is asynchronous (a process that fails
 * becomes `failed` only after it ended) and so is the boot hook after a guest start.
 */
export async function waitForLabUnit(
  lab: Lab,
  vmid: number,
  name: string,
  state: LabUnitState,
  timeoutMs = 10_000,
): Promise<void> {
  let last: LabUnitState | 'unknown' = 'unknown';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    if ((await lab.status(vmid)) === 'running') last = await labUnitState(lab, vmid, name);
    if (last === state) return;
  }
  throw new Error(`guest ${vmid}: unit ${name} is ${last}, not ${state}, after ${timeoutMs} ms`);
}

function validateUnit(u: LabUnit): void {
  if (!UNIT_NAME.test(u.name) || u.name.endsWith('.service')) throw new Error(`invalid lab unit name '${u.name}'`);
  if (u.exec.length === 0) throw new Error(`lab unit ${u.name}: empty exec`);
  for (const text of [...u.exec, u.description ?? '']) {
    if (/[\n\r\0]/.test(text)) throw new Error(`lab unit ${u.name}: newline or NUL in '${text}'`);
  }
}

function unitFile(u: LabUnit): string {
  const lines = [
    '# pvepatch lab unit (read by the lab systemctl stand-in, not by systemd)',
    '[Unit]',
    `Description=${u.description ?? u.name}`,
    '',
    '[Service]',
    `ExecStart=${u.exec.join(' ')}`,
    ...u.exec.map((arg) => `X-Lab-Argv=${arg}`),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return `${lines.join('\n')}\n`;
}
