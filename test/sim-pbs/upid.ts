import type { PbsTask } from './types.js';

export interface PbsTaskSpec {
  node?: string;
  pid?: number;
  pstart?: number;
  taskId?: number;
  /** Epoch seconds; default now. */
  starttime?: number;
  workerType: string;
  workerId?: string | null;
  /** `user@realm` or `user@realm!token`; default root@pam. */
  authId?: string;
  endtime?: number;
  status?: string;
}

/** proxmox-schema `escape_id`: `/` → `-`, anything but `[A-Za-z0-9_.]` (and a leading `.`) → `\xNN`. */
export function escapeWorkerId(id: string): string {
  let out = '';
  const bytes = Buffer.from(id, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    const ch = String.fromCharCode(c);
    if (ch === '/') out += '-';
    else if ((i === 0 && ch === '.') || !/[A-Za-z0-9_.]/.test(ch)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** A PBS task as the task list shows it, its UPID built as proxmox-schema's `UPID` Display does. */
export function makePbsTask(spec: PbsTaskSpec): PbsTask {
  const node = spec.node ?? 'pbs';
  const pid = spec.pid ?? 4242;
  const pstart = spec.pstart ?? 123_456;
  const starttime = spec.starttime ?? Math.floor(Date.now() / 1000);
  const workerId = spec.workerId ?? null;
  const user = spec.authId ?? 'root@pam';
  const wid = workerId === null ? '' : escapeWorkerId(workerId);
  const upid = `UPID:${node}:${hex8(pid)}:${hex8(pstart)}:${hex8(spec.taskId ?? 0)}:${hex8(starttime)}:${spec.workerType}:${wid}:${user}:`;
  return {
    upid,
    node,
    pid,
    pstart,
    starttime,
    worker_type: spec.workerType,
    worker_id: workerId,
    user,
    ...(spec.endtime === undefined ? {} : { endtime: spec.endtime }),
    ...(spec.status === undefined ? {} : { status: spec.status }),
  };
}
