/**
 * pvepatch's own record of the SSH host keys it met first (trust on first use), one entry per
 * `host:port`: a JSON file of mode 0600, rewritten atomically (temp file, fsync, rename).
 * Never the system's or a user's known_hosts: what pvepatch trusted is its own decision.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { PvepatchError } from '../../core/errors.js';

export interface KnownHost {
  /** The key's algorithm as the server sent it (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …). */
  type: string;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** When pvepatch first met (and recorded) it. */
  added: string;
}

interface KnownHostsFile {
  version: 1;
  hosts: Record<string, KnownHost>;
}

/** The fingerprint of a host key blob (SSH wire format), as `ssh-keygen -lf` prints it. */
export function fingerprintOf(blob: Buffer): string {
  const b64 = createHash('sha256').update(blob).digest('base64');
  const pad = b64.indexOf('=');
  return `SHA256:${pad < 0 ? b64 : b64.slice(0, pad)}`;
}

/** The algorithm name at the start of a host key blob. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && len <= 64 && blob.length >= 4 + len ? blob.toString('latin1', 4, 4 + len) : 'unknown';
}

/** `host:port`, with an IPv6 address in brackets (`[::1]:22`). */
export function hostKeyId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Accepts `SHA256:<base64>` (padding optional) and returns it without padding. */
export function normalizeFingerprint(fp: string): string {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(fp.trim());
  if (!m) {
    throw new PvepatchError(
      'config-invalid',
      `invalid SSH host key fingerprint '${fp}' - expected SHA256:<base64> as 'ssh-keygen -lf <host key>.pub' prints it`,
    );
  }
  return `SHA256:${m[1]}`;
}

export class KnownHosts {
  constructor(readonly path: string) {}

  get(id: string): KnownHost | undefined {
    return this.read().hosts[id];
  }

  /** Records a first-use key and returns the entry on file: an existing one is never replaced. */
  add(id: string, entry: KnownHost): KnownHost {
    const file = this.read();
    const known = file.hosts[id];
    if (known) return known;
    file.hosts[id] = entry;
    this.write(file);
    return entry;
  }

  private read(): KnownHostsFile {
    let text: string;
    try {
      const st = statSync(this.path);
      if ((st.mode & 0o022) !== 0) {
        throw new PvepatchError(
          'config-invalid',
          `unable to trust SSH known hosts file ${this.path} - it is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 ${this.path}`,
        );
      }
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, hosts: {} };
      if (err instanceof PvepatchError) throw err;
      throw new PvepatchError('config-invalid', `unable to read SSH known hosts file ${this.path} - ${err}`, {
        cause: err,
      });
    }
    try {
      const parsed = JSON.parse(text) as Partial<KnownHostsFile>;
      if (parsed.version !== 1 || typeof parsed.hosts !== 'object' || parsed.hosts === null) throw new Error('not v1');
      return { version: 1, hosts: parsed.hosts };
    } catch (err) {
      throw new PvepatchError(
        'config-invalid',
        `unable to read SSH known hosts file ${this.path} - it is not pvepatch's JSON format (${(err as Error).message})`,
        { cause: err },
      );
    }
  }

  private write(file: KnownHostsFile): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
