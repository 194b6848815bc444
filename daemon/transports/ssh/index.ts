import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, ClientChannel } from 'ssh2';
import { errorMessage, PvepatchError, UnreachableError } from '../../core/errors.js';
import { Capture, commandName, DEFAULT_MAX_OUTPUT, type ExecResult, type OutputStream } from '../../core/exec.js';
import { ShellSession } from '../../drivers/shared/shell-session.js';
import type { GuestRef, Transport, TransportDef, TransportExecOptions } from '../types.js';
import { type ChannelExit, channelProcess } from './channel.js';
import { sshCommandLine } from './command.js';
import { connectFailure, HostKeyMismatchError, type Ssh2Error, SudoRefusedError } from './errors.js';
import { fingerprintOf, hostKeyId, KnownHosts, keyTypeOf, normalizeFingerprint } from './known-hosts.js';

export { HostKeyMismatchError, SudoRefusedError } from './errors.js';
export { fingerprintOf } from './known-hosts.js';

export interface SshOptions {
  /** Host name or address of the guest's sshd. */
  host: string;
  /** Default 22. */
  port?: number;
  /** Login user; default root. Any other user runs every command through `sudo -n --`. */
  user?: string;
  /** Unencrypted private key, read at every connect; refused when group or others can read it. */
  privateKeyPath: string;
  /** Pinned host key, `SHA256:<base64>` as `ssh-keygen -lf` prints it; without it: trust on first use. */
  fingerprint?: string;
  /** pvepatch's own record of first-use host keys (JSON, mode 0600), per `host:port`. */
  knownHostsPath: string;
  /** TCP connect + SSH handshake + authentication; default 10 s. */
  connectTimeoutMs?: number;
  /** Keepalive interval; 3 unanswered in a row end the connection. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** A command's timeout when the caller gives none. */
  defaultTimeoutMs: number;
}

const KEEPALIVE_COUNT_MAX = 3;
const CLOSE_GRACE_MS = 2000;

/** One SSH connection, shared by every command of a transport until it closes. */
class Connection {
  closed = false;

  constructor(readonly client: Client) {
    // after 'ready' an error (socket reset, keepalive timeout) is followed by 'close'
    client.on('error', () => {
      this.closed = true;
    });
    client.on('close', () => {
      this.closed = true;
    });
  }

  /** A session channel running `command` through the login user's shell. */
  open(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      try {
        this.client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch)));
      } catch (err) {
        reject(err);
      }
    });
  }

  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, CLOSE_GRACE_MS);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }
}

/**
 * Runs argv in a guest over SSH (VMs by policy, or without a QEMU guest agent): key
 * authentication only, the host key pinned or trusted on first use, one connection per transport
 * reused for every command and session (reopened on the next command after it dropped), closed by
 * `close()`. Every argv word is single-quoted for the remote login shell.
 */
export class SshTransport implements Transport {
  readonly name = 'ssh';
  private readonly guest: GuestRef;
  private readonly opts: SshOptions;
  private readonly host: string;
  private readonly port: number;
  private readonly user: string;
  private readonly pinned: string | undefined;
  private readonly knownHosts: KnownHosts;
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;

  constructor(guest: GuestRef, opts: SshOptions) {
    this.guest = guest;
    this.opts = opts;
    this.host = opts.host.trim();
    this.port = opts.port ?? 22;
    this.user = opts.user ?? 'root';
    if (!this.host) throw new PvepatchError('config-invalid', `no SSH host given for ${this.label}`);
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535)
      throw new PvepatchError('config-invalid', `invalid SSH port ${this.port} for ${this.label} - expected 1-65535`);
    if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(this.user))
      throw new PvepatchError('config-invalid', `invalid SSH user '${this.user}' for ${this.label}`);
    this.pinned = opts.fingerprint === undefined ? undefined : normalizeFingerprint(opts.fingerprint);
    this.knownHosts = new KnownHosts(opts.knownHostsPath);
  }

  async exec(argv: readonly string[], o: TransportExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = o.timeoutMs ?? this.opts.defaultTimeoutMs;
    const command = sshCommandLine(argv, this.user, o.env);
    const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    await this.connection(); // a connect failure is the connect's error, not this command's timeout
    const started = Date.now();
    const cap = { stdout: new Capture(max), stderr: new Capture(max) };
    let timedOut = false;
    let killed = false;
    const emit = (stream: OutputStream, text: string) => {
      if (text === '' || !o.onOutput) return;
      try {
        o.onOutput(stream, text);
      } catch {
        // a failing log writer must not take the command down
      }
    };
    const proc = channelProcess(this.openChannel(command), (stream, chunk) => {
      emit(stream, cap[stream].push(chunk));
      if (cap[stream].overflowed && (o.overflow ?? 'kill') === 'kill') {
        killed = true;
        proc.kill();
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killed = true;
      proc.kill();
    }, timeoutMs);
    if (o.input !== undefined && o.input !== '') proc.write(o.input);
    proc.end();
    let how: ChannelExit;
    try {
      how = await proc.exited;
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) throw this.timeoutError(argv, timeoutMs);
    emit('stdout', cap.stdout.end());
    emit('stderr', cap.stderr.end());
    const res: ExecResult = {
      exitCode: how.exitCode,
      signal: how.signal ?? (killed && how.noStatus ? 'SIGKILL' : null),
      stdout: cap.stdout.text(),
      stderr: cap.stderr.text(),
      truncated: cap.stdout.overflowed || cap.stderr.overflowed,
      durationMs: Date.now() - started,
      timedOut: false,
      bytes: { stdout: cap.stdout.bytes, stderr: cap.stderr.bytes },
    };
    if (how.noStatus && !killed) throw this.lost(argv);
    const sudo = this.sudoRefusal(argv, res);
    if (sudo) throw sudo;
    return res;
  }

  /** One `/bin/sh -s` on one channel (through `sudo -n` for a user other than root) for a whole stage. */
  openSession(): ShellSession {
    const command = sshCommandLine(['/bin/sh', '-s'], this.user);
    return new ShellSession((onData) => channelProcess(this.openChannel(command), onData), {
      timedOut: (argv, ms) => this.timeoutError(argv, ms),
      endedEarly: (argv, res) => this.endedEarly(argv, res),
    });
  }

  /** Ends the connection (a guest's run is over); a later command connects again. */
  async close(): Promise<void> {
    const pending = this.connecting;
    const conn = this.conn ?? (pending ? await pending.catch(() => undefined) : undefined);
    this.conn = undefined;
    await conn?.end();
  }

  private get label(): string {
    return `${this.guest.type === 'lxc' ? 'CT' : 'VM'} ${this.guest.vmid}`;
  }

  private get where(): string {
    return `${this.user}@${hostKeyId(this.host, this.port)}`;
  }

  private unreachable(reason: string, cause?: unknown): UnreachableError {
    return new UnreachableError(
      `unable to reach ${this.label} over SSH at ${this.where} - ${reason}`,
      cause === undefined ? undefined : { cause },
    );
  }

  /** The open connection, or a new one (the first command, or the first after it dropped or was closed). */
  private connection(): Promise<Connection> {
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    this.conn = undefined;
    if (!this.connecting) {
      const connecting = this.connect().then(
        (c) => {
          this.conn = c;
          this.connecting = undefined;
          return c;
        },
        (err: unknown) => {
          this.connecting = undefined;
          throw err;
        },
      );
      this.connecting = connecting;
    }
    return this.connecting;
  }

  /**
   * A channel for `command`. A connection found dead when opening it is replaced once: the
   * command never reached the guest, so sending it on a new connection cannot run it twice.
   */
  private async openChannel(command: string): Promise<ClientChannel> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.connection();
      try {
        return await conn.open(command);
      } catch (err) {
        const dead = conn.closed || /not connected/i.test(errorMessage(err));
        if (dead && attempt === 0) {
          conn.closed = true;
          continue;
        }
        throw dead
          ? this.unreachable(`the SSH connection was lost (${errorMessage(err)})`, err)
          : this.unreachable(
              `sshd refused a session channel (${errorMessage(err)}); check MaxSessions in the guest's sshd_config`,
              err,
            );
      }
    }
  }

  private async connect(): Promise<Connection> {
    const ssh2 = await loadSsh2();
    const privateKey = readPrivateKey(ssh2, this.opts.privateKeyPath);
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    return new Promise<Connection>((resolve, reject) => {
      const client = new ssh2.Client();
      let refusal: Error | undefined;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.destroy();
        reject(err);
      };
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        resolve(new Connection(client));
      });
      client.on('error', (err: Ssh2Error) => {
        fail(
          refusal ??
            this.unreachable(
              connectFailure(err, {
                host: this.host,
                port: this.port,
                user: this.user,
                key: this.opts.privateKeyPath,
                timeoutMs,
              }),
              err,
            ),
        );
      });
      client.on('close', () =>
        fail(refusal ?? this.unreachable('the server closed the connection during the handshake')),
      );
      try {
        client.connect({
          host: this.host,
          port: this.port,
          username: this.user,
          privateKey,
          readyTimeout: timeoutMs,
          keepaliveInterval: this.opts.keepaliveIntervalMs ?? 15_000,
          keepaliveCountMax: KEEPALIVE_COUNT_MAX,
          tryKeyboard: false,
          hostVerifier: (key: Buffer) => {
            refusal = this.hostKeyRefusal(key);
            return refusal === undefined;
          },
        });
      } catch (err) {
        fail(
          new PvepatchError(
            'config-invalid',
            `unable to use SSH key ${this.opts.privateKeyPath} - ${errorMessage(err)}`,
            { cause: err },
          ),
        );
      }
    });
  }

  /** Why the host key the server presented is not accepted, or undefined (recording it on first use). */
  private hostKeyRefusal(blob: Buffer): Error | undefined {
    const received = fingerprintOf(blob);
    const type = keyTypeOf(blob);
    const id = hostKeyId(this.host, this.port);
    if (this.pinned) {
      if (received === this.pinned) return undefined;
      return new HostKeyMismatchError(
        `unable to reach ${this.label} over SSH at ${this.where} - host key mismatch: the configured fingerprint is ` +
          `${this.pinned}, the server presented ${received} (${type}); nothing was run. If the guest's host key really ` +
          `changed (check on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), set the new fingerprint in its SSH settings`,
        this.pinned,
        received,
      );
    }
    try {
      const known = this.knownHosts.add(id, { type, fingerprint: received, added: new Date().toISOString() });
      if (known.fingerprint === received) return undefined;
      return new HostKeyMismatchError(
        `unable to reach ${this.label} over SSH at ${this.where} - the host key changed: pvepatch recorded ` +
          `${known.fingerprint} (${known.type}, first seen ${known.added}) for ${id} in ${this.knownHosts.path}, the server ` +
          `now presents ${received} (${type}); nothing was run. This is either someone between pvepatch and the guest or a ` +
          `guest with new host keys: compare with the guest console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), ` +
          `then remove the entry '${id}' from ${this.knownHosts.path} or set the guest's SSH fingerprint to the new key`,
        known.fingerprint,
        received,
      );
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private timeoutError(argv: readonly string[], timeoutMs: number): PvepatchError {
    return new PvepatchError(
      'timeout',
      `unable to run '${commandName(argv)}' on ${this.label} over SSH - no exit after ${Math.ceil(timeoutMs / 1000)}s`,
    );
  }

  private lost(argv: readonly string[]): UnreachableError {
    return new UnreachableError(
      `unable to finish '${commandName(argv)}' on ${this.label} over SSH at ${this.where} - the connection was lost ` +
        'before its exit status arrived; it may or may not have completed',
    );
  }

  /** The session's shell ended before the command's end marker. */
  private endedEarly(argv: readonly string[], res: ExecResult): Error {
    const sudo = this.sudoRefusal(argv, { ...res, stdout: '' });
    if (sudo) return sudo;
    if (res.exitCode === null && res.signal === null) return this.lost(argv);
    const how = res.exitCode === null ? `signal ${res.signal}` : `exit code ${res.exitCode}`;
    return new UnreachableError(
      `unable to finish '${commandName(argv)}' on ${this.label} over SSH - the guest shell ended first (${how}); is the guest still running?`,
    );
  }

  /**
   * sudo's own refusal before it ran anything: `sudo -n` exits 1 with `sudo: a password is
   * required`; a missing sudo is the shell's 127. Only short output counts: a long stderr is the
   * command's, and the command does not get to fake sudo.
   */
  private sudoRefusal(argv: readonly string[], res: ExecResult): SudoRefusedError | undefined {
    if (this.user === 'root' || res.stdout !== '' || res.stderr.length > 4096) return undefined;
    const lines = res.stderr.split('\n').map((l) => l.trim());
    const as = `run '${commandName(argv)}' as root on ${this.label} over SSH at ${this.where}`;
    if (res.exitCode === 1 && lines.includes('sudo: a password is required')) {
      return new SudoRefusedError(
        `unable to ${as} - sudo asks '${this.user}' for a password; allow it without one in the guest ` +
          `(visudo -f /etc/sudoers.d/pvepatch: '${this.user} ALL=(root) NOPASSWD: ALL') or log in as root`,
        'sudo-password',
      );
    }
    if (res.exitCode === 127 && lines.some((l) => /(^|: )sudo: (command )?not found$/.test(l))) {
      return new SudoRefusedError(
        `unable to ${as} - sudo is not installed in the guest; install it and allow '${this.user}' without a password, or log in as root`,
        'sudo-missing',
      );
    }
    return undefined;
  }
}

/** The private key, refused unless it is a regular file of ours that nobody else can read. */
type Ssh2 = typeof import('ssh2');
let ssh2Module: Promise<Ssh2> | undefined;

/**
 * ssh2 is loaded when the first SSH guest is reached: loading it costs about 15 MB of memory
 * (its crypto set-up) that a daemon without SSH guests should not carry.
 */
function loadSsh2(): Promise<Ssh2> {
  ssh2Module ??= import('ssh2').then((m) => ((m as { default?: Ssh2 }).default ?? m) as Ssh2);
  return ssh2Module;
}

function readPrivateKey(ssh2: Ssh2, path: string): Buffer {
  let data: Buffer;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new PvepatchError(
        'config-invalid',
        `unable to use SSH key ${path} - group or others can access it (mode ${mode}); chmod 600 ${path}`,
      );
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new PvepatchError(
        'config-invalid',
        `unable to use SSH key ${path} - it belongs to uid ${st.uid}, not to the daemon's user (uid ${uid})`,
      );
    }
    data = readFileSync(path);
  } catch (err) {
    if (err instanceof PvepatchError) throw err;
    throw new PvepatchError('config-invalid', `unable to read SSH key ${path} - ${errorMessage(err)}`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(data);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    const why = key instanceof Error ? key.message : 'no private key in it';
    throw new PvepatchError(
      'config-invalid',
      `unable to use SSH key ${path} - ${why}; pvepatch needs an unencrypted private key (ssh-keygen -t ed25519 -N '' -f ${path})`,
    );
  }
  return data;
}

/**
 * Guests whose policy gives SSH settings; the first-use host keys go to `<state_dir>/ssh_known_hosts.json`.
 * Containers too: an SSH login reaches one on another node, where pct cannot.
 */
export const ssh: TransportDef = {
  name: 'ssh',
  types: ['qemu', 'lxc'],
  refuses: (g, env) =>
    env.ssh
      ? null
      : `no SSH settings for ${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid} (its policy names no ssh host and key)`,
  create: (g, env) => {
    if (!env.ssh) throw new PvepatchError('config-invalid', `no SSH settings for guest ${g.vmid}`);
    return new SshTransport(g, {
      host: env.ssh.host,
      port: env.ssh.port,
      user: env.ssh.user,
      privateKeyPath: env.ssh.key,
      ...(env.ssh.fingerprint ? { fingerprint: env.ssh.fingerprint } : {}),
      knownHostsPath: env.config.known_hosts ?? join(env.config.state_dir, 'ssh_known_hosts.json'),
      defaultTimeoutMs: env.config.exec_timeout * 1000,
    });
  },
};
