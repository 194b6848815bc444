import type { DriverContext } from '../../daemon/drivers/types.js';
import { driverContext } from './context.js';
import { FakeTransport, type Reply } from './fake-transport.js';

/** Which apt operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  const s = argv.join(' ');
  if (s.includes('apt-get') && s.includes(' -s dist-upgrade')) return 'simulate';
  if (s.includes('apt-get') && s.endsWith(' dist-upgrade')) return 'upgrade';
  if (s.includes('apt-get') && s.endsWith(' check')) return 'probe';
  if (s.includes('apt-get') && s.endsWith(' update --allow-releaseinfo-change')) return 'refresh';
  for (const k of ['showhold', 'unhold', 'hold', 'dpkg-query', '--audit'])
    if (argv.includes(k) || argv[0] === k) return k;
  if (argv[0] === 'test' && argv[2] === '/var/lib/man-db/auto-update.pvepatch') return 'mandb-parked?';
  if (argv[0] === 'test' && argv[2] === '/var/lib/man-db/auto-update') return 'mandb?';
  if (argv[0] === 'mv') return argv[5] === '/var/lib/man-db/auto-update' ? 'mandb-restore' : 'mandb-park';
  if (argv[0] === 'test') return 'reboot?';
  if (argv[0] === 'cat') return 'reboot-pkgs';
  if (argv[0] === 'find') return 'conffiles';
  return s;
}

const BEFORE = 'demo-app\t1.0\tii \ndemo-lib\t1.0\tii \ndemo-tool\t1.0\tii \ndemo-sec\t1.0\tii \n';
const AFTER = 'demo-app\t1.1\tii \ndemo-lib\t1.1\tii \ndemo-tool\t1.0\tii \ndemo-sec\t1.1\tii \n';
const SIM = [
  'Inst demo-lib [1.0] (1.1 Demo:1.0/stable [all])',
  'Inst demo-app [1.0] (1.1 Demo:1.0/stable [all])',
  'Inst demo-tool [1.0] (1.1 Demo:1.0/stable [all])',
  'Inst demo-sec [1.0] (1.1 Debian-Security:1.0/stable-security [all])',
].join('\n');

/** A fake apt guest; `over` replaces the reply for one kind. Every call and hold record lands in `events`. */
export function guest(over: Record<string, Reply | (() => Reply)> = {}, adminHolds = '') {
  const events: string[] = [];
  let versionReads = 0;
  let parked = false; // man-db's switch, moved by mandb-park / mandb-restore
  const t = new FakeTransport((argv) => {
    const k = kind(argv);
    events.push(k);
    const o = over[k];
    if (o) return typeof o === 'function' ? o() : o;
    if (k === 'dpkg-query') {
      // the admin's holds are the selection state of dpkg-query's status column
      const held = new Set(adminHolds.split('\n').filter(Boolean));
      const text = versionReads++ === 0 ? BEFORE : AFTER;
      const lines = text.split('\n').filter(Boolean);
      for (const name of held) if (!lines.some((l) => l.startsWith(`${name}\t`))) lines.push(`${name}\t0.1\thi `);
      return {
        stdout: `${lines.map((l) => (held.has(l.split('\t')[0]!) ? l.replace('\tii ', '\thi ') : l)).join('\n')}\n`,
      };
    }
    if (k === 'simulate') return { stdout: SIM };
    if (k === 'showhold') return { stdout: adminHolds };
    if (k === 'mandb-park') parked = true;
    if (k === 'mandb-restore') parked = false;
    if (k === 'mandb-parked?') return { exitCode: parked ? 0 : 1 };
    if (k === 'reboot?') return { exitCode: 1 };
    if (k === 'reboot-pkgs')
      return { exitCode: 1, stderr: 'cat: /var/run/reboot-required.pkgs: No such file or directory' };
    return {};
  });
  const ctx: DriverContext = driverContext(t, { lockTimeoutMs: 3000 });
  const recordHolds = async (holds: string[]) => {
    events.push(`record [${holds.join(',')}]`);
  };
  return { t, ctx, events, recordHolds };
}
