import { spawn } from 'node:child_process';
import { once } from 'node:events';

// Holds flock(2) on argv[0] until stdin closes; the kernel drops it if this process dies.
const HOLDER = [
  'use Fcntl qw(:flock);',
  'open(my $fh, ">>", $ARGV[0]) or die "open $ARGV[0]: $!\\n";',
  'flock($fh, LOCK_EX) or die "flock $ARGV[0]: $!\\n";',
  '$| = 1; print "locked\\n"; while (<STDIN>) {}',
].join(' ');

/**
 * Runs fn while holding an exclusive lock on lockPath, so that test processes running in
 * parallel serialize work on a shared cache. The lock is held by a small perl child process.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const child = spawn('perl', ['-e', HOLDER, lockPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      if (c.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`unable to lock '${lockPath}' - holder exited ${code}: ${stderr}`)));
    child.on('error', reject);
  });
  try {
    await locked;
    return await fn();
  } finally {
    if (child.exitCode === null) {
      const exited = once(child, 'exit');
      child.stdin.end();
      await exited;
    }
  }
}
