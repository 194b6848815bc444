import { SimControl } from './control.js';
import { die, texts } from './errors.js';
import { haHoldsDown, haManaged, haStart } from './ha.js';
import type { Handler } from './router.js';
import { splitList } from './schema-validate.js';
import { bootGuest, configDigest, type GuestState, type SimState } from './state.js';
import type { GuestType } from './types.js';

/**
 * `status/reboot` of qemu-server `API2/Qemu.pm` / `QemuServer.pm` `vm_reboot` and pve-container
 * `API2/LXC/Status.pm`, and the qemu config PUT of `API2/Qemu.pm` `update_vm_api`.
 */

/** PVE's default shutdown timeout of a reboot (qemu-server `_do_vm_stop`; `startup: down=` is not read). */
const DEFAULT_REBOOT_TIMEOUT_S = 60;

/** POST …/status/reboot: a `qmreboot`/`vzreboot` worker that ends once the guest has gone down. */
export const rebootGuest =
  (type: GuestType): Handler =>
  (ctx) => {
    const vmid = Number(ctx.params.vmid);
    const g = ctx.state.loadGuest(ctx.node, type, vmid);
    if (g.status !== 'running') die(texts.notRunningReboot(type, vmid));
    const timeoutS = ctx.params.timeout !== undefined ? Number(ctx.params.timeout) : DEFAULT_REBOOT_TIMEOUT_S;
    const opts = { node: ctx.node, type: type === 'lxc' ? 'vzreboot' : 'qmreboot', id: String(vmid), user: ctx.authid };
    return ctx.state.tasks.runWorker(opts, async () => {
      if (g.lock) die(texts.locked(type, g.lock));
      if (g.status !== 'running') return; // "only reboot if running, as qmeventd starts it again"
      await rebootNow(ctx.state, g, timeoutS * 1000);
    });
  };

/** The guest goes down (through the power backend), then boots again unless told never to return. */
async function rebootNow(state: SimState, g: GuestState, timeoutMs: number): Promise<void> {
  const agent = state.agent(g.vmid);
  // a VM's restart is qmeventd's `qm cleanup` calling `vm_start`, which hands an HA-managed VM to HA;
  // a CT's `PVE::LXC::vm_reboot` stops and starts it itself
  const viaHa = g.type === 'qemu' && haManaged(state, g) !== undefined;
  const noReturn = agent.rebootNeverReturns || (viaHa && haHoldsDown(state, g));
  agent.rebootNeverReturns = false;
  const power = state.powerBackend;
  let started: Promise<void>;
  if (power) {
    try {
      ({ started } = await power.reboot(g.vmid, { timeoutMs, noReturn }));
    } catch (err) {
      if (err instanceof RebootTimeout) die(g.type === 'qemu' ? texts.rebootTimeout : texts.ctShutdownTimeout);
      throw err;
    }
  } else {
    started = noReturn ? new Promise<void>(() => {}) : state.sleep(state.taskDelayMs);
  }
  g.status = 'stopped';
  agent.execs.clear(); // qemu-ga's process table is gone with the guest
  if (viaHa) haStart(state, g, 'root@pam', { boot: false });
  if (noReturn) return;
  started.then(
    () => {
      if (!state.closed && g.status === 'stopped') bootGuest(g);
    },
    () => {},
  );
}

/** What a PowerBackend throws when the guest did not go down in time. */
export class RebootTimeout extends Error {
  constructor(vmid: number, timeoutMs: number) {
    super(`guest ${vmid} did not go down within ${timeoutMs} ms`);
    this.name = 'RebootTimeout';
  }
}

/** Options a running VM takes at once (qemu-server `$confdesc` fast-plug set: no restart needed). */
const FAST_PLUG = new Set([
  'name',
  'hotplug',
  'onboot',
  'shares',
  'startup',
  'description',
  'protection',
  'vmstatestorage',
  'hookscript',
  'tags',
]);
const CONTROL_PARAMS = new Set(['node', 'vmid', 'digest', 'delete', 'revert', 'skiplock', 'force', 'background_delay']);

/**
 * PUT /nodes/{node}/qemu/{vmid}/config (synchronous): digest check, lock check, then each option. A
 * stopped VM gets it in its config; a running one keeps options that are not fast-pluggable (`agent`,
 * …) as pending until its next start — PVE's behaviour for options it cannot hot-plug.
 */
export const updateQemuConfig: Handler = (ctx) => {
  const vmid = Number(ctx.params.vmid);
  const g = ctx.state.loadGuest(ctx.node, 'qemu', vmid);
  const { digest, skiplock } = ctx.params;
  if (digest !== undefined && digest !== configDigest(g)) die(texts.digestMismatch);
  if (g.lock && skiplock !== '1') die(texts.locked('qemu', g.lock));
  const running = g.status === 'running';
  const deletes = (ctx.params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
  for (const key of deletes) {
    if (running && !FAST_PLUG.has(key)) {
      g.pendingDelete.add(key);
      delete g.pending[key];
    } else applyKey(g, key, undefined);
  }
  for (const key of (ctx.params.revert ?? '').split(/[,;\s]+/).filter(Boolean)) {
    delete g.pending[key];
    g.pendingDelete.delete(key);
  }
  for (const [key, value] of Object.entries(ctx.params)) {
    if (CONTROL_PARAMS.has(key)) continue;
    if (running && !FAST_PLUG.has(key)) {
      g.pending[key] = value;
      g.pendingDelete.delete(key);
    } else applyKey(g, key, value);
  }
  return null;
};

function applyKey(g: GuestState, key: string, value: string | undefined): void {
  if (key === 'name') {
    if (value !== undefined) g.name = value;
    return;
  }
  if (key === 'tags') {
    g.tags = value ? value.split(/[;,\s]+/).filter(Boolean) : [];
    return;
  }
  if (value === undefined) delete g.config[key];
  else g.config[key] = value;
}

/**
 * POST /nodes/{node}/vzdump with `vmid` (pve-manager `API2/VZDump.pm`): a `vzdump` task by the caller
 * whose guests hold `lock: backup` until it ends OK after `vzdumpDurationMs` (see SimControl.startVzdump).
 */
export const vzdump: Handler = (ctx) => {
  const vmids = splitList(ctx.params.vmid ?? '').map(Number);
  if (vmids.length === 0) die('sim: vzdump without vmid (all/pool) is not simulated');
  for (const vmid of vmids) {
    if (ctx.state.guests.get(vmid)?.node !== ctx.node) die(`guest ${vmid} is not on node '${ctx.node}'`);
  }
  return new SimControl(ctx.state).startVzdump({
    node: ctx.node,
    vmids,
    user: ctx.authid,
    durationMs: ctx.state.vzdumpDurationMs,
    ...(ctx.params.storage ? { storage: ctx.params.storage } : {}),
  });
};
