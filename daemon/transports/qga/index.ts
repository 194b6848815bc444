import { PvepatchError, UnreachableError } from '../../core/errors.js';
import { Capture, commandName, DEFAULT_MAX_OUTPUT, type ExecResult } from '../../core/exec.js';
import type { ProxmoxClient } from '../../proxmox/client.js';
import { nextPollMs } from '../../proxmox/tasks.js';
import { withEnv } from '../env-argv.js';
import type { GuestRef, Transport, TransportDef, TransportExecOptions } from '../types.js';
import { AgentApi, AgentUnavailableError } from './agent-api.js';
import { BOOT_MISMATCH, BOOTSTRAP, jobDir, KILL, POLL, parsePoll, RUNNER, RUNNER_SHA256 } from './runner.js';

export interface QgaOptions {
  defaultTimeoutMs: number;
  /** The runner and checksum sent for detached work (tests send a tampered one). */
  runner?: { text: string; sha256: string };
}

/** Bytes read from each stream of a detached job per poll (base64 keeps it well under the agent's 16 MiB cap). */
const POLL_CHUNK = 4 * 1024 * 1024;
const POLL_TIMEOUT_MS = 60_000;
const FIRST_JOB_POLL_MS = 200;

/**
 * Commands in a VM through the QEMU guest agent (`agent/exec` + polling `agent/exec-status`).
 * Each command is one API POST plus polls: the agent keeps no shell open, so there is no session.
 * Work marked `detach` (upgrades) runs in a detached runner whose output is polled from a file.
 */
export class QgaTransport implements Transport {
  readonly name = 'qga';
  readonly api: AgentApi;

  constructor(
    client: ProxmoxClient,
    private readonly guest: GuestRef,
    private readonly opts: QgaOptions,
  ) {
    this.api = new AgentApi(client, guest);
  }

  async exec(argv: readonly string[], o: TransportExecOptions = {}): Promise<ExecResult> {
    const full = withEnv(argv, o.env);
    if (o.detach) return this.detached(argv, full, o);
    return this.direct(argv, full, o);
  }

  /** agent/exec, then exec-status until it exits: fast at first, then with backoff. */
  private async direct(shown: readonly string[], argv: readonly string[], o: TransportExecOptions) {
    const timeoutMs = o.timeoutMs ?? this.opts.defaultTimeoutMs;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const pid = await this.api.exec(argv, o.input);
    if (pid === null) {
      // as a shell would answer for a program it cannot find
      const err = Buffer.from(`${commandName(shown)}: not found in VM ${this.guest.vmid}\n`);
      return this.result(o, {
        out: Buffer.alloc(0),
        err,
        exitCode: 127,
        signal: null,
        agentTruncated: false,
        started,
      });
    }
    let wait = 0;
    for (;;) {
      const st = await this.api.status(pid);
      if (st.exited) {
        return this.result(o, {
          out: Buffer.from(st['out-data'] ?? '', 'utf8'),
          err: Buffer.from(st['err-data'] ?? '', 'utf8'),
          exitCode: st.exitcode ?? null,
          signal: st.signal ?? null,
          agentTruncated: Boolean(st['out-truncated'] || st['err-truncated']),
          started,
        });
      }
      if (Date.now() >= deadline) {
        // the shell's own kill: minimal guests may have no kill(1) binary
        await this.api.exec(['/bin/sh', '-c', 'kill -KILL "$1"', 'pvepatch-kill', String(pid)]).catch(() => null);
        throw this.timeoutError(shown, timeoutMs);
      }
      wait = nextPollMs(Date.now() - started, wait);
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    }
  }

  /**
   * Starts the command in the detached runner and polls its job directory until it has an exit
   * status. The agent may go away meanwhile (it restarts when its own package is upgraded): polls
   * that fail for that reason are retried until the command's timeout.
   */
  private async detached(shown: readonly string[], argv: readonly string[], o: TransportExecOptions) {
    const timeoutMs = o.timeoutMs ?? this.opts.defaultTimeoutMs;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const runner = this.opts.runner ?? { text: RUNNER, sha256: RUNNER_SHA256 };
    const dir = jobDir();
    const boot = await this.direct(
      ['pvepatch-runner'],
      ['/bin/sh', '-c', BOOTSTRAP, 'pvepatch-runner', runner.sha256, dir, ...argv],
      { input: runner.text, timeoutMs: POLL_TIMEOUT_MS },
    );
    if (boot.exitCode === BOOT_MISMATCH) {
      throw new PvepatchError(
        'patch-failed',
        `unable to start '${commandName(shown)}' in VM ${this.guest.vmid} - the guest refused the runner: ${firstLine(boot.stderr)}`,
      );
    }
    if (boot.exitCode !== 0) {
      throw new PvepatchError(
        'patch-failed',
        `unable to start '${commandName(shown)}' in VM ${this.guest.vmid} - the runner did not start (exit ${boot.exitCode}): ${firstLine(boot.stderr)}`,
      );
    }
    const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const out = new Capture(max);
    const err = new Capture(max);
    let offsets = [0, 0] as [number, number];
    let wait = 0;
    let lastAgentError: string | undefined;
    for (;;) {
      const answer = await this.poll(dir, offsets).catch((e: unknown) => {
        if (e instanceof AgentUnavailableError && !e.permanent) {
          lastAgentError = e.message;
          return undefined; // the agent is restarting; the job runs on
        }
        throw e;
      });
      if (answer) {
        if (answer.gone) {
          throw new UnreachableError(
            `unable to finish '${commandName(shown)}' in VM ${this.guest.vmid} - its job directory ${dir} vanished (the guest rebooted?)`,
          );
        }
        this.feed(out, 'stdout', answer.out, o);
        this.feed(err, 'stderr', answer.err, o);
        offsets = [offsets[0] + answer.out.length, offsets[1] + answer.err.length];
        const drained = answer.out.length < POLL_CHUNK && answer.err.length < POLL_CHUNK;
        if (answer.rc !== null && drained) {
          await this.direct(['rm'], ['rm', '-rf', '--', dir], { timeoutMs: POLL_TIMEOUT_MS }).catch(() => {});
          return this.finish(o, out, err, answer.rc, started);
        }
        if (o.overflow !== 'drain' && (out.overflowed || err.overflowed)) {
          await this.kill(dir);
          return this.finish(o, out, err, null, started);
        }
      }
      if (Date.now() >= deadline) {
        await this.kill(dir);
        const why = lastAgentError && !answer ? ` (last: ${lastAgentError})` : '';
        throw new PvepatchError('timeout', `${this.timeoutError(shown, timeoutMs).message}${why}`);
      }
      wait = nextPollMs(Date.now() - started, wait, FIRST_JOB_POLL_MS);
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    }
  }

  private async poll(dir: string, [o, e]: [number, number]) {
    const res = await this.direct(
      ['pvepatch-poll'],
      ['/bin/sh', '-c', POLL, 'pvepatch-poll', dir, String(o), String(e), String(POLL_CHUNK)],
      { timeoutMs: POLL_TIMEOUT_MS, maxOutputBytes: 3 * POLL_CHUNK },
    );
    const answer = res.exitCode === 0 && !res.truncated ? parsePoll(res.stdout) : null;
    if (!answer) {
      throw new PvepatchError(
        'output-invalid',
        `unable to read the progress of a detached command in VM ${this.guest.vmid} - unexpected answer (exit ${res.exitCode}): ${firstLine(res.stderr || res.stdout)}`,
      );
    }
    return answer;
  }

  private async kill(dir: string): Promise<void> {
    await this.direct(['pvepatch-kill'], ['/bin/sh', '-c', KILL, 'pvepatch-kill', dir], {
      timeoutMs: POLL_TIMEOUT_MS,
    }).catch(() => {});
  }

  private feed(c: Capture, stream: 'stdout' | 'stderr', chunk: Buffer, o: TransportExecOptions): void {
    if (chunk.length === 0) return;
    const text = c.push(chunk);
    if (text && o.onOutput) o.onOutput(stream, text);
  }

  private finish(o: TransportExecOptions, out: Capture, err: Capture, rc: number | null, started: number): ExecResult {
    for (const [c, s] of [
      [out, 'stdout'],
      [err, 'stderr'],
    ] as const) {
      const rest = c.end();
      if (rest && o.onOutput) o.onOutput(s, rest);
    }
    return {
      exitCode: rc,
      signal: rc === null ? 'SIGKILL' : null,
      stdout: out.text(),
      stderr: err.text(),
      truncated: out.overflowed || err.overflowed,
      durationMs: Date.now() - started,
      timedOut: false,
      bytes: { stdout: out.bytes, stderr: err.bytes },
    };
  }

  /** A finished direct exec as an ExecResult; the agent's own truncation is truncation too. */
  private result(
    o: TransportExecOptions,
    r: {
      out: Buffer;
      err: Buffer;
      exitCode: number | null;
      signal: number | null;
      agentTruncated: boolean;
      started: number;
    },
  ): ExecResult {
    const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const out = new Capture(max);
    const err = new Capture(max);
    this.feed(out, 'stdout', r.out, o);
    this.feed(err, 'stderr', r.err, o);
    return {
      exitCode: r.signal !== null && r.exitCode === null ? null : r.exitCode,
      signal: r.signal !== null ? signalName(r.signal) : null,
      stdout: out.text(),
      stderr: err.text(),
      truncated: r.agentTruncated || out.overflowed || err.overflowed,
      durationMs: Date.now() - r.started,
      timedOut: false,
      bytes: { stdout: r.out.length, stderr: r.err.length },
    };
  }

  private timeoutError(argv: readonly string[], timeoutMs: number): PvepatchError {
    return new PvepatchError(
      'timeout',
      `unable to run '${commandName(argv)}' in VM ${this.guest.vmid} - no exit after ${Math.ceil(timeoutMs / 1000)}s`,
    );
  }
}

function firstLine(s: string): string {
  return (s.trim().split('\n')[0] ?? '').slice(0, 300);
}

function signalName(n: number): NodeJS.Signals {
  const names: Record<number, NodeJS.Signals> = { 1: 'SIGHUP', 2: 'SIGINT', 9: 'SIGKILL', 15: 'SIGTERM', 6: 'SIGABRT' };
  return names[n] ?? 'SIGKILL';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VMs on any node of the cluster: the agent is reached through the API, which proxies to the VM's node. */
export const qga: TransportDef = {
  name: 'qga',
  types: ['qemu'],
  refuses: () => null,
  create: (g, env) => new QgaTransport(env.client, g, { defaultTimeoutMs: env.config.exec_timeout * 1000 }),
};
