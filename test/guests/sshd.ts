/**
 * A real OpenSSH sshd in front of a lab guest, for the SSH transport's tests.
 *
 * The host's `/usr/sbin/sshd -D -e -f <dir>/sshd_config` listens on 127.0.0.1:<free port> with its
 * own ed25519 host key, PidFile and AuthorizedKeysFile in a temp dir. Every session is sent into
 * the guest by `ForceCommand <dir>/enter-guest`, which runs
 * `<lab>/bin/lab-pct exec <vmid> --keep-env 0 -- … /bin/sh -c "$SSH_ORIGINAL_COMMAND"` (or `/bin/sh -l`
 * without a command): the client's command string is parsed by a real /bin/sh inside the guest
 * root, as a guest's own sshd runs it through the login shell, and the guest's dpkg, apt and files
 * are the ones it sees. (ChrootDirectory was the alternative: it gives no /proc, /dev or the
 * guest's pid namespace, so apt and dpkg would not run as they do in a guest.)
 *
 * Non-root logins (`patcher` with sudo NOPASSWD, `nosudo` whose sudo wants a password) are real
 * users of the guest, with the real sudo installed in it (the bookworm .deb files, downloaded once
 * into the test cache with `apt-get download`). sshd itself needs them in the host's passwd: it runs
 * in a private mount namespace where a copy of /etc/passwd (plus both users, host uid 0 so that the
 * wrapper can enter the guest) and a minimal /etc/shadow are bind-mounted; the host's files are
 * not changed. The wrapper then drops to the guest user with setpriv inside the guest, so the
 * command runs with that user's uid and environment, and `sudo -n` is the guest's own.
 *
 * `onHost`: a cluster node's own sshd instead: root only, no ForceCommand, the session's command
 * runs through /bin/sh on this machine (the cluster-ssh transport's `pct exec` of the other node).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Lab } from './lab.js';
import { runOk } from './run.js';

export const SSHD = '/usr/sbin/sshd';
/** The guest users for non-root logins. */
export const SUDO_USER = 'patcher';
export const NOPASSWD_LESS_USER = 'nosudo';

const DEBS = ['sudo', 'init-system-helpers', 'usr-is-merged'];

export type SshdOptions =
  | {
      lab: Lab;
      vmid: number;
      /** Set up the guest users and sudo (needs the .deb files, downloaded once); default true. */
      nonRoot?: boolean;
    }
  | {
      /**
       * A cluster node's own sshd: root's sessions run on this machine (its /bin/sh, with the
       * host's programs), without ForceCommand and without guest users.
       */
      onHost: true;
    };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Every descendant pid of `pid` (from /proc), children before grandchildren. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const parent = new Map<number, number[]>();
  const comm = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      comm.set(Number(name), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const queue = [...(parent.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push({ pid: p, comm: comm.get(p) ?? '' });
    queue.push(...(parent.get(p) ?? []));
  }
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The sudo .deb files for a bookworm guest, downloaded once into the test cache. */
async function sudoDebs(): Promise<string[]> {
  const dir = path.join(process.env.PVEPATCH_TEST_CACHE ?? '/var/cache/pvepatch-test', 'debs');
  await mkdir(dir, { recursive: true });
  const have = () => readdirSync(dir).filter((f) => f.endsWith('.deb'));
  const missing = () => DEBS.filter((p) => !have().some((f) => f.startsWith(`${p}_`)));
  if (missing().length > 0) {
    const tmp = path.join(dir, `.download-${process.pid}`);
    await mkdir(tmp, { recursive: true });
    try {
      await runOk(['apt-get', 'download', ...missing()], { cwd: tmp, timeoutMs: 120_000 });
      for (const f of await readdir(tmp)) await rename(path.join(tmp, f), path.join(dir, f));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return DEBS.map((p) => path.join(dir, have().find((f) => f.startsWith(`${p}_`))!));
}

export class Sshd {
  readonly host = '127.0.0.1';
  /** The client's private key (ed25519, mode 0600), authorized for every login. */
  readonly clientKey: string;
  private proc: ReturnType<typeof spawn> | undefined;
  private stderr = '';
  private generation = 0;
  /** Why non-root logins are not available, when they are not. */
  nonRootSkip: string | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    /** The guest sessions are sent into; undefined for an sshd on the host (`onHost`). */
    private readonly guest: { lab: Lab; vmid: number } | undefined,
  ) {
    this.clientKey = path.join(dir, 'client_key');
  }

  static async start(opts: SshdOptions): Promise<Sshd> {
    if (!existsSync(SSHD)) {
      throw new Error(`${SSHD} is missing: apt-get install -y --no-install-recommends openssh-server (.ci/run does)`);
    }
    const dir = await mkdirTemp();
    const guest = 'onHost' in opts ? undefined : { lab: opts.lab, vmid: opts.vmid };
    const sshd = new Sshd(dir, await freePort(), guest);
    try {
      await sshd.setup('onHost' in opts ? false : (opts.nonRoot ?? true));
      await sshd.launch();
    } catch (err) {
      await sshd.stop();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return sshd;
  }

  /** `ssh-keygen -lf` of the current host key: `SHA256:…`. */
  async hostFingerprint(): Promise<string> {
    const { stdout } = await runOk(['ssh-keygen', '-lf', path.join(this.dir, 'host_key.pub')]);
    return stdout.split(' ')[1]!;
  }

  /** What sshd printed (-e: its log on stderr). */
  get log(): string {
    return this.stderr;
  }

  /** A new host key, and sshd restarted on the same port with it (a reinstalled guest, or a man in the middle). */
  async rotateHostKey(): Promise<void> {
    await this.stop();
    await rm(path.join(this.dir, 'host_key'), { force: true });
    await rm(path.join(this.dir, 'host_key.pub'), { force: true });
    await this.keygen('host_key');
    await this.launch();
  }

  /** Kills the per-connection sshd processes: every client connection drops, the listener stays. */
  dropConnections(): number {
    if (!this.proc?.pid) return 0;
    const sessions = descendants(this.proc.pid).filter((p) => p.comm === 'sshd');
    for (const p of sessions) kill(p.pid, 'SIGKILL');
    return sessions.length;
  }

  /**
   * SIGSTOPs the per-connection sshd processes: established connections go silent (no reply, no
   * FIN, as behind a dead link) while new ones are still served. Returns the SIGCONT.
   */
  freezeConnections(): () => void {
    const sessions = this.proc?.pid ? descendants(this.proc.pid).filter((p) => p.comm === 'sshd') : [];
    for (const p of sessions) kill(p.pid, 'SIGSTOP');
    return () => {
      for (const p of sessions) kill(p.pid, 'SIGCONT');
    };
  }

  /** Stops sshd and everything it started (sessions, the wrapper, pct exec). */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc?.pid) return;
    const all = descendants(proc.pid);
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    kill(proc.pid, 'SIGKILL');
    for (const p of all) kill(p.pid, 'SIGKILL');
    await exited;
  }

  /** Stops sshd and removes its temp dir (the lab is the caller's). */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async keygen(name: string): Promise<void> {
    await runOk([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `pvepatch-test-${name}`,
      '-f',
      path.join(this.dir, name),
    ]);
  }

  private async setup(nonRoot: boolean): Promise<void> {
    const { dir } = this;
    await this.keygen('host_key');
    await this.keygen('client_key');
    await writeFile(path.join(dir, 'authorized_keys'), readFileSync(`${this.clientKey}.pub`), { mode: 0o600 });
    const wrapper = path.join(dir, 'enter-guest');
    if (this.guest) await this.writeGuestWrapper(wrapper, this.guest);
    await writeFile(
      path.join(dir, 'sshd_config'),
      [
        'ListenAddress 127.0.0.1',
        `Port ${this.port}`,
        `HostKey ${dir}/host_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        // the temp dir lives under /tmp (mode 1777), which StrictModes would refuse
        'StrictModes no',
        'UsePAM no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        this.guest ? `AllowUsers root ${SUDO_USER} ${NOPASSWD_LESS_USER}` : 'AllowUsers root',
        'PrintMotd no',
        'PrintLastLog no',
        'MaxSessions 20',
        'PermitUserRC no',
        // on the host the session's command runs through root's /bin/sh, as on a cluster node
        ...(this.guest ? [`ForceCommand ${wrapper}`] : []),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    // sshd's names for logins: the host's passwd plus the guest users (uid 0 on the host side only)
    // root too gets /bin/sh and the temp dir as its host-side home: the host root's own shell rc files
    // (bash sources ~/.bashrc for ssh commands) are not the guest's business, and they are slow
    const passwd = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('root:'));
    const logins = ['root', SUDO_USER, NOPASSWD_LESS_USER].map((u) => `${u}:x:0:0:pvepatch test:${dir}:/bin/sh`);
    await writeFile(path.join(dir, 'passwd'), `${[...logins, ...passwd].join('\n')}\n`, { mode: 0o644 });
    await writeFile(
      path.join(dir, 'shadow'),
      ['root', SUDO_USER, NOPASSWD_LESS_USER]
        .map((u) => `${u}:*:20000:0:99999:7:::`)
        .join('\n')
        .concat('\n'),
      { mode: 0o600 },
    );
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    if (nonRoot) await this.setupGuestUsers();
    else this.nonRootSkip = 'not asked for';
  }

  /** ForceCommand: every session is sent into the guest. */
  private async writeGuestWrapper(wrapper: string, guest: { lab: Lab; vmid: number }): Promise<void> {
    await writeFile(
      wrapper,
      [
        '#!/bin/sh',
        '# ForceCommand: the session runs in the guest (container or VM: through the lab entry bin/lab-pct),',
        '# through /bin/sh as a login shell would run it',
        'if [ "$USER" = root ]; then',
        '  set -- env HOME=/root USER=root LOGNAME=root SHELL=/bin/sh',
        'else',
        '  set -- setpriv --reuid="$USER" --regid="$USER" --init-groups --reset-env',
        'fi',
        'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then',
        `  exec ${guest.lab.internalPctPath} exec ${guest.vmid} --keep-env 0 -- "$@" /bin/sh -c "$SSH_ORIGINAL_COMMAND"`,
        'fi',
        `exec ${guest.lab.internalPctPath} exec ${guest.vmid} --keep-env 0 -- "$@" /bin/sh -l`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }

  /** Installs the real sudo in the guest and adds both users (one with NOPASSWD, one without). */
  private async setupGuestUsers(): Promise<void> {
    let debs: string[];
    try {
      debs = await sudoDebs();
    } catch (err) {
      this.nonRootSkip = `no sudo .deb for the guest (apt-get download failed: ${(err as Error).message.split('\n')[0]})`;
      return;
    }
    if (!this.guest) return;
    const { lab, vmid } = this.guest;
    const inGuest: string[] = [];
    for (const deb of debs) {
      const name = `/tmp/${path.basename(deb)}`;
      await lab.writeGuestFile(vmid, `${name}.b64`, readFileSync(deb).toString('base64'));
      await lab.execOk(vmid, ['sh', '-c', 'base64 -d < "$1.b64" > "$1" && rm -f "$1.b64"', 'sh', name]);
      inGuest.push(name);
    }
    await lab.execOk(vmid, ['env', 'DEBIAN_FRONTEND=noninteractive', 'dpkg', '-i', ...inGuest]);
    await lab.execOk(vmid, ['rm', '-f', ...inGuest]);
    for (const user of [SUDO_USER, NOPASSWD_LESS_USER]) {
      await lab.execOk(vmid, ['useradd', '--create-home', '--shell', '/bin/sh', user]);
    }
    await lab.writeGuestFile(vmid, `/etc/sudoers.d/${SUDO_USER}`, `${SUDO_USER} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
    await lab.writeGuestFile(
      vmid,
      `/etc/sudoers.d/${NOPASSWD_LESS_USER}`,
      `${NOPASSWD_LESS_USER} ALL=(ALL) ALL\n`,
      0o440,
    );
    // sudo resolves the host name; a guest's /etc/hosts names it
    await lab.execOk(vmid, [
      'sh',
      '-c',
      'grep -qw "$(hostname)" /etc/hosts || echo "127.0.1.1 $(hostname)" >> /etc/hosts',
    ]);
  }

  private async launch(): Promise<void> {
    const { dir } = this;
    const gen = ++this.generation;
    this.stderr = '';
    const script = `mount --bind ${dir}/passwd /etc/passwd && mount --bind ${dir}/shadow /etc/shadow && exec ${SSHD} -D -e -f ${dir}/sshd_config`;
    const proc = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    this.proc = proc;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s:\n${this.stderr}`)), 10_000);
      proc.stderr?.on('data', (c: Buffer) => {
        if (this.stderr.length < 1_000_000) this.stderr += c.toString();
        if (gen === this.generation && this.stderr.includes(`Server listening on 127.0.0.1 port ${this.port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited (${code ?? signal}) while starting:\n${this.stderr}`));
      });
    });
    await ready;
  }
}

async function mkdirTemp(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pvepatch-sshd-'));
  await chmod(dir, 0o700);
  return dir;
}
