import { spawn } from 'node:child_process';
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import os, { constants } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RebootTimeout } from '../sim/power.js';
import type { AgentBackend, AgentExecResult, AgentProcess, PowerBackend } from '../sim/types.js';
import type { GuestPaths } from './lab-guest.js';

/**
 * Lab guests as VMs: the QEMU guest agent (qemu-ga `guest-exec`) and the hypervisor's power actions,
 * acting on the same guest roots and namespaces the pct shim runs (see readme.md "VMs").
 */

/** The environment qemu-ga's children get (systemd's default PATH, nothing else: no TERM, no HOME). */
export const AGENT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/** What the backends need from the Lab. */
export interface LabVmDeps {
  paths(vmid: number): GuestPaths;
  stop(vmid: number): Promise<void>;
  start(vmid: number): Promise<void>;
}

interface InitProcess {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot when it started. */
  start: number;
}

/** The guest's pid 1 as the shim recorded it, if that process is still the one ("<host pid> <start time>"). */
export async function initProcess(p: GuestPaths): Promise<InitProcess | undefined> {
  const text = await readFile(path.join(p.dir, 'init.pid'), 'utf8').catch(() => '');
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const fields = await statFields(Number(m[1]));
  if (!fields || fields[19] !== m[2]) return undefined;
  return { pid: Number(m[1]), start: Number(m[2]) };
}

/** /proc/<pid>/stat after the `(comm)` field: index 0 is field 3 (state), 3 is the session (field 6). */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64/arm64

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** A bounded capture of one stream, as qemu-ga keeps it (`GUEST_EXEC_MAX_OUTPUT`, the rest is dropped). */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  add(chunk: Buffer): void {
    const room = this.max - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(part);
    this.size += part.length;
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * The agent of lab VMs. `exec` starts argv like qemu-ga's `guest-exec`: entered into the guest's
 * namespaces and root (nsenter, as the pct shim's exec), exec'd directly (no shell; PATH lookup as
 * g_spawn's G_SPAWN_SEARCH_PATH), cwd `/` (that of the guest's pid 1), environment AGENT_ENV, stdin = input-data or /dev/null,
 * stdout/stderr captured. Each exec gets its own session (the host-side nsenter is its leader); the
 * agent's restart kills every process still in one of those sessions. A process that calls `setsid`
 * (or is started by `systemd-run`) leaves it and survives.
 */
export class LabAgentBackend implements AgentBackend {
  /** vmid → host pids of the session leaders (nsenter) of running execs. */
  private readonly sessions = new Map<number, Set<number>>();
  private fallbackPid = 60_000;
  /** nsenter leader → its child's host pid while guestPid waits for the exec. */
  private readonly childOf = new Map<number, number>();

  constructor(private readonly deps: LabVmDeps) {}

  async alive(vmid: number): Promise<boolean> {
    return (await initProcess(this.deps.paths(vmid))) !== undefined;
  }

  async exec(vmid: number, argv: string[], opts: { inputData?: Buffer; maxOutput: number }): Promise<AgentProcess> {
    const init = await initProcess(this.deps.paths(vmid));
    if (!init) throw new Error(`guest ${vmid} is not running`);
    if (argv.length === 0) throw new Error("Parameter 'path' is missing");
    const nsenter = ['--target', String(init.pid), '--mount', '--uts', '--pid', '--root', '--wd', '--', ...argv];
    const child = spawn('nsenter', nsenter, {
      env: AGENT_ENV,
      detached: true, // setsid(): the session (and process group) of this exec
      stdio: [opts.inputData ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const leader = child.pid;
    if (leader === undefined) throw new Error('Failed to execute child process (spawn failed)');
    let sessions = this.sessions.get(vmid);
    if (!sessions) {
      sessions = new Set();
      this.sessions.set(vmid, sessions);
    }
    sessions.add(leader);
    const out = new Capture(opts.maxOutput);
    const err = new Capture(opts.maxOutput);
    child.stdout?.on('data', (c: Buffer) => out.add(c));
    child.stderr?.on('data', (c: Buffer) => err.add(c));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the program may exit without reading its input
      child.stdin.end(opts.inputData);
    }
    const done = new Promise<AgentExecResult>((resolve) => {
      // 'close': exited and both pipes at EOF - qemu-ga reports `exited` only then, too
      child.on('close', (code, signal) => {
        sessions.delete(leader);
        const result: AgentExecResult = {
          out: out.buffer(),
          err: err.buffer(),
          outTruncated: out.truncated,
          errTruncated: err.truncated,
        };
        if (signal) result.signal = SIGNAL_NUMBERS[signal] ?? 0;
        else result.exitcode = code ?? 0;
        resolve(result);
      });
    });
    const pid = await this.guestPid(leader, done);
    const failed = await Promise.race([done, sleep(0).then(() => undefined)]);
    const spawnError =
      failed?.exitcode === 127 && /^nsenter: failed to execute [^:]+: (.*)$/m.exec(err.buffer().toString());
    if (spawnError) {
      // g_spawn fails in qemu-ga itself: the exec command errors, there is no pid
      throw new Error(`Failed to execute child process “${argv[0]}” (${spawnError[1]})`);
    }
    return { pid, done };
  }

  /**
   * The exec'd program's pid as the guest sees it (NSpid of nsenter's child), once the child has either
   * exec'd the program (its exe is no longer nsenter) or ended - so a failed exec is known before the
   * pid is handed out. A program that is gone before it could be read gets a made-up pid from a range
   * the guest's own pids do not reach here.
   */
  private async guestPid(leader: number, done: Promise<AgentExecResult>): Promise<number> {
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    const nsenterExe = await realpath(`/proc/${leader}/exe`).catch(() => undefined);
    let pid: number | undefined;
    for (let i = 0; i < 500 && !finished; i++) {
      if (pid === undefined) {
        const children = await readFile(`/proc/${leader}/task/${leader}/children`, 'utf8').catch(() => '');
        const first = children.trim().split(' ')[0];
        if (first) {
          const status = await readFile(`/proc/${first}/status`, 'utf8').catch(() => '');
          const ns = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
          if (ns && ns.length > 1) pid = Number(ns.at(-1));
          if (pid !== undefined) {
            const exe = await readlink(`/proc/${first}/exe`).catch(() => undefined);
            if (exe !== undefined && exe !== nsenterExe) return pid;
            this.childOf.set(leader, Number(first));
          }
        }
      } else {
        const child = this.childOf.get(leader);
        const exe = await readlink(`/proc/${child}/exe`).catch(() => undefined);
        if (exe !== undefined && exe !== nsenterExe) return pid;
      }
      await sleep(2);
    }
    this.childOf.delete(leader);
    if (finished) await done;
    return pid ?? this.fallbackPid++;
  }

  /** The agent service restarts: SIGKILL to every process still in the session of one of its execs. */
  async restart(vmid: number): Promise<void> {
    const leaders = this.sessions.get(vmid);
    if (!leaders || leaders.size === 0) return;
    const victims: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = await statFields(Number(entry));
      if (fields && leaders.has(Number(fields[3]))) victims.push(Number(entry));
    }
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    leaders.clear();
  }

  /** `guest-get-osinfo` from the guest's os-release and the (shared) kernel. */
  async osinfo(vmid: number): Promise<Record<string, string>> {
    const root = this.deps.paths(vmid).root;
    const text =
      (await readFile(path.join(root, 'etc/os-release'), 'utf8').catch(() => undefined)) ??
      (await readFile(path.join(root, 'usr/lib/os-release'), 'utf8').catch(() => ''));
    const fields: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) fields[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
    }
    const info: Record<string, string> = {
      'kernel-release': os.release(),
      'kernel-version': os.version(),
      machine: os.machine(),
    };
    const keys: Array<[string, string]> = [
      ['ID', 'id'],
      ['NAME', 'name'],
      ['PRETTY_NAME', 'pretty-name'],
      ['VERSION', 'version'],
      ['VERSION_ID', 'version-id'],
      ['VARIANT', 'variant'],
      ['VARIANT_ID', 'variant-id'],
    ];
    for (const [from, to] of keys) if (fields[from] !== undefined) info[to] = fields[from];
    return info;
  }
}

/**
 * Power actions on lab guests (VMs and containers alike). A reboot stops the guest's namespaces (every
 * process dies, as in a real reboot), waits `gapMs`, and starts it again (the shim's start empties /run).
 */
export class LabPowerBackend implements PowerBackend {
  /** Guests whose next shutdown hangs (the guest ignores the request), so a reboot times out. */
  private readonly hangShutdown = new Set<number>();
  gapMs = 200;

  constructor(private readonly deps: LabVmDeps) {}

  /** The guest ignores shutdown requests (on) or obeys them again (off). */
  ignoreShutdown(vmid: number, on: boolean): void {
    if (on) this.hangShutdown.add(vmid);
    else this.hangShutdown.delete(vmid);
  }

  async running(vmid: number): Promise<boolean> {
    return (await initProcess(this.deps.paths(vmid))) !== undefined;
  }

  async uptime(vmid: number): Promise<number | undefined> {
    const init = await initProcess(this.deps.paths(vmid));
    if (!init) return undefined;
    const hostUptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    return Math.max(0, Math.floor(hostUptime - init.start / CLK_TCK));
  }

  async reboot(vmid: number, opts: { timeoutMs: number; noReturn: boolean }): Promise<{ started: Promise<void> }> {
    if (this.hangShutdown.has(vmid)) {
      await sleep(opts.timeoutMs);
      throw new RebootTimeout(vmid, opts.timeoutMs);
    }
    if (await this.running(vmid)) await this.deps.stop(vmid);
    if (opts.noReturn) return { started: new Promise<void>(() => {}) };
    const started = sleep(this.gapMs).then(() => this.deps.start(vmid));
    started.catch(() => {});
    return { started };
  }
}
