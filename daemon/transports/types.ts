import type { ExecResult, OutputStream } from '../core/exec.js';
import type { ShellSession } from '../drivers/shared/shell-session.js';

/** What a transport needs to know about the guest it talks to. */
export interface GuestRef {
  vmid: number;
  node: string;
  type: 'lxc' | 'qemu';
  name?: string;
}

export interface TransportExecOptions {
  timeoutMs?: number;
  input?: string;
  /** Extra environment for the command inside the guest (set with `env` in the argv, never via a shell). */
  env?: Record<string, string>;
  /** Cap per output stream; beyond it `truncated` is set (see core/exec.ts). */
  maxOutputBytes?: number;
  /** 'kill' ends a command whose output passed the cap, 'drain' lets it finish. */
  overflow?: 'kill' | 'drain';
  onOutput?: (stream: OutputStream, chunk: string) => void;
}

/**
 * Runs argv inside a guest. A non-zero exit code is data; `exec` throws (UnreachableError or a
 * PvepatchError with code 'timeout') only when the guest cannot be reached or the command overran.
 * Output is bounded and `truncated` says when it was cut; what that means is the caller's call.
 */
export interface Transport {
  readonly name: string;
  exec(argv: readonly string[], opts?: TransportExecOptions): Promise<ExecResult>;
  /**
   * Opens one guest shell for many commands (one round trip for a whole stage); absent when the
   * transport cannot keep a shell open, and then every command is its own exec.
   */
  openSession?(): ShellSession;
}
