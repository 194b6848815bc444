import { die, texts } from './errors.js';
import { diskKeys, renderConfig } from './guest-views.js';
import { haStart } from './ha.js';
import type { Handler, HandlerContext } from './router.js';
import {
  applySaved,
  bootGuest,
  configDigest,
  type GuestState,
  type SimState,
  type SnapshotState,
  saveConfig,
} from './state.js';
import { nowSeconds, type TaskContext } from './tasks.js';
import type { GuestType } from './types.js';

/**
 * Snapshot endpoints and their task workers, step for step as pve-container `API2/LXC/Snapshot.pm`,
 * qemu-server `API2/Qemu.pm` and pve-guest-common `AbstractConfig.pm` (`snapshot_create`,
 * `snapshot_delete`, `snapshot_rollback`) run them. Checks that PVE makes before forking the worker answer
 * 500; the rest fail the task.
 */

type SnapshotOp = 'snapshot' | 'delsnapshot' | 'rollback';

const taskType = (type: GuestType, op: SnapshotOp) => `${type === 'lxc' ? 'vz' : 'qm'}${op}`;

function checkLock(g: GuestState): void {
  if (g.lock) die(texts.locked(g.type, g.lock));
}

/** Read through a function: TypeScript would otherwise keep the narrowing from before the awaits. */
const isRunning = (g: GuestState) => g.status === 'running';

function start(g: GuestState): void {
  bootGuest(g);
}

function worker(ctx: HandlerContext, type: GuestType, op: SnapshotOp, fn: (t: TaskContext) => Promise<void>) {
  const opts = { node: ctx.node, type: taskType(type, op), id: ctx.params.vmid!, user: ctx.authid };
  return ctx.state.tasks.runWorker(opts, fn);
}

/** GET …/snapshot: every snapshot, then the `current` pseudo-entry. */
export const listSnapshots =
  (type: GuestType): Handler =>
  (ctx) => {
    const g = ctx.state.loadGuest(ctx.node, type, Number(ctx.params.vmid));
    const out: Record<string, unknown>[] = [];
    for (const s of g.snapshots.values()) {
      const item: Record<string, unknown> = { name: s.name, snaptime: s.snaptime, description: s.description };
      if (type === 'qemu') item.vmstate = s.vmstate ? 1 : 0;
      if (s.parent) item.parent = s.parent;
      if (s.snapstate) item.snapstate = s.snapstate;
      out.push(item);
    }
    const current: Record<string, unknown> = {
      name: 'current',
      digest: configDigest(g),
      running: g.status === 'running' ? 1 : 0,
      description: 'You are here!',
    };
    if (g.parent) current.parent = g.parent;
    out.push(current);
    return out;
  };

/** GET …/snapshot/{snapname}: the static index of sub-commands. */
export const snapshotCmdIndex: Handler = () => [{ cmd: 'rollback' }, { cmd: 'config' }];

/** POST …/snapshot */
export const createSnapshot =
  (type: GuestType): Handler =>
  (ctx) => {
    const name = ctx.params.snapname!;
    const vmid = Number(ctx.params.vmid);
    if (name === 'current') die(texts.reservedName('current'));
    if (type === 'lxc' && name === 'vzdump') die(texts.reservedName('vzdump'));
    if (type === 'qemu' && name.toLowerCase() === 'pending') die(texts.reservedName('pending'));
    if (type === 'qemu') ctx.state.loadGuest(ctx.node, type, vmid);
    const vmstate = ctx.params.vmstate === '1';
    const description = ctx.params.description ?? '';
    return worker(ctx, type, 'snapshot', (t) =>
      runCreate(ctx.state, ctx.node, type, vmid, name, vmstate, description, t),
    );
  };

async function runCreate(
  state: SimState,
  node: string,
  type: GuestType,
  vmid: number,
  name: string,
  vmstate: boolean,
  description: string,
  t: TaskContext,
): Promise<void> {
  // __snapshot_prepare
  const g = state.loadGuest(node, type, vmid);
  if (g.template) die(texts.snapshotTemplate);
  checkLock(g);
  if (g.snapshots.has(name)) die(texts.nameUsed(name));
  const failure = state.snapshotFailures.get(vmid);
  if (failure !== undefined) die(failure);
  g.lock = 'snapshot';
  const snap: SnapshotState = {
    name,
    description,
    snaptime: nowSeconds(),
    vmstate: vmstate && type === 'qemu' && g.status === 'running',
    snapstate: 'prepare',
    saved: saveConfig(g),
    ...(g.parent ? { parent: g.parent } : {}),
  };
  g.snapshots.set(name, snap);
  if (type === 'qemu') {
    const conf = renderConfig(g);
    for (const key of diskKeys(conf)) t.log(`snapshotting '${key}' (${String(conf[key]).split(',')[0]})`);
  }
  await state.sleep(state.taskDelayMs);
  t.checkpoint();
  try {
    await state.backend.create(vmid, name);
  } catch (err) {
    t.checkpoint();
    t.warn(texts.createCleanup);
    g.snapshots.delete(name);
    delete g.lock;
    // `die "$err\n"` on an error that already ends in a newline: the exit status gets a trailing space
    const text = err instanceof Error ? err.message : String(err);
    die(text.endsWith('\n') ? text : `${text}\n`);
  }
  t.checkpoint();
  // __snapshot_commit
  delete snap.snapstate;
  delete g.lock;
  g.parent = name;
}

/** DELETE …/snapshot/{snapname} */
export const deleteSnapshot =
  (type: GuestType): Handler =>
  (ctx) => {
    const name = ctx.params.snapname!;
    const vmid = Number(ctx.params.vmid);
    const force = ctx.params.force === '1';
    return worker(ctx, type, 'delsnapshot', async (t) => {
      const g = ctx.state.loadGuest(ctx.node, type, vmid);
      const snap = g.snapshots.get(name);
      if (!snap) die(texts.snapshotMissing(name));
      checkLock(g); // set_lock
      g.lock = 'snapshot-delete';
      if (g.template) die(texts.deleteTemplate);
      snap.snapstate = 'delete';
      await ctx.state.sleep(ctx.state.taskDelayMs);
      t.checkpoint();
      try {
        await ctx.state.backend.remove(vmid, name);
      } catch (err) {
        if (!force) throw err;
        t.warn(err instanceof Error ? err.message : String(err));
      }
      t.checkpoint();
      for (const other of g.snapshots.values()) if (other.parent === name) setParent(other, snap.parent);
      if (g.parent === name) setParent(g, snap.parent);
      g.snapshots.delete(name);
      delete g.lock;
    });
  };

function setParent(target: { parent?: string }, parent: string | undefined): void {
  if (parent) target.parent = parent;
  else delete target.parent;
}

/** POST …/snapshot/{snapname}/rollback: a running guest is stopped first; `start=1` starts it after. */
export const rollbackSnapshot =
  (type: GuestType): Handler =>
  (ctx) => {
    const name = ctx.params.snapname!;
    const vmid = Number(ctx.params.vmid);
    const startAfter = ctx.params.start === '1';
    return worker(ctx, type, 'rollback', async (t) => {
      const g = ctx.state.loadGuest(ctx.node, type, vmid);
      if (g.template) die(texts.rollbackTemplate);
      const snap = g.snapshots.get(name);
      if (!snap) die(texts.snapshotMissing(name));
      if (snap.snapstate) die(texts.incompleteSnapshot(snap.snapstate));
      checkLock(g);
      if (g.status === 'running') g.status = 'stopped'; // __snapshot_rollback_vm_stop
      g.lock = 'rollback';
      await ctx.state.sleep(ctx.state.taskDelayMs);
      t.checkpoint();
      await ctx.state.backend.rollback(vmid, name);
      t.checkpoint();
      delete g.lock;
      applySaved(g, snap.saved);
      g.parent = name;
      if (snap.vmstate) start(g); // qemu: resumes from the saved RAM state
      // `vm_start` through the API: an HA-managed guest's start becomes a `hastart` task (ha.ts)
      if (startAfter && !isRunning(g) && !haStart(ctx.state, g, ctx.authid)) start(g);
    });
  };
