import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** A dpkg lock held inside a guest until release() or until its time runs out. */
export interface DpkgLockHold {
  /** The holder's pid inside the guest, the number apt prints in "held by process N". */
  pid: number;
  release(): Promise<void>;
}

// apt and dpkg take POSIX fcntl locks (flock(2) does not block them): lock-frontend, then lock.
// The holder exits when its stdin closes (release) or after argv[0] seconds.
const HOLDER = `
use Fcntl qw(F_SETLK F_WRLCK SEEK_SET O_RDWR O_CREAT);
my $secs = shift @ARGV;
my @held;
for my $f ('/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock') {
  sysopen(my $fh, $f, O_RDWR | O_CREAT, 0640) or die "open $f: $!\\n";
  my $flock = pack('s s x4 q q i x4', F_WRLCK, SEEK_SET, 0, 0, 0); # struct flock on 64-bit Linux
  fcntl($fh, F_SETLK, $flock) or die "lock $f: $!\\n";
  push @held, $fh;
}
$| = 1;
print "locked $$\\n";
my $rin = '';
vec($rin, fileno(STDIN), 1) = 1;
select($rin, undef, undef, $secs);
`;

/** Starts the perl lock holder in the guest through pct and resolves once both locks are held. */
export async function holdDpkgLock(pctPath: string, vmid: number, seconds: number): Promise<DpkgLockHold> {
  const argv = ['exec', String(vmid), '--keep-env', '0', '--', 'perl', '-e', HOLDER, String(seconds)];
  const child = spawn(pctPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.on('error', () => {}); // the holder may already be gone
  const exited = once(child, 'exit');
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /locked (\d+)/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`unable to lock dpkg in guest ${vmid} - exit ${code}: ${stderr}`)));
  });
  const release = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { pid, release };
}
