import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { guestPaths, parseMountPoints } from './lab-guest.js';

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
