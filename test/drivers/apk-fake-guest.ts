import type { ExecResult } from '../../daemon/core/exec.js';
import type { DriverContext } from '../../daemon/drivers/types.js';
import type { Transport, TransportExecOptions } from '../../daemon/transports/types.js';
import { driverContext } from './context.js';
import type { Reply } from './fake-transport.js';
import { fixture } from './fixtures.js';

/** Which apk operation an argv is, for scripting the fake guest. */
export function kind(argv: readonly string[]): string {
  const s = argv.join(' ');
  if (s.includes('apk') && s.endsWith(' update')) return 'refresh';
  if (s.includes('apk') && s.endsWith('upgrade --simulate')) return 'simulate';
  if (s.includes('apk') && s.endsWith(' upgrade')) return 'upgrade';
  if (s.includes('apk') && argv.includes('policy')) return 'policy';
  if (s.includes('apk') && s.endsWith('info -v')) return 'versions';
  if (argv[0] === 'cat' && argv[1] === '/etc/apk/world') return 'read-world';
  if (argv[0] === 'cp') return 'backup';
  if (argv[0] === 'tee') return 'write-pinned';
  if (argv[0] === 'mv') return argv[2] === '/etc/apk/world.pvepatch' ? 'restore' : 'apply-pinned';
  if (argv[0] === 'test' && argv[2] === '/etc/apk/world.pvepatch') return 'backup?';
  if (argv[0] === 'test') return 'reboot?';
  if (argv[0] === 'cat') return 'reboot-pkgs';
  if (argv[0] === 'pgrep') return 'holder';
  if (argv[0] === 'uname') return 'uname';
  if (argv[0] === 'find') return 'conffiles';
  return s;
}

const WORLD = 'alpine-base\ndemo-app\ndemo-conf\ndemo-sec\ndemo-tool=1.0-r0\n';
const BEFORE =
  'alpine-base-3.21.0-r0\ndemo-app-1.0-r0\ndemo-conf-1.0-r0\ndemo-lib-1.0-r0\ndemo-sec-1.0-r0\ndemo-tool-1.0-r0\n';
const AFTER =
  'alpine-base-3.21.0-r0\ndemo-app-1.1-r0\ndemo-conf-1.1-r0\ndemo-lib-1.0-r0\ndemo-sec-1.1-r0\ndemo-tool-1.0-r0\n';
const SIM = [
  '(1/3) Upgrading demo-app (1.0-r0 -> 1.1-r0)',
  '(2/3) Upgrading demo-conf (1.0-r0 -> 1.1-r0)',
  '(3/3) Upgrading demo-lib (1.0-r0 -> 1.1-r0)',
  'OK: 12 MiB in 30 packages',
].join('\n');
const POLICY = [
  'demo-app policy:',
  '  1.1-r0:',
  '    https://repo.example/alpine/v3.21/main',
  '  1.0-r0:',
  '    lib/apk/db/installed',
].join('\n');

/**
 * A fake Alpine guest whose /etc/apk/world, its backup and the pinned side file really change
 * with cp/tee/mv, so a test can check the world ends exactly as it started. `over` replaces the
 * reply for one kind; every call lands in `events`, every stdin in `inputs`.
 */
export function guest(over: Record<string, Reply | (() => Reply)> = {}, world = WORLD) {
  const events: string[] = [];
  const inputs: string[] = [];
  const files = new Map<string, string>([['/etc/apk/world', world]]);
  let upgraded = false;
  const reply = (argv: readonly string[], input: string | undefined): Reply => {
    const k = kind(argv);
    events.push(k);
    const o = over[k];
    if (o) return typeof o === 'function' ? o() : o;
    return (
      fileOp(files, argv, input) ??
      answer(
        k,
        () => upgraded,
        (v) => (upgraded = v),
      )
    );
  };
  const transport: Transport & { calls: string[][] } = {
    name: 'fake-apk',
    calls: [],
    async exec(argv: readonly string[], opts: TransportExecOptions = {}): Promise<ExecResult> {
      transport.calls.push([...argv]);
      if (opts.input !== undefined) inputs.push(opts.input);
      const r = reply(argv, opts.input);
      const base = { signal: null, truncated: false, durationMs: 1, timedOut: false };
      return { ...base, exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
  };
  const ctx: DriverContext = driverContext(transport, { lockTimeoutMs: 3000 });
  const recordHolds = async (holds: string[]) => {
    events.push(`record [${holds.join(',')}]`);
  };
  return { transport, ctx, events, inputs, files, recordHolds };
}

/** cat/cp/tee/mv/test -e on the three world files; undefined for any other command. */
function fileOp(files: Map<string, string>, argv: readonly string[], input: string | undefined): Reply | undefined {
  const [tool, a, b, c] = argv;
  const has = (p: string | undefined): p is string => p !== undefined && files.has(p);
  const missing = { exitCode: 1, stderr: `${tool}: can't open: No such file or directory` };
  switch (tool) {
    case 'cat':
      if (a !== '/etc/apk/world') return undefined;
      return has(a) ? { stdout: files.get(a) ?? '' } : missing;
    case 'cp':
    case 'mv':
      if (!has(b) || !c) return missing;
      files.set(c, files.get(b) ?? '');
      if (tool === 'mv') files.delete(b);
      return {};
    case 'tee':
      if (!a) return undefined;
      files.set(a, input ?? '');
      return { stdout: input ?? '' };
    case 'test':
      return b?.startsWith('/etc/apk/') ? { exitCode: has(b) ? 0 : 1 } : undefined;
    default:
      return undefined;
  }
}

function answer(k: string, upgraded: () => boolean, setUpgraded: (v: boolean) => void): Reply {
  switch (k) {
    case 'versions':
      return { stdout: upgraded() ? AFTER : BEFORE };
    case 'simulate':
      return { stdout: SIM };
    case 'policy':
      return { stdout: POLICY };
    case 'refresh':
      return { stdout: fixture('apk/update-alpine318.txt') };
    case 'upgrade':
      setUpgraded(true);
      return { stdout: SIM };
    case 'uname':
      return { stdout: '6.8.12-4-pve\n' };
    case 'reboot?':
      return { exitCode: 1 };
    case 'reboot-pkgs':
      return { exitCode: 1, stderr: "cat: can't open '/run/reboot-required.pkgs': No such file or directory" };
    default:
      return {};
  }
}
