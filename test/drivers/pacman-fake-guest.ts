import type { DriverContext } from '../../daemon/drivers/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

/** Which pacman operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  const s = argv.join(' ');
  if (s.includes('pacman -Syy')) return 'refresh';
  if (s.includes('pacman -Qu')) return 'pending';
  if (s.includes('pacman -Su --print')) return 'plan';
  if (s.includes('pacman -Su')) return 'upgrade';
  if (s.endsWith('pacman -Q')) return 'versions';
  if (argv.includes('pacman-conf')) return 'conf';
  if (argv[0] === 'test' && argv[2] === '/var/lib/pacman/db.lck') return 'lock?';
  if (argv[0] === 'test') return 'reboot?';
  if (argv[0] === 'pgrep') return 'holder';
  if (argv[0] === 'uname') return 'uname';
  if (argv[0] === 'cat') return 'reboot-pkgs';
  if (argv[0] === 'find') return 'conffiles';
  return s;
}

/**
 * A fake Arch guest built from the real captured outputs: -Q before/after, -Qu, -Su --print, the
 * upgrade's own output. `over` replaces the reply for one kind; every call lands in `events`.
 */
export function guest(over: Record<string, Reply | (() => Reply)> = {}) {
  const events: string[] = [];
  let upgraded = false;
  const t = new FakeTransport((argv) => {
    const k = kind(argv);
    events.push(k);
    const o = over[k];
    if (o) return typeof o === 'function' ? o() : o;
    switch (k) {
      case 'versions':
        return { stdout: fixture(upgraded ? 'pacman/q-after.txt' : 'pacman/q-before.txt') };
      case 'pending':
        return { stdout: fixture('pacman/qu.txt') };
      case 'plan':
        return { stdout: fixture('pacman/sup.txt') };
      case 'upgrade':
        upgraded = true;
        return { stdout: fixture('pacman/su-ignore.txt'), stderr: fixture('pacman/su-ignore.stderr.txt') };
      case 'refresh':
        return { stdout: fixture('pacman/syy.txt') };
      case 'uname':
        return { stdout: '6.8.12-4-pve\n' };
      case 'lock?':
      case 'reboot?':
        return { exitCode: 1 };
      case 'reboot-pkgs':
        return { exitCode: 1, stderr: 'cat: /run/reboot-required.pkgs: No such file or directory' };
      default:
        return {};
    }
  });
  const ctx: DriverContext = driverContext(t, { lockTimeoutMs: 300 });
  const recorded: string[][] = [];
  const recordHolds = async (holds: string[]) => {
    recorded.push(holds);
  };
  return { t, ctx, events, recordHolds, recorded };
}
