import { die, paramError, texts } from './errors.js';
import { nodeEntry, renderConfig, resourceEntry, vmStatus } from './guest-views.js';
import { haResourceState, haServiceStatus } from './ha.js';
import type { Handler, HandlerContext } from './router.js';
import type { GuestType } from './types.js';

/** Read-only endpoints: version, cluster resources, nodes, guest lists, config and status. */

/**
 * `VM.Audit` on `/vms/<vmid>` (pve-manager `API2/Cluster.pm` `resources`, qemu-server/pve-container `vmlist`
 * filter with `$rpcenv->check(…, 1)`); callers without any access setup see everything.
 */
function audits(ctx: HandlerContext, vmid: number): boolean {
  const { access } = ctx.state;
  return !access.restricted(ctx.authid) || access.check(ctx.authid, `/vms/${vmid}`, ['VM.Audit']);
}

export const SIM_VERSION = { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' };

export const version: Handler = () => ({ ...SIM_VERSION });

/** pve-manager `PVE/API2/Cluster.pm` `resources`: pools, guests (sorted as strings), nodes, storage, sdn. */
export const clusterResources: Handler = (ctx) => {
  const type = ctx.params.type;
  const { state } = ctx;
  const out: Record<string, unknown>[] = [];
  const guests = [...state.guests.values()]
    .filter((g) => audits(ctx, g.vmid))
    .sort((a, b) => String(a.vmid).localeCompare(String(b.vmid)));
  if (!type) {
    const pools = [...new Set(guests.flatMap((g) => (g.pool ? [g.pool] : [])))].sort();
    for (const pool of pools.length > 0 ? pools : ['sim']) out.push({ id: `/pool/${pool}`, pool, type: 'pool' });
  }
  if (!type || type === 'vm') {
    for (const g of guests) {
      const entry = resourceEntry(g);
      const hastate = haResourceState(state, g);
      if (hastate !== undefined) entry.hastate = hastate;
      out.push(entry);
    }
  }
  if (!type || type === 'node') out.push(...state.nodes.map((n) => nodeEntry(n)));
  if (!type || type === 'storage') {
    for (const node of state.nodes) {
      out.push({
        id: `storage/${node}/local-zfs`,
        storage: 'local-zfs',
        node,
        type: 'storage',
        plugintype: 'zfspool',
        status: 'available',
        shared: 0,
        content: 'images,rootdir',
        maxdisk: 100 * 1024 ** 3,
        disk: 10 * 1024 ** 3,
      });
    }
  }
  if (!type || type === 'sdn') {
    for (const node of state.nodes) {
      out.push({ id: `sdn/${node}/localnetwork`, sdn: 'localnetwork', node, type: 'sdn', status: 'ok' });
    }
  }
  return out;
};

export const nodesIndex: Handler = (ctx) =>
  ctx.state.nodes.map((n) => nodeEntry(n, n === ctx.state.nodes[0] ? ctx.fingerprint : undefined));

/** pve-manager `API2/Nodes.pm` `status`: the keys it sets (`wait`, `ksm`, `swap` too: the node Summary renders them). */
export const nodeStatus: Handler = (ctx) => ({
  uptime: 86_400,
  cpu: 0.02,
  loadavg: ['0.10', '0.12', '0.09'],
  kversion: 'Linux 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (2025-03-16T19:18Z) x86_64',
  pveversion: `pve-manager/${SIM_VERSION.version}/${SIM_VERSION.repoid}`,
  cpuinfo: { cpus: 8, sockets: 1, cores: 8, model: 'Simulated CPU', mhz: '2400.000' },
  wait: 0.001,
  memory: { total: 32 * 1024 ** 3, used: 4 * 1024 ** 3, free: 28 * 1024 ** 3, available: 28 * 1024 ** 3 },
  ksm: { shared: 0 },
  swap: { total: 0, used: 0, free: 0 },
  rootfs: { total: 100 * 1024 ** 3, used: 10 * 1024 ** 3, avail: 90 * 1024 ** 3, free: 90 * 1024 ** 3 },
  'boot-info': { mode: 'efi', secureboot: 0 },
  'current-kernel': { sysname: 'Linux', release: '6.8.12-9-pve', machine: 'x86_64', version: '#1 SMP' },
  node: ctx.node,
});

export const vmList =
  (type: GuestType): Handler =>
  (ctx) =>
    [...ctx.state.guests.values()]
      .filter((g) => g.node === ctx.node && g.type === type && audits(ctx, g.vmid))
      .map((g) => vmStatus(g, false));

function vmid(ctx: HandlerContext): number {
  return Number(ctx.params.vmid);
}

/** pve-container `API2/LXC/Config.pm` / qemu-server `API2/Qemu.pm` `vm_config`. */
export const vmConfig =
  (type: GuestType): Handler =>
  (ctx) => {
    const { snapshot, current } = ctx.params;
    if (snapshot && current === '1') {
      const msg = "cannot use 'snapshot' parameter with 'current'";
      throw paramError({ snapshot: msg, current: msg });
    }
    const g = ctx.state.loadGuest(ctx.node, type, vmid(ctx));
    const conf = renderConfig(g);
    if (!snapshot) {
      // qemu: pending changes are shown unless `current=1` (qemu-server `vm_config`)
      if (type !== 'qemu' || current === '1') return conf;
      for (const key of g.pendingDelete) delete conf[key];
      return { ...conf, ...g.pending };
    }
    const snap = g.snapshots.get(snapshot);
    if (!snap) die(texts.snapshotMissing(snapshot));
    const { saved } = snap;
    const asSaved = { ...g, name: saved.name, tags: saved.tags, ostype: saved.ostype, config: saved.config };
    const {
      lock: _lock,
      parent: _parent,
      ...out
    }: Record<string, unknown> = renderConfig({ ...asSaved, lock: undefined });
    Object.assign(out, { snaptime: snap.snaptime, digest: conf.digest });
    if (snap.description) out.description = snap.description;
    if (snap.parent) out.parent = snap.parent;
    if (snap.snapstate) out.snapstate = snap.snapstate;
    return out;
  };

/** status/current; with a power backend `uptime` is the guest's real one (seconds since its last start). */
export const vmStatusCurrent =
  (type: GuestType): Handler =>
  async (ctx) => {
    const g = ctx.state.loadGuest(ctx.node, type, vmid(ctx));
    const entry = vmStatus(g, true);
    entry.ha = haServiceStatus(ctx.state, g);
    const power = ctx.state.powerBackend;
    if (power && g.status === 'running') {
      const uptime = await power.uptime(g.vmid);
      if (uptime !== undefined) entry.uptime = uptime;
    }
    return entry;
  };
