/**
 * `npm run test:faults [-- --points N] [--seed S]`: kill -9 of the daemon at random points of a
 * multi-guest run on real Debian guests, a restart, and the invariants (invariants.ts) once its
 * recovery has run; then faults without a kill: a PVE 500 and a hang on each kind of API call the
 * product makes (taken from a clean run's requests), the guest's disk filling during the upgrade,
 * and a failing postinst. Prints the counts; exits 1 on any invariant violation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DaemonProcess } from '../e2e/daemon-process.js';
import { type Env, readRuns, startEnv } from '../e2e/harness.js';
import { checkInvariants } from './invariants.js';

const GUESTS = [801, 802, 803];
const BUNDLE = new URL('../../dist/pvepatch.mjs', import.meta.url).pathname;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** mulberry32: the kill points are random but reproducible from the seed printed at the start. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Counts {
  killPoints: number;
  faults: number;
  violations: number;
}

class Faults {
  daemon: DaemonProcess | undefined;
  readonly counts: Counts = { killPoints: 0, faults: 0, violations: 0 };
  constructor(readonly env: Env) {}

  async startDaemon(): Promise<void> {
    this.daemon = await DaemonProcess.start(this.env.configPath, existsSync(BUNDLE) ? { bundle: BUNDLE } : {});
  }

  async stopDaemon(): Promise<void> {
    await this.daemon?.stop();
    this.daemon = undefined;
  }

  /** Every guest back to 1.0 (lab-level restore of the baseline; no API call), hooks and mounts gone. */
  async resetGuests(): Promise<void> {
    this.env.sim.clearInjections();
    for (const vmid of GUESTS) await this.env.lab.snapshotBackend.rollback(vmid, 'faultbase');
  }

  /** Waits until the daemon has written every run's end, released every hold and settled every snapshot record. */
  async recovered(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = JSON.parse(readFileSync(`${this.env.stateDir}/state.json`, 'utf8'));
      const open = state.snapshots.filter((s: { state: string }) =>
        ['intended', 'requested', 'deleting'].includes(s.state),
      );
      const running = readRuns(this.env).filter((r) => r.state === 'running');
      if (state.pending_holds.length === 0 && open.length === 0 && running.length === 0) return;
      if (Date.now() > deadline) return; // the invariants will name what is left
      await sleep(200);
    }
  }

  /** In-guest apt/dpkg left running by a killed daemon finish on their own; wait for them. */
  async guestsQuiet(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const vmid of GUESTS) {
      while (Date.now() < deadline && (await this.busy(vmid))) await sleep(200);
    }
  }

  /** Whether apt or dpkg still runs in the guest (minbase has no procps: read /proc). */
  private async busy(vmid: number): Promise<boolean> {
    const res = await this.env.lab.exec(vmid, ['sh', '-c', 'cat /proc/[0-9]*/comm 2>/dev/null']);
    return res.stdout.split('\n').some((c) => ['apt-get', 'dpkg', 'apt-mark', 'http', 'file'].includes(c.trim()));
  }

  async check(what: string): Promise<void> {
    const problems = await checkInvariants(this.env, GUESTS);
    this.counts.violations += problems.length;
    const mark = problems.length === 0 ? 'ok' : `${problems.length} VIOLATION(S)`;
    console.log(`  ${what}: ${mark}${problems.map((p) => `\n    - ${p}`).join('')}`);
  }
}

async function runAll(env: Env, args: string[]): Promise<number> {
  const r = await env.cli('run', ...GUESTS.map(String), ...args);
  return r.code;
}

async function killPoints(f: Faults, points: number, random: () => number): Promise<void> {
  await f.resetGuests();
  await f.startDaemon();
  const t0 = Date.now();
  await runAll(f.env, ['--exclude', 'demo-tool']);
  const cleanMs = Date.now() - t0;
  await f.check(`clean run (${cleanMs} ms)`);
  await f.stopDaemon();
  for (let i = 1; i <= points; i++) {
    await f.resetGuests();
    await f.startDaemon();
    const at = Math.floor(random() * cleanMs * 1.1);
    const run = runAll(f.env, random() < 0.5 ? ['--exclude', 'demo-tool'] : []);
    await sleep(at);
    f.daemon!.signal('SIGKILL');
    await f.daemon!.exited;
    await run.catch(() => {});
    f.counts.killPoints++;
    await f.guestsQuiet();
    await f.startDaemon();
    await f.recovered();
    await f.check(`kill -9 at ${at} ms (${i}/${points})`);
    await f.stopDaemon();
  }
}

/** The kinds of API call a clean run makes, as path patterns (ids, names and UPIDs folded). */
function apiCalls(env: Env): { method: string; path: RegExp; label: string }[] {
  const seen = new Map<string, { method: string; path: RegExp; label: string }>();
  for (const r of env.sim.requests) {
    const label = `${r.method} ${r.path
      .replace(/UPID:[^/]+/g, '{upid}')
      .replace(/\/\d+(?=\/|$)/g, '/{vmid}')
      .replace(/pvepatch-\d{8}-\d{6}/g, '{snapname}')}`;
    if (seen.has(label)) continue;
    const source = `^${label
      .slice(label.indexOf(' ') + 1)
      .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace('{upid}', 'UPID:[^/]+')
      .replaceAll('{vmid}', '\\d+')
      .replace('{snapname}', 'pvepatch-[0-9-]+')}$`;
    seen.set(label, { method: r.method, path: new RegExp(source), label });
  }
  return [...seen.values()];
}

async function apiFaults(f: Faults): Promise<void> {
  const calls = apiCalls(f.env);
  console.log(`  API calls of a run: ${calls.map((c) => c.label).join(', ')}`);
  for (const call of calls) {
    for (const kind of ['500', 'hang'] as const) {
      await f.resetGuests();
      await f.startDaemon();
      f.env.sim.inject({
        method: call.method,
        path: call.path,
        times: 1,
        ...(kind === '500' ? { status: 500, message: 'injected fault' } : { delayMs: 8000 }),
      });
      await runAll(f.env, ['--exclude', 'demo-tool']);
      f.counts.faults++;
      await f.recovered();
      await f.check(`${kind} on ${call.label}`);
      await f.stopDaemon();
    }
  }
}

async function guestFaults(f: Faults): Promise<void> {
  await f.resetGuests();
  await f.startDaemon();
  // the disk under demo-tool's files fills up while dpkg unpacks it
  await f.env.lab.execOk(801, ['mount', '-t', 'tmpfs', '-o', 'size=16k', 'pvepatch-full', '/usr/share/demo-tool']);
  await f.env.lab
    .execOk(801, ['dd', 'if=/dev/zero', 'of=/usr/share/demo-tool/fill', 'bs=4k', 'count=4'])
    .catch(() => {});
  // and demo-app's postinst fails in another guest
  await f.env.lab.writeGuestFile(
    802,
    '/etc/demo-hook',
    '#!/bin/sh\necho "demo-app postinst: injected failure" >&2\nexit 1\n',
    0o755,
  );
  const code = await runAll(f.env, ['--exclude', 'demo-lib']);
  f.counts.faults += 2;
  await f.recovered();
  console.log(`  disk full in 801 and a failing postinst in 802: pvepatch exit ${code}`);
  await f.check('disk full during the upgrade, failing postinst');
  await f.env.lab.exec(801, ['umount', '/usr/share/demo-tool']);
  await f.stopDaemon();
}

const points = arg('points', 30);
const seed = arg('seed', Date.now() % 1_000_000);
console.log(`test:faults - ${points} kill points, seed ${seed} (repeat with --seed ${seed})`);
const env = await startEnv({
  guests: GUESTS.map((vmid) => ({ vmid })),
  daemonProcess: true,
  ...(existsSync(BUNDLE) ? { bundle: BUNDLE } : {}),
  config: { concurrency: '2', stop_timeout: '10', recovery_retry: '1', snapshot_keep: '2', api_timeout: '3' },
});
await env.proc!.stop();
for (const vmid of GUESTS) await env.lab.snapshotBackend.create(vmid, 'faultbase');
const f = new Faults(env);
try {
  await killPoints(f, points, prng(seed));
  await apiFaults(f);
  await guestFaults(f);
} finally {
  await f.stopDaemon();
  await env.close();
}
const runs = f.counts;
console.log(
  `\ntest:faults: kill points tried: ${runs.killPoints}, faults injected: ${runs.faults}, invariant violations: ${runs.violations}`,
);
process.exit(runs.violations === 0 ? 0 : 1);
