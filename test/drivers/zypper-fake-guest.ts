import type { DriverContext } from '../../daemon/drivers/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

/** Which zypper/rpm operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  const has = (word: string) => argv.includes(word);
  if (has('zypper')) {
    if (has('update')) return has('--dry-run') ? 'update-dry' : 'update';
    if (has('verify')) return has('--dry-run') ? 'verify-dry' : 'verify';
    for (const k of ['refresh', 'list-updates', 'list-patches', 'info', 'locks', 'addlock', 'removelock', 'patch'])
      if (has(k)) return k;
    if (has('needs-rebooting')) return 'needs-rebooting';
    if (has('ps')) return 'ps';
  }
  if (argv[0] === 'rpm') return 'rpm';
  if (argv[0] === 'find') return 'conffiles';
  if (argv[0] === 'test') return argv[2] === '/run/reboot-needed' ? 'reboot-needed?' : 'reboot?';
  if (argv[0] === 'cat') return 'reboot-pkgs';
  return argv.join(' ');
}

const BEFORE = [
  'demo-app\t1.0-1\t100',
  'demo-conf\t1.0-1\t100',
  'demo-lib\t1.0-1\t100',
  'demo-sec\t1.0-1\t100',
  'demo-tool\t1.0-1\t100',
  'kernel-default\t6.1.0-1\t100',
].join('\n');
const AFTER = [
  'demo-app\t1.1-1\t200',
  'demo-conf\t1.1-1\t200',
  'demo-lib\t1.0-1\t100',
  'demo-sec\t1.1-1\t200',
  'demo-tool\t1.0-1\t100',
  'kernel-default\t6.2.0-1\t200',
].join('\n');

export interface FakeLock {
  name: string;
  type?: string;
  repo?: string;
}

function locksXml(locks: readonly FakeLock[]): string {
  const items = locks.map((l, i) => {
    const repo = l.repo ? `<repo>${l.repo}</repo>` : '';
    return `<lock number="${i + 1}"><name>${l.name}</name><type>${l.type ?? 'package'}</type>${repo}</lock>`;
  });
  return `<?xml version='1.0'?>\n<stream>\n<locks size="${locks.length}">${items.join('\n')}\n</locks></stream>\n`;
}

/** `patch:ID` → {name: ID, type: patch}, as zypper stores it. */
function asLock(hold: string): FakeLock {
  return hold.startsWith('patch:') ? { name: hold.slice(6), type: 'patch' } : { name: hold };
}

type Over = Reply | ((argv: readonly string[]) => Reply);

/**
 * A fake zypper guest; `over` replaces the reply for one kind. It keeps the lock list like zypper
 * does (removelock removes only plain locks of exactly that name). Every call and every hold
 * record lands in `events`; a record also notes the locks present at that moment.
 */
export function guest(over: Record<string, Over> = {}, adminLocks: FakeLock[] = []) {
  const events: string[] = [];
  const locks: FakeLock[] = [...adminLocks];
  let versionReads = 0;
  const t = new FakeTransport((argv) => {
    const k = kind(argv);
    events.push(k);
    const o = over[k];
    if (o) return typeof o === 'function' ? o(argv) : o;
    return reply(k, argv);
  });
  function reply(k: string, argv: readonly string[]): Reply {
    const names = argv.slice(argv.indexOf('--') + 1);
    switch (k) {
      case 'locks':
        return { stdout: locksXml(locks) };
      case 'addlock':
        for (const n of names) locks.push(asLock(n));
        return { stdout: 'Specified locks have been successfully added.\n' };
      case 'removelock':
        return { stdout: removeLocks(names) };
      case 'rpm':
        return { stdout: versionReads++ === 0 ? BEFORE : AFTER };
      case 'list-updates':
        return { stdout: fixture('zypper/list-updates.xml') };
      case 'list-patches':
        return { stdout: fixture('zypper/list-patches-security.xml') };
      case 'info':
        return { stdout: fixture('zypper/info-patch.xml') };
      case 'update-dry':
        return { stdout: fixture('zypper/update-dry-run.xml') };
      case 'verify-dry':
        return { stdout: fixture('zypper/verify-ok.xml') };
      case 'reboot?':
      case 'reboot-needed?':
        return { exitCode: 1 };
      case 'reboot-pkgs':
        return { exitCode: 1, stderr: 'cat: /run/reboot-required.pkgs: No such file or directory' };
      default:
        return {};
    }
  }
  function removeLocks(names: readonly string[]): string {
    let removed = 0;
    for (const n of names) {
      const want = asLock(n);
      const i = locks.findIndex(
        (l) => l.name === want.name && (l.type ?? 'package') === (want.type ?? 'package') && !l.repo,
      );
      if (i >= 0) {
        locks.splice(i, 1);
        removed++;
      }
    }
    return removed === 0 ? 'No lock has been removed.\n' : `${removed} locks have been successfully removed.\n`;
  }
  const ctx: DriverContext = driverContext(t, { lockTimeoutMs: 300 });
  const recordHolds = async (holds: string[]) => {
    events.push(`record [${holds.join(',')}] with locks [${locks.map((l) => l.name).join(',')}]`);
  };
  return { t, ctx, events, locks, recordHolds };
}
