/**
 * Polls one shared file for changes. pmxcfs tells nobody when another node writes a file (no
 * inotify across nodes), so readers compare mtime, size and a SHA-256 of the content at an
 * interval; mtime alone is too coarse (pmxcfs keeps whole seconds) and may come from another
 * node's clock.
 */
import { createHash } from 'node:crypto';
import { type ClusterFs, nodeClusterFs } from './cluster-fs.js';
import { readSharedFile } from './shared-file.js';

export interface FileSignature {
  mtimeMs: number;
  size: number;
  sha256: string;
}

export interface FileChange {
  /** The new content, undefined when the file is (now) missing. */
  content: Buffer | undefined;
  signature: FileSignature | undefined;
}

export interface PollFileOptions {
  intervalMs: number;
  /** Called for the first observation and after every change (one call at a time). */
  onChange: (change: FileChange) => void | Promise<void>;
  /** Called when a poll fails (the next poll still runs); default: ignored. */
  onError?: (err: unknown) => void;
  signal?: AbortSignal;
  fs?: ClusterFs;
}

export interface FilePoller {
  /** Stops polling; resolves once the poll in flight (if any) has finished. */
  stop(): Promise<void>;
}

function sameSignature(a: FileSignature | undefined, b: FileSignature | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.sha256 === b.sha256;
}

async function observe(path: string, fs: ClusterFs): Promise<FileChange> {
  const content = await readSharedFile(path, { fs });
  if (content === undefined) return { content, signature: undefined };
  const st = await fs.stat(path).catch(() => undefined);
  const sha256 = createHash('sha256').update(content).digest('hex');
  return { content, signature: { mtimeMs: st?.mtimeMs ?? 0, size: content.length, sha256 } };
}

export function pollFile(path: string, options: PollFileOptions): FilePoller {
  const fs = options.fs ?? nodeClusterFs;
  let stopped = false;
  let first = true;
  let last: FileSignature | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    try {
      const change = await observe(path, fs);
      if (stopped) return;
      if (first || !sameSignature(last, change.signature)) {
        first = false;
        last = change.signature;
        await options.onChange(change);
      }
    } catch (err) {
      options.onError?.(err);
    }
  };
  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = tick().then(() => schedule(options.intervalMs));
    }, delay);
  };
  const stop = async (): Promise<void> => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await inFlight;
  };
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  if (options.signal?.aborted) stopped = true;
  schedule(0);
  return { stop };
}
