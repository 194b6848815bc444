// `npm run demo`: the main job on a built-in lab — real Debian containers and a VM (a real Debian
// root behind a simulated QEMU guest agent) behind a simulated Proxmox VE API — driven through the
// real daemon and CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Env, startEnv } from '../e2e/harness.js';

const say = (s = '') => process.stdout.write(`${s}\n`);
const NEEDED: [string, string][] = [
  ['mmdebstrap', 'mmdebstrap'],
  ['apt-ftparchive', 'apt-utils'],
  ['dpkg-scanpackages', 'dpkg-dev'],
  ['zstd', 'zstd'],
  ['nsenter', 'util-linux'],
  ['openssl', 'openssl'],
];

function preflight(): boolean {
  if (process.getuid?.() !== 0) {
    say('pvepatch demo needs root: it builds real Debian guest roots, mounts them with overlayfs and enters');
    say('them in their own mount/pid/uts namespaces, the way pct does on a Proxmox host. Run it as root:');
    say('  sudo npm run demo');
    return false;
  }
  const missing = NEEDED.filter(([cmd]) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status !== 0);
  if (missing.length > 0) {
    say(`pvepatch demo needs: ${missing.map(([c]) => c).join(', ')}. Install them with:`);
    say(`  apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`);
    return false;
  }
  return true;
}

async function step(env: Env, title: string, argv: string[]): Promise<number> {
  say(`\n\x1b[1m$ pvepatch ${argv.join(' ')}\x1b[0m    # ${title}`);
  const r = await env.cli(...argv);
  if (r.out) say(r.out);
  if (r.err) say(r.err);
  say(`(exit code ${r.code})`);
  return r.code;
}

/** Asks `agent check` until the VM's agent answers and lets pvepatch run commands (a boot takes a moment). */
async function waitForAgent(env: Env, vmid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const r = await env.cli('--output-format', 'json', 'agent', 'check', String(vmid));
    if (r.code === 0 && (JSON.parse(r.out) as { exec_allowed: boolean }[]).every((x) => x.exec_allowed)) return true;
    await new Promise((res) => setTimeout(res, 200));
  }
  return false;
}

async function demo(): Promise<number> {
  if (!preflight()) return 1;
  say('Building the lab: 3 Debian 12 containers and a Debian 12 VM with a QEMU guest agent (first run builds');
  say('a cached base root, ~40 s), a simulated Proxmox VE API (HTTPS, API token, tasks, locks, snapshots,');
  say('guest agent, reboots) and the pvepatch daemon.');
  // the demo's own (absent, so empty) policy file: never the host's /etc/pvepatch/guests.conf
  const policyDir = mkdtempSync(join(tmpdir(), 'pvepatch-demo-'));
  try {
    return await demoRun(policyDir);
  } finally {
    rmSync(policyDir, { recursive: true, force: true });
  }
}

async function demoRun(policyDir: string): Promise<number> {
  const env = await startEnv({
    config: { policy_file: join(policyDir, 'guests.conf') },
    guests: [101, 102, 103].map((vmid) => ({ vmid, hostname: ['web', 'db', 'cache'][vmid - 101] })),
    vms: [{ vmid: 300 }],
    // the VM's agent answers a moment after each boot, as on a real one
    sim: { agentBootDelayMs: 1000 },
    apiOnlyGuests: [
      { vmid: 104, type: 'lxc', node: 'pve1', name: 'old-ct', status: 'stopped' },
      { vmid: 9000, type: 'lxc', node: 'pve1', name: 'debian-tpl', status: 'stopped', template: true },
    ],
  });
  try {
    await step(env, 'what the cluster has', ['guests']);
    say("\n# waiting for VM 300's guest agent to answer");
    if (!(await waitForAgent(env, 300))) {
      say("VM 300's guest agent did not answer");
      return 1;
    }
    await step(env, 'is the VM reachable through its guest agent?', ['agent', 'check', '300']);
    await step(env, 'what would change, package by package', ['plan', 'all', '-104']);
    const backup = env.sim.startVzdump({ node: 'pve1', vmids: [103] });
    say('\n# a backup job starts on CT 103 (vzdump, lock: backup)');
    await step(env, 'patch all; reboot where an update asks for it; CT 103 is refused (backup)', [
      'run',
      '--quiet',
      'all',
      '--reboot',
      'if-required',
    ]);
    env.sim.finishTask(backup);
    say('\n# the backup has finished');
    await step(env, 'patch CT 103 now, following the run log', ['run', '103', '--reboot', 'if-required']);
    return await step(env, 'again: nothing left to update (exit code 2)', ['run', '--quiet', 'all']);
  } finally {
    await env.close();
  }
}

process.exitCode = (await demo()) === 2 ? 0 : 1;
