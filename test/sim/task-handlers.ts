import { die, paramError, texts } from './errors.js';
import type { Handler, HandlerContext } from './router.js';
import { splitList } from './schema-validate.js';
import { decodeUpid, statusType, type TaskRecord } from './tasks.js';
import { TOKENID_RE } from './wire.js';

/** Task endpoints: pve-manager `PVE/API2/Tasks.pm` and `PVE/API2/Cluster.pm` `tasks`. */

/** `$convert_token_task`: `user@realm!token` becomes `user` + `tokenid`. */
function withToken(entry: Record<string, unknown>, authid: string): Record<string, unknown> {
  const m = TOKENID_RE.exec(authid);
  if (m) Object.assign(entry, { user: m[1], tokenid: m[2] });
  return entry;
}

function decoded(t: TaskRecord): Record<string, unknown> {
  const entry = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime };
  return withToken({ ...entry, type: t.type, id: t.id, user: t.user }, t.user);
}

/**
 * GET /cluster/tasks: per node every running task, topped up with finished ones to 25 (`active_workers`); without
 * `Sys.Audit` on `/` only the tasks whose (token-split) `user` is the caller (`Cluster.pm` `tasks`).
 */
export const clusterTasks: Handler = (ctx) => {
  const all = ctx.state.access.check(ctx.authid, '/', ['Sys.Audit']);
  const out: Record<string, unknown>[] = [];
  for (const node of ctx.state.nodes) {
    const mine = ctx.state.tasks.all.filter((t) => t.node === node);
    const running = mine.filter((t) => t.status === 'running');
    const finished = mine.filter((t) => t.status === 'stopped').sort((a, b) => b.starttime - a.starttime);
    for (const t of [...running, ...finished.slice(0, Math.max(0, 25 - running.length))]) {
      const { pstart: _pstart, pid, ...entry } = decoded(t);
      if (!all && entry.user !== ctx.authid) continue;
      if (t.status === 'running') out.push({ ...entry, pid, saved: '0' });
      else out.push({ ...entry, saved: '1', endtime: t.endtime, status: t.exitstatus });
    }
  }
  return out;
};

/** GET /nodes/{node}/tasks with PVE's filters, `start`/`limit` paging and `total`. */
export const nodeTasks: Handler = (ctx) => {
  const p = ctx.params;
  const source = p.source ?? 'archive';
  const errors = p.errors === '1';
  let statusfilter: Record<string, boolean> = { ok: true, warning: true, error: true, unknown: true };
  if (p.statusfilter !== undefined && !errors) {
    statusfilter = {};
    for (const f of splitList(p.statusfilter)) statusfilter[f.toLowerCase()] = true;
  } else if (errors) {
    statusfilter.ok = false;
  }
  const start = Number(p.start ?? 0);
  let limit = Number(p.limit ?? 50);
  let count = 0;
  const skip = (t: TaskRecord, status: string | undefined): boolean => {
    const user = String(decoded(t).user);
    if (p.userfilter && !user.toLowerCase().includes(p.userfilter.toLowerCase())) return true;
    if (p.typefilter && t.type !== p.typefilter) return true;
    if (p.vmid && t.id !== p.vmid) return true;
    if (p.since !== undefined && t.starttime < Number(p.since)) return true;
    if (p.until !== undefined && t.starttime > Number(p.until)) return true;
    if (!statusfilter[statusType(status)]) return true;
    if (count++ < start) return true;
    return limit <= 0;
  };
  const out: Record<string, unknown>[] = [];
  const mine = ctx.state.tasks.all.filter((t) => t.node === ctx.node);
  if (source === 'active' || source === 'all') {
    for (const t of mine.filter((x) => x.status === 'running')) {
      if (skip(t, undefined)) continue;
      out.push({ ...decoded(t), status: 'RUNNING' });
      limit--;
    }
  }
  if (source !== 'active') {
    // the index file read backwards: the task that ended last comes first
    const archive = ctx.state.tasks.archive.filter((t) => t.node === ctx.node).reverse();
    for (const t of archive) {
      if (skip(t, t.exitstatus)) continue;
      out.push({ ...decoded(t), endtime: t.endtime, status: t.exitstatus });
      limit--;
    }
  }
  ctx.attribs.total = count;
  return out;
};

/** The task a UPID names on this node; PVE's 400s for a bad or unknown UPID. */
function findTask(ctx: HandlerContext, mustExist: boolean): TaskRecord | undefined {
  const upid = ctx.params.upid!;
  if (!decodeUpid(upid)) throw paramError({ upid: texts.badUpid });
  const task = ctx.state.tasks.byUpid(upid);
  const found = task && task.node === ctx.node ? task : undefined;
  if (!found && mustExist) throw paramError({ upid: texts.noSuchTask });
  return found;
}

export const taskIndex: Handler = () => [{ name: 'log' }, { name: 'status' }];

/** GET …/tasks/{upid}/status (`read_task_status`). */
export const taskStatus: Handler = (ctx) => {
  const t = findTask(ctx, true)!;
  const d = decodeUpid(t.upid)!;
  const entry = withToken({ ...d, upid: t.upid, status: t.status }, d.user);
  if (t.status === 'stopped') entry.exitstatus = t.exitstatus;
  return entry;
};

/** GET …/tasks/{upid}/log (`read_task_log` → pve-common `Tools.pm` `dump_logfile`). */
export const taskLog: Handler = (ctx) => {
  const t = findTask(ctx, false);
  const { start: startParam, limit: limitParam, download } = ctx.params;
  if (download === '1') {
    if (startParam !== undefined || limitParam !== undefined) {
      die("'download' cannot be used together with 'start' or 'limit' parameters");
    }
    die('sim: download=1 is not simulated');
  }
  if (!t) {
    ctx.attribs.total = 1;
    return [{ n: 1, t: texts.noLogFile }];
  }
  const start = Number(startParam ?? 0);
  const limit = Number(limitParam ?? 50);
  const lines = t.log.map((text, i) => ({ n: i + 1, t: text })).slice(start);
  const out = limit === 0 ? lines : lines.slice(0, limit);
  if (t.log.length === 0) {
    ctx.attribs.total = 1;
    return [{ n: 1, t: 'no content' }];
  }
  ctx.attribs.total = t.log.length;
  return out;
};

/** DELETE …/tasks/{upid} (`stop_task`): kills a running worker; a stopped one is left alone. */
export const stopTask: Handler = (ctx) => {
  const t = findTask(ctx, true)!;
  if (t.status === 'running') ctx.state.tasks.stop(t);
  return null;
};
