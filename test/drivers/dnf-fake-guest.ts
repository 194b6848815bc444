import type { DriverContext } from '../../daemon/drivers/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

/** Which dnf-guest operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  const s = argv.join(' ');
  if (argv[2] === 'dnf') {
    if (argv.includes('makecache')) return 'refresh';
    if (argv.includes('repoquery')) return 'repoquery';
    if (argv.includes('updateinfo')) return 'updateinfo';
    if (argv.includes('needs-restarting')) return `needs-restarting ${argv.at(-1)}`;
    if (argv.includes('--assumeno')) return 'plan';
    if (argv.includes('check')) return 'check';
    if (argv.at(-1) === 'upgrade') return 'upgrade';
  }
  if (argv[2] === 'rpm') return argv[3] === '-qa' ? 'rpm-qa' : 'verifydb';
  if (argv[0] === 'head') return `pidfile ${argv.at(-1)}`;
  if (argv[0] === 'cat' && argv.at(-1)?.startsWith('/proc/')) return 'comm';
  if (argv[0] === 'cat' && argv.at(-1) === '/etc/dnf/dnf.conf') return 'dnf.conf';
  if (argv[0] === 'cat' && argv.at(-1)?.endsWith('versionlock.list')) return 'versionlock';
  if (argv[0] === 'cat' && argv.at(-1) === '/run/reboot-required.pkgs') return 'reboot-pkgs';
  if (argv[0] === 'test') return 'reboot?';
  if (argv[0] === 'find') return 'conffiles';
  if (argv[0] === 'uname') return 'uname';
  return s;
}

const MISSING = (path: string): Reply => ({ exitCode: 1, stderr: `cat: ${path}: No such file or directory\n` });
/** No lock is held: dnf removes its pid files on exit. */
const NO_PID_FILE = (path: string): Reply => ({
  exitCode: 1,
  stderr: `head: cannot open '${path}' for reading: No such file or directory\n`,
});

/** Replies of an unlocked Fedora guest with the demo updates pending (real dnf outputs). */
function defaultReply(k: string, rpmReads: number): Reply {
  if (k.startsWith('pidfile ')) return NO_PID_FILE(k.slice('pidfile '.length));
  switch (k) {
    case 'rpm-qa':
      return { stdout: fixture(rpmReads === 0 ? 'dnf/rpm-qa-v1.txt' : 'dnf/rpm-qa-v2.txt') };
    case 'repoquery':
      return { stdout: fixture('dnf/repoquery-v2.txt') };
    case 'updateinfo':
      return { stdout: fixture('dnf/updateinfo-security.txt') };
    case 'plan':
      return { exitCode: 1, stdout: fixture('dnf/plan-v2.txt'), stderr: fixture('dnf/plan-v2.stderr.txt') };
    case 'upgrade':
      return { stdout: fixture('dnf/upgrade-v2.txt') };
    case 'needs-restarting -r':
    case 'needs-restarting -s':
      return { exitCode: 1, stderr: fixture('dnf/needs-restarting-missing.stderr.txt') };
    case 'dnf.conf':
      return { stdout: '[main]\ngpgcheck=1\nexcludepkgs=demo-tool\n' };
    case 'versionlock':
      return MISSING('/etc/dnf/plugins/versionlock.list');
    case 'reboot-pkgs':
      return MISSING('/run/reboot-required.pkgs');
    case 'reboot?':
      return { exitCode: 1 };
    case 'uname':
      return { stdout: '6.8.12-4-pve\n' };
    default:
      return {};
  }
}

/** A fake dnf guest; `over` replaces the reply for one kind. Every call's kind lands in `events`. */
export function guest(over: Record<string, Reply | ((n: number) => Reply)> = {}, lockTimeoutMs = 50) {
  const events: string[] = [];
  const counts = new Map<string, number>();
  let rpmReads = 0;
  const t = new FakeTransport((argv) => {
    const k = kind(argv);
    events.push(k);
    const n = counts.get(k) ?? 0;
    counts.set(k, n + 1);
    const o = over[k];
    if (o) return typeof o === 'function' ? o(n) : o;
    const reply = defaultReply(k, rpmReads);
    if (k === 'rpm-qa') rpmReads++;
    return reply;
  });
  const ctx: DriverContext = driverContext(t, { lockTimeoutMs });
  const holds: string[][] = [];
  const recordHolds = async (h: string[]) => {
    holds.push(h);
  };
  return { t, ctx, events, holds, recordHolds };
}
