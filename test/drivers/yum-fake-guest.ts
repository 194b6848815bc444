import type { DriverContext } from '../../daemon/drivers/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

/** Which yum-guest operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  if (argv[2] === 'yum') {
    if (argv.includes('makecache')) return 'refresh';
    if (argv.includes('check-update')) return 'check-update';
    if (argv.includes('updateinfo')) return 'updateinfo';
    if (argv.includes('--assumeno')) return 'plan';
    if (argv.at(-1) === 'check') return 'check';
    if (argv.at(-1) === 'update') return 'upgrade';
  }
  if (argv[2] === 'rpm') return argv[3] === '-qa' ? 'rpm-qa' : 'verifydb';
  if (argv[0] === 'test') return argv[2] === '/usr/bin/needs-restarting' ? 'needs-restarting?' : 'reboot?';
  if (argv[2] === '/usr/bin/needs-restarting') return `needs-restarting ${argv[3]}`;
  if (argv[0] === 'head') return `pidfile ${argv.at(-1)}`;
  if (argv[0] === 'cat' && argv.at(-1)?.startsWith('/proc/')) return 'comm';
  if (argv[0] === 'cat' && argv.at(-1) === '/etc/yum.conf') return 'yum.conf';
  if (argv[0] === 'cat' && argv.at(-1)?.endsWith('versionlock.list')) return 'versionlock';
  if (argv[0] === 'cat' && argv.at(-1) === '/run/reboot-required.pkgs') return 'reboot-pkgs';
  if (argv[0] === 'find') return 'conffiles';
  if (argv[0] === 'uname') return 'uname';
  return argv.join(' ');
}

/** CentOS 7 installed set before and after an update of the rows in yum/check-update-wrapped-repo.txt. */
export const BEFORE = 'kernel\tx86_64\t3.10.0-1160.el7\nquota\tx86_64\t1:4.01-11.el7\nsos\tnoarch\t3.2-35.el7\n';
export const AFTER = [
  'kernel\tx86_64\t3.10.0-1160.el7',
  'kernel\tx86_64\t3.10.0-1160.119.1.el7',
  'quota\tx86_64\t1:4.01-11.el7_2.1',
  'sos\tnoarch\t3.2-36.el7ost.2',
  '',
].join('\n');

const MISSING = (path: string): Reply => ({ exitCode: 1, stderr: `cat: ${path}: No such file or directory\n` });
/** No lock is held: yum removes /var/run/yum.pid on exit. */
const NO_PID_FILE = (path: string): Reply => ({
  exitCode: 1,
  stderr: `head: cannot open '${path}' for reading: No such file or directory\n`,
});

function defaultReply(k: string, rpmReads: number): Reply {
  if (k.startsWith('pidfile ')) return NO_PID_FILE(k.slice('pidfile '.length));
  switch (k) {
    case 'rpm-qa':
      return { stdout: rpmReads === 0 ? BEFORE : AFTER };
    case 'check-update':
      return { exitCode: 100, stdout: fixture('yum/check-update-wrapped-repo.txt') };
    case 'updateinfo':
      return { stdout: '  RHSA-2016:2600 Moderate/Sec.  sos-3.2-36.el7ost.2.noarch\n' };
    case 'plan':
      return { exitCode: 1, stdout: fixture('yum/table-overflow.txt'), stderr: 'Exiting on user command\n' };
    case 'upgrade':
      return { stdout: 'Complete!\n' };
    case 'needs-restarting?':
    case 'reboot?':
      return { exitCode: 1 };
    case 'yum.conf':
      return { stdout: '[main]\ncachedir=/var/cache/yum/$basearch/$releasever\nexclude=kernel* php*\n' };
    case 'versionlock':
      return { stdout: '0:openssl-libs-1.0.2k-19.el7.*\n' };
    case 'reboot-pkgs':
      return MISSING('/run/reboot-required.pkgs');
    case 'uname':
      return { stdout: '3.10.0-1160.el7.x86_64\n' };
    default:
      return {};
  }
}

/** A fake CentOS 7 guest; `over` replaces the reply for one kind (a function gets the call number). */
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
  return { t, ctx, events };
}
