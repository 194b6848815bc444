import { taskErrorText, texts } from './errors.js';
import type { SimTaskInfo } from './types.js';

/** A task as the simulator keeps it; the log holds the final `TASK …` line once stopped. */
export interface TaskRecord extends SimTaskInfo {
  /** `worker`: runs a function (snapshot tasks); `control`: driven by the test (vzdump). */
  kind: 'worker' | 'control';
  warnings: number;
  /** Called once when the task stops, before its final log line (control tasks release their locks here). */
  onStop?: (exitstatus: string) => void;
  waiters: Array<(task: TaskRecord) => void>;
}

/** What a worker function may do; `checkpoint()` throws once the task was stopped from outside. */
export interface TaskContext {
  log(line: string): void;
  warn(line: string): void;
  checkpoint(): void;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** pve-common `UPID.pm` `encode`. */
export function encodeUpid(
  t: Pick<SimTaskInfo, 'node' | 'pid' | 'pstart' | 'starttime' | 'type' | 'id' | 'user'>,
): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.starttime)}:${t.type}:${t.id}:${t.user}:`;
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

/** pve-common `UPID.pm` `decode`; undefined when the text is not a UPID. */
export function decodeUpid(upid: string) {
  const m = UPID_RE.exec(upid);
  if (!m) return undefined;
  return {
    node: m[1]!,
    pid: Number.parseInt(m[3]!, 16),
    pstart: Number.parseInt(m[4]!, 16),
    starttime: Number.parseInt(m[5]!, 16),
    type: m[6]!,
    id: m[7]!,
    user: m[8]!,
  };
}

/** pve-common `UPID.pm` `normalize_status_type`; a running task (no status yet) counts as unknown. */
export function statusType(status: string | undefined): 'ok' | 'warning' | 'error' | 'unknown' {
  if (!status || status === 'unexpected status') return 'unknown';
  if (status === 'OK') return 'ok';
  if (/^WARNINGS: \d+$/.test(status)) return 'warning';
  return 'error';
}

/** The last line of a task log for an exit status (pve-common `RESTEnvironment.pm` `fork_worker`). */
function finalLine(exitstatus: string): string {
  if (exitstatus === 'OK') return 'TASK OK';
  if (/^WARNINGS: \d+$/.test(exitstatus)) return `TASK ${exitstatus}`;
  return `TASK ERROR: ${exitstatus}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** All tasks of the simulated cluster, oldest first. */
export class TaskStore {
  readonly all: TaskRecord[] = [];
  /** Stopped tasks in the order they ended (the node's task index file). */
  readonly archive: TaskRecord[] = [];
  private nextPid = 200_000;
  private readonly bootTime = nowSeconds() - 86_400;

  create(opts: { node: string; type: string; id: string; user: string; kind: TaskRecord['kind'] }): TaskRecord {
    const pid = this.nextPid++;
    const base = { ...opts, pid, pstart: (nowSeconds() - this.bootTime) * 100 + (pid % 100), starttime: nowSeconds() };
    const task: TaskRecord = { ...base, upid: encodeUpid(base), status: 'running', log: [], warnings: 0, waiters: [] };
    this.all.push(task);
    return task;
  }

  /** fork_worker: returns the UPID at once and runs `fn` afterwards; the outcome becomes the exit status. */
  runWorker(opts: Omit<Parameters<TaskStore['create']>[0], 'kind'>, fn: (ctx: TaskContext) => Promise<void>): string {
    const task = this.create({ ...opts, kind: 'worker' });
    const ctx: TaskContext = {
      log: (line) => this.log(task, line),
      warn: (line) => {
        task.warnings++;
        this.log(task, line);
      },
      checkpoint: () => {
        if (task.status !== 'running') throw new Error(texts.interrupted);
      },
    };
    setImmediate(() => {
      fn(ctx).then(
        () => this.finish(task, task.warnings > 0 ? `WARNINGS: ${task.warnings}` : 'OK'),
        (err: unknown) => this.finish(task, taskErrorText(err)),
      );
    });
    return task.upid;
  }

  log(task: TaskRecord, line: string): void {
    if (task.status === 'running') task.log.push(line);
  }

  /** Stops a running task with this exit status; a no-op for a stopped one. */
  finish(task: TaskRecord, exitstatus: string): void {
    if (task.status !== 'running') return;
    task.onStop?.(exitstatus);
    task.log.push(finalLine(exitstatus));
    task.status = 'stopped';
    task.exitstatus = exitstatus;
    task.endtime = nowSeconds();
    this.archive.push(task);
    for (const resolve of task.waiters.splice(0)) resolve(task);
  }

  /** DELETE /nodes/{node}/tasks/{upid}: a kill of the worker's process group. */
  stop(task: TaskRecord): void {
    this.finish(task, task.type === 'vzdump' ? texts.vzdumpInterrupted : texts.interrupted);
  }

  byUpid(upid: string): TaskRecord | undefined {
    return this.all.find((t) => t.upid === upid);
  }

  wait(task: TaskRecord): Promise<TaskRecord> {
    if (task.status === 'stopped') return Promise.resolve(task);
    return new Promise((resolve) => task.waiters.push(resolve));
  }
}

/** A copy without the simulator's internals. */
export function taskInfo(t: TaskRecord): SimTaskInfo {
  const info: SimTaskInfo = {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    user: t.user,
    status: t.status,
    log: [...t.log],
  };
  if (t.exitstatus !== undefined) info.exitstatus = t.exitstatus;
  if (t.endtime !== undefined) info.endtime = t.endtime;
  return info;
}
