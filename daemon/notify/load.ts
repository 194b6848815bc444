/**
 * Reads notifications.conf. A missing file means the default channels (see detect.ts). The file
 * says where notifications go and which secret files are sent where, so only root (or the user
 * running pvepatch) may write it. A channel whose secret file is not private (mode 0600 or 0400,
 * root-owned) is refused, with the reason, and the other channels still work.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import type { ChannelConfig } from './channel-types.js';
import { MAX_NOTIFY_CONFIG_BYTES, parseNotifyConfig } from './config.js';
import { type ChannelProbe, defaultChannels } from './detect.js';
import { secretFileProblem } from './secrets.js';

export const DEFAULT_NOTIFY_CONFIG_PATH = '/etc/pvepatch/notifications.conf';

export interface RefusedChannel {
  name: string;
  reason: string;
}

export interface LoadedNotifyConfig {
  /** 'default' when the file does not exist. */
  source: 'file' | 'default';
  channels: ChannelConfig[];
  refused: RefusedChannel[];
}

export interface LoadOptions {
  probe?: ChannelProbe;
  /** Besides root, the uid that may own the file and the secret files. */
  uid?: number;
}

/** Throws a config-invalid PvepatchError when the file cannot be read or parsed. */
export function loadNotifyConfig(path = DEFAULT_NOTIFY_CONFIG_PATH, opts: LoadOptions = {}): LoadedNotifyConfig {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const text = readConfig(path, uid);
  if (text === undefined) return { source: 'default', channels: defaultChannels(opts.probe), refused: [] };
  const channels: ChannelConfig[] = [];
  const refused: RefusedChannel[] = [];
  for (const c of parseNotifyConfig(text, path, opts.probe)) {
    const problem = secretFiles(c)
      .map((f) => secretFileProblem(f, uid))
      .find((p) => p !== undefined);
    if (problem) refused.push({ name: c.name, reason: `channel '${c.name}' refused - ${problem}` });
    else channels.push(c);
  }
  return { source: 'file', channels, refused };
}

function secretFiles(c: ChannelConfig): string[] {
  if (c.kind === 'webhook') return c.secret_file ? [c.secret_file] : [];
  if (c.kind === 'smtp') return c.password_file ? [c.password_file] : [];
  return [];
}

function readConfig(path: string, uid: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readError(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw readError(path, 'it is not a regular file');
    if (st.uid !== 0 && st.uid !== uid)
      throw readError(path, `it belongs to uid ${st.uid}; run: chown root:root ${path}`);
    if ((st.mode & 0o022) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw readError(path, `group or others may write it (mode ${mode}); run: chmod 644 ${path}`);
    }
    const buf = Buffer.alloc(MAX_NOTIFY_CONFIG_BYTES + 1);
    let got = 0;
    for (let n = 1; n > 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, null);
    if (got > MAX_NOTIFY_CONFIG_BYTES) throw readError(path, `it is larger than ${MAX_NOTIFY_CONFIG_BYTES} bytes`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, got));
    } catch {
      throw readError(path, 'it is not valid UTF-8');
    }
  } finally {
    closeSync(fd);
  }
}

function readError(path: string, cause: string): PvepatchError {
  return new PvepatchError('config-invalid', `unable to read notification config '${path}' - ${cause}`);
}
