/**
 * The QEMU guest agent calls of the PVE API (qemu-server `API2/Qemu/Agent.pm`): exec, exec-status,
 * ping. Every call goes through PVE's precondition checks; their texts are turned into errors that
 * say what to do.
 */
import { z } from 'zod';
import { PvepatchError, UnreachableError } from '../../core/errors.js';
import type { ProxmoxClient } from '../../proxmox/client.js';
import { ProxmoxApiError } from '../../proxmox/errors.js';
import type { GuestRef } from '../types.js';

/** PVE's `input-data` limit (schema maxLength). */
export const MAX_INPUT = 65_536;

const flag = z.union([z.boolean(), z.number(), z.string()]).transform((v) => v === true || v === 1 || v === '1');

/** exec-status: booleans arrive as 0/1, out/err already decoded by PVE. */
const ExecStatus = z.looseObject({
  exited: flag,
  exitcode: z.coerce.number().int().optional(),
  signal: z.coerce.number().int().optional(),
  'out-data': z.string().optional(),
  'err-data': z.string().optional(),
  'out-truncated': flag.optional(),
  'err-truncated': flag.optional(),
});
export type ExecStatus = z.infer<typeof ExecStatus>;

/** The agent's precondition failures (PVE checks: configured, VM running, agent answering) and what to do. */
const PRECONDITIONS: readonly { text: string; fix: string; permanent: boolean }[] = [
  {
    text: 'No QEMU guest agent configured',
    fix: "enable it with 'qm set <vmid> --agent 1' (effective after the VM's next cold start) or use transport ssh",
    permanent: true,
  },
  {
    text: 'QEMU guest agent is not running',
    fix: 'install and start qemu-guest-agent in the guest (pvepatch agent ensure) or use transport ssh',
    permanent: false,
  },
  // after the agent's own text, which also ends in "is not running"
  { text: 'is not running', fix: 'start the VM first', permanent: true },
];

/** An agent that cannot be used: `permanent` when waiting will not help (not configured, VM stopped). */
export class AgentUnavailableError extends UnreachableError {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.permanent = permanent;
  }
}

export class AgentApi {
  constructor(
    private readonly client: ProxmoxClient,
    readonly guest: GuestRef,
  ) {}

  private path(rest: string): string {
    return `/nodes/${encodeURIComponent(this.guest.node)}/qemu/${this.guest.vmid}/agent/${rest}`;
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.request('POST', this.path('ping')));
  }

  /**
   * Starts argv (exec'd directly by the agent, no shell); returns the guest pid, or null when the
   * program does not exist in the guest (qemu-ga fails the call itself: "Failed to execute child process").
   */
  async exec(argv: readonly string[], input?: string): Promise<number | null> {
    if (input !== undefined && input.length > MAX_INPUT) {
      throw new PvepatchError('internal', `agent input of ${input.length} characters exceeds PVE's ${MAX_INPUT}`);
    }
    let res: unknown;
    try {
      res = await this.call(() =>
        this.client.request<{ pid: number }>('POST', this.path('exec'), {
          command: [...argv],
          ...(input === undefined ? {} : { 'input-data': input }),
        }),
      );
    } catch (err) {
      if (err instanceof ProxmoxApiError && err.message.includes('Failed to execute child process')) return null;
      throw err;
    }
    const pid = z.looseObject({ pid: z.coerce.number().int() }).parse(res).pid;
    return pid;
  }

  /** One-shot: once it says exited, the agent forgets the pid. */
  async status(pid: number): Promise<ExecStatus> {
    const res = await this.call(() => this.client.get(this.path('exec-status'), { pid }), pid);
    return ExecStatus.parse(res);
  }

  /** Turns PVE's agent refusals into errors that name the VM and the fix. */
  private async call<T>(fn: () => Promise<T>, pid?: number): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ProxmoxApiError) || err.status !== 500) throw err;
      const vm = `VM ${this.guest.vmid}`;
      for (const p of PRECONDITIONS) {
        if (err.message.includes(p.text)) {
          const said = p.text === 'is not running' ? `${vm} is not running` : p.text;
          throw new AgentUnavailableError(
            `unable to reach ${vm} through the guest agent - ${said}; ${p.fix}`,
            p.permanent,
            err,
          );
        }
      }
      if (pid !== undefined && /does not exist|not found/i.test(err.message)) {
        throw new AgentUnavailableError(
          `unable to read the result of guest pid ${pid} in ${vm} - the agent no longer knows it (it restarted?)`,
          false,
          err,
        );
      }
      throw err;
    }
  }
}
