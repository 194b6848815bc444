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
  /** First poll interval; it stays this short for FAST_PHASE_MS, then grows by half up to MAX_POLL_MS. */
  pollMs?: number;
  /** Used in error messages: "unable to <what> - …" */
  what?: string;
}

/** Most snapshot and delete tasks end within a second or two: they are polled every 50 ms till then. */
export const FAST_POLL_MS = 50;
export const FAST_PHASE_MS = 2000;
export const MAX_POLL_MS = 1000;

/** The wait before the next poll, `elapsed` ms after the task started being polled. */
export function nextPollMs(elapsed: number, last: number, first = FAST_POLL_MS): number {
  if (elapsed < FAST_PHASE_MS) return first;
  return Math.min(MAX_POLL_MS, Math.max(first, Math.round(last * 1.5)));
}

/**
 * Polls a task until it stops, fast at first and with backoff after. A failed task throws 'task-failed' carrying Proxmox's exit status
 * (e.g. "snapshot feature is not available"); an overrun throws 'timeout' and leaves the task alone.
 */
export async function waitForTask(client: ProxmoxClient, upid: string, opts: WaitOptions = {}): Promise<TaskOutcome> {
  const { node } = parseUpid(upid);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const first = opts.pollMs ?? FAST_POLL_MS;
  const started = Date.now();
  let pollMs = first;
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
    pollMs = nextPollMs(Date.now() - started, pollMs, first);
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
}
