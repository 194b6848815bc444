import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** A lock held inside a guest until release() or until its time runs out. */
export interface DpkgLockHold {
  /** The holder's pid inside the guest, the number apt prints in "held by process N". */
  pid: number;
  release(): Promise<void>;
}

/**
 * One lock the holder takes, in order:
 * - `fcntl:<path>`: a POSIX write lock (F_SETLK) on the file, as dpkg and rpm take it;
 * - `pidfile:<path>`: writes the holder's pid into the file and takes no lock, as dnf's
 *   ProcessLock and zypp's /run/zypp.pid leave it between their checks; removed at the end;
 * - `create:<path>`: creates the file exclusively (O_EXCL, mode 0000), as pacman's db.lck; removed at the end.
 */
export type LockSpec = `fcntl:${string}` | `pidfile:${string}` | `create:${string}`;

// The holder exits when its stdin closes (release) or after argv[0] seconds; a SIGKILL (pct stop)
// leaves pid and lock files behind, as a crashed package manager does.
const HOLDER = `
use Fcntl qw(F_SETLK F_WRLCK SEEK_SET O_RDWR O_WRONLY O_CREAT O_EXCL O_TRUNC);
my $secs = shift @ARGV;
my (@held, @remove);
for my $spec (@ARGV) {
  my ($kind, $f) = split /:/, $spec, 2;
  my ($dir) = $f =~ m{^(.*)/[^/]*$};
  system('mkdir', '-p', $dir) == 0 or die "mkdir $dir failed\\n";
  if ($kind eq 'fcntl') {
    sysopen(my $fh, $f, O_RDWR | O_CREAT, 0640) or die "open $f: $!\\n";
    my $flock = pack('s s x4 q q i x4', F_WRLCK, SEEK_SET, 0, 0, 0); # struct flock on 64-bit Linux
    fcntl($fh, F_SETLK, $flock) or die "lock $f: $!\\n";
    push @held, $fh;
  } elsif ($kind eq 'pidfile') {
    sysopen(my $fh, $f, O_WRONLY | O_CREAT | O_TRUNC, 0644) or die "open $f: $!\\n";
    syswrite($fh, "$$\\n") or die "write $f: $!\\n";
    close($fh);
    push @remove, $f;
  } elsif ($kind eq 'create') {
    sysopen(my $fh, $f, O_WRONLY | O_CREAT | O_EXCL, 0000) or die "create $f: $!\\n";
    close($fh);
    push @remove, $f;
  } else {
    die "unknown lock kind $kind\\n";
  }
}
$| = 1;
print "locked $$\\n";
my $rin = '';
vec($rin, fileno(STDIN), 1) = 1;
select($rin, undef, undef, $secs);
unlink @remove;
`;

/** Starts the perl lock holder in the guest through pct and resolves once every lock is held. */
export async function holdLocks(
  pctPath: string,
  vmid: number,
  seconds: number,
  locks: readonly LockSpec[],
  what: string,
): Promise<DpkgLockHold> {
  const argv = ['exec', String(vmid), '--keep-env', '0', '--', 'perl', '-e', HOLDER, String(seconds), ...locks];
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
    child.on('exit', (code) => reject(new Error(`unable to lock ${what} in guest ${vmid} - exit ${code}: ${stderr}`)));
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

/** Holds dpkg's lock-frontend and lock (fcntl), as a running apt does. */
export function holdDpkgLock(pctPath: string, vmid: number, seconds: number): Promise<DpkgLockHold> {
  return holdLocks(pctPath, vmid, seconds, ['fcntl:/var/lib/dpkg/lock-frontend', 'fcntl:/var/lib/dpkg/lock'], 'dpkg');
}
