import { z } from 'zod';
import { PvepatchError } from '../core/errors.js';
import type { ProxmoxClient } from './client.js';
import { parseUpid, taskSucceeded } from './upid.js';

const TaskStatus = z.looseObject({
  status: z.string(),
  exitstatus: z.string().optional(),
  type: z.string().optional(),
});

export interface TaskOutcome {
  upid: string;
  exitstatus: string;
  /** Date.now() when the task was seen finished. */
  finishedAt: number;
}

export interface WaitOptions {
  timeoutMs?: number;
  pollMs?: number;
  /** Used in error messages: "unable to <what> - …" */
  what?: string;
}

/**
 * Polls a task until it stops. A failed task throws 'task-failed' carrying Proxmox's exit status
 * (e.g. "snapshot feature is not available"); an overrun throws 'timeout' and leaves the task alone.
 */
export async function waitForTask(client: ProxmoxClient, upid: string, opts: WaitOptions = {}): Promise<TaskOutcome> {
  const { node } = parseUpid(upid);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const pollMs = opts.pollMs ?? 250;
  const what = opts.what ?? `finish task ${upid}`;
  const deadline = Date.now() + timeoutMs;
  const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`;
  for (;;) {
    const st = TaskStatus.parse(await client.get(path));
    if (st.status === 'stopped') {
      const exitstatus = st.exitstatus ?? 'unexpected status';
      if (!taskSucceeded(exitstatus)) {
        throw new PvepatchError('task-failed', `unable to ${what} - ${exitstatus}`, { details: { upid, exitstatus } });
      }
      return { upid, exitstatus, finishedAt: Date.now() };
    }
    if (Date.now() >= deadline) {
      throw new PvepatchError(
        'timeout',
        `unable to ${what} - task still running after ${timeoutMs / 1000}s (${upid})`,
        {
          details: { upid },
        },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
