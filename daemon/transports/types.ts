import type { Config } from '../config/schema.js';
import type { ExecResult, OutputStream } from '../core/exec.js';
import type { ShellSession } from '../drivers/shared/shell-session.js';
import type { ProxmoxClient } from '../proxmox/client.js';

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
  /**
   * Long work that changes the guest (an upgrade): a transport whose channel can break while it runs
   * (the guest agent restarts when its own package is upgraded) runs it detached inside the guest.
   */
  detach?: boolean;
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
  /** Ends a connection kept open between commands (called when the guest's work is done). */
  close?(): Promise<void>;
}

/** How pvepatch may reach one guest over SSH (from the guest's policy). */
export interface SshSettings {
  host: string;
  port: number;
  user: string;
  key: string;
  fingerprint?: string;
}

/** What creating a transport may use: the daemon's settings, its node and its API client. */
export interface TransportEnv {
  config: Config;
  /** The node this daemon runs on. */
  node: string;
  client: ProxmoxClient;
  /** Present when the guest's policy says how to reach it over SSH. */
  ssh?: SshSettings;
}

/** One way into guests: which guests it serves and how it is made. One folder and one registry line each. */
export interface TransportDef {
  readonly name: string;
  /** Guest types it can reach at all. */
  readonly types: readonly GuestRef['type'][];
  /** Why it cannot reach this guest from this daemon (another node, nothing configured), or null. */
  refuses(guest: GuestRef, env: TransportEnv): string | null;
  create(guest: GuestRef, env: TransportEnv): Transport;
}
