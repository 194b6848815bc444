// `npm run demo`: the main job on a built-in lab — real Debian containers behind a simulated
// Proxmox VE API — driven through the real daemon and CLI.
import { spawnSync } from 'node:child_process';
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

async function demo(): Promise<number> {
  if (!preflight()) return 1;
  say('Building the lab: 3 Debian 12 containers (first run builds a cached base root, ~40 s), a simulated');
  say('Proxmox VE API (HTTPS, API token, tasks, locks, snapshots) and the pvepatch daemon.');
  const env = await startEnv({
    guests: [101, 102, 103].map((vmid) => ({ vmid, hostname: ['web', 'db', 'cache'][vmid - 101] })),
    apiOnlyGuests: [
      { vmid: 104, type: 'lxc', node: 'pve1', name: 'old-ct', status: 'stopped' },
      { vmid: 9000, type: 'lxc', node: 'pve1', name: 'debian-tpl', status: 'stopped', template: true },
    ],
  });
  try {
    await step(env, 'what the cluster has', ['guests']);
    await step(env, 'what would change, package by package', ['plan', 'all', '-104']);
    const backup = env.sim.startVzdump({ node: 'pve1', vmids: [103] });
    say('\n# a backup job starts on CT 103 (vzdump, lock: backup)');
    await step(env, 'patch everything; CT 103 is refused while its backup runs', ['run', '--quiet', 'all']);
    env.sim.finishTask(backup);
    say('\n# the backup has finished');
    await step(env, 'patch CT 103 now, following the run log', ['run', '103']);
    return await step(env, 'again: nothing left to update (exit code 2)', ['run', '--quiet', 'all']);
  } finally {
    await env.close();
  }
}

process.exitCode = (await demo()) === 2 ? 0 : 1;
