import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { GUEST_CONF_FILES, guestPaths, mountsBelow, parseMountPoints, unmountBelow } from './lab-guest.js';
import { runOk } from './run.js';

/**
 * Last-resort cleanup for a process that exits without Lab.destroy() (a crashed test):
 * synchronous, so it can run in process.on('exit'). Kills guest inits, lazily unmounts
 * everything under dir and removes it; errors are ignored.
 */
export function cleanupLabSync(dir: string, vmids: readonly number[]): void {
  for (const vmid of vmids) {
    try {
      const [pid] = readFileSync(`${guestPaths(dir, vmid).dir}/init.pid`, 'utf8')
        .trim()
        .split(' ');
      if (pid && /^\d+$/.test(pid)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // not running
    }
  }
  try {
    for (const point of parseMountPoints(readFileSync('/proc/self/mountinfo', 'utf8'), dir)) {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

const liveLabs = new Map<string, readonly number[]>();
let exitHookInstalled = false;

/** Remembers a lab for the process 'exit' hook (cleanupLabSync of every lab not destroyed). */
export function trackLab(dir: string, vmids: readonly number[]): void {
  liveLabs.set(dir, vmids);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [d, v] of liveLabs) cleanupLabSync(d, v);
  });
}

export function untrackLab(dir: string): void {
  liveLabs.delete(dir);
}

/**
 * Stops the running guests (VMs too: pctPath is the lab's own entry, `<dir>/bin/lab-pct`), unmounts
 * everything under dir and removes it. Safe to call twice.
 */
export async function destroyLab(dir: string, pctPath: string, vmids: readonly number[]): Promise<void> {
  if (existsSync(pctPath)) {
    for (const vmid of vmids) {
      const guestDir = guestPaths(dir, vmid).dir;
      if (!GUEST_CONF_FILES.some((f) => existsSync(`${guestDir}/${f}`))) continue;
      const status = await runOk([pctPath, 'status', String(vmid)]);
      if (status.stdout.trim() === 'status: running') await runOk([pctPath, 'stop', String(vmid)]);
    }
  }
  await unmountBelow(dir);
  const left = await mountsBelow(dir);
  if (left.length > 0) throw new Error(`unable to destroy lab '${dir}' - still mounted: ${left.join(', ')}`);
  await rm(dir, { recursive: true, force: true });
  untrackLab(dir);
}
