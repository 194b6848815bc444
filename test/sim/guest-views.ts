import { configDigest, type GuestState } from './state.js';

/** How guests look through the read-only endpoints; field sets follow the upstream handlers named below. */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The rendered config of a guest (defaults a fresh `pct create` / `qm create` would leave, then test keys). */
export function renderConfig(g: GuestState): Record<string, string | number> {
  const base: Record<string, string | number> =
    g.type === 'lxc'
      ? {
          arch: 'amd64',
          cores: 1,
          hostname: g.name,
          memory: 512,
          swap: 512,
          net0: `name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:${hexByte(g.vmid >> 8)}:${hexByte(g.vmid)},ip=dhcp,type=veth`,
          ostype: g.ostype ?? 'debian',
          rootfs: `local-zfs:subvol-${g.vmid}-disk-0,size=8G`,
          unprivileged: 1,
        }
      : {
          name: g.name,
          boot: 'order=scsi0;net0',
          cores: 2,
          memory: '2048',
          net0: `virtio=BC:24:11:01:${hexByte(g.vmid >> 8)}:${hexByte(g.vmid)},bridge=vmbr0`,
          ostype: g.ostype ?? 'l26',
          scsi0: `local-zfs:vm-${g.vmid}-disk-0,size=32G`,
          scsihw: 'virtio-scsi-single',
        };
  const conf: Record<string, string | number> = { ...base, ...g.config };
  if (g.tags.length > 0) conf.tags = g.tags.join(';');
  if (g.lock) conf.lock = g.lock;
  if (g.template) conf.template = 1;
  if (g.parent) conf.parent = g.parent;
  conf.digest = configDigest(g);
  return conf;
}

const hexByte = (n: number) => (n & 0xff).toString(16).toUpperCase().padStart(2, '0');

/** Disk keys of a config whose snapshots qemu-server logs (`snapshotting 'scsi0' (…)`). */
export function diskKeys(conf: Record<string, string | number>): string[] {
  return Object.keys(conf)
    .filter((k) => /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/.test(k) && !String(conf[k]).includes('media=cdrom'))
    .sort();
}

function sizeOf(volume: string | number | undefined, fallback: number): number {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?/.exec(String(volume ?? ''));
  if (!m) return fallback;
  const unit = { K: 1024, M: MiB, G: GiB, T: 1024 * GiB }[m[2] ?? ''] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

function stats(g: GuestState) {
  const conf = renderConfig(g);
  const running = g.status === 'running';
  const maxmem = Number(conf.memory ?? 512) * MiB;
  const maxdisk = sizeOf(g.type === 'lxc' ? conf.rootfs : conf.scsi0, g.type === 'lxc' ? 4 * GiB : 32 * GiB);
  return {
    cpus: Number(conf.cores ?? 1),
    maxmem,
    mem: running ? Math.floor(maxmem / 4) : 0,
    maxdisk,
    disk: running && g.type === 'lxc' ? Math.floor(maxdisk / 5) : 0,
    cpu: running ? 0.0123 : 0,
    uptime: running ? Math.floor((Date.now() - g.startedAt) / 1000) : 0,
  };
}

/** One `type: lxc|qemu` entry of /cluster/resources (pve-manager `PVE/API2Tools.pm` `extract_vm_stats`). */
export function resourceEntry(g: GuestState): Record<string, unknown> {
  const s = stats(g);
  const entry: Record<string, unknown> = {
    id: `${g.type}/${g.vmid}`,
    vmid: g.vmid,
    node: g.node,
    type: g.type,
    status: g.status,
    uptime: s.uptime,
    name: g.name,
    template: g.template ? 1 : 0,
    maxcpu: s.cpus,
    cpu: s.cpu,
    maxmem: s.maxmem,
    mem: s.mem,
    maxdisk: s.maxdisk,
    disk: s.disk,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
  };
  if (g.type === 'qemu') entry.memhost = s.mem;
  if (g.pool) entry.pool = g.pool;
  if (g.lock) entry.lock = g.lock;
  if (g.tags.length > 0) entry.tags = g.tags.join(';');
  return entry;
}

/**
 * One guest of /nodes/{node}/{lxc,qemu} and status/current (pve-container `PVE/LXC.pm` `vmstatus`,
 * qemu-server `PVE/QemuServer.pm` `vmstatus`).
 */
export function vmStatus(g: GuestState, current: boolean): Record<string, unknown> {
  const s = stats(g);
  const entry: Record<string, unknown> = {
    vmid: g.vmid,
    name: g.name,
    status: g.status,
    cpus: s.cpus,
    cpu: s.cpu,
    maxmem: s.maxmem,
    mem: s.mem,
    maxdisk: s.maxdisk,
    disk: s.disk,
    uptime: s.uptime,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
  };
  if (g.type === 'lxc') Object.assign(entry, { type: 'lxc', maxswap: 512 * MiB, swap: 0 });
  if (g.status === 'running') entry.pid = 100_000 + g.vmid;
  if (g.tags.length > 0) entry.tags = g.tags.join(';');
  if (g.lock) entry.lock = g.lock;
  if (g.template) entry.template = 1;
  if (!current) return entry;
  entry.ha = { managed: 0 };
  if (g.type === 'qemu') {
    entry.qmpstatus = g.status;
    if (agentEnabled(renderConfig(g).agent)) entry.agent = 1;
  }
  return entry;
}

/** A node entry of /cluster/resources and /nodes (pve-manager `PVE/API2Tools.pm` `extract_node_stats`). */
export function nodeEntry(node: string, fingerprint?: string): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    id: `node/${node}`,
    type: 'node',
    node,
    status: 'online',
    level: '',
    uptime: 86_400,
    cpu: 0.02,
    maxcpu: 8,
    mem: 4 * GiB,
    maxmem: 32 * GiB,
    disk: 10 * GiB,
    maxdisk: 100 * GiB,
  };
  if (fingerprint) entry.ssl_fingerprint = fingerprint;
  return entry;
}

/** pve-common `JSONSchema.pm` `parse_boolean`. */
function parseBoolean(v: string | undefined): boolean {
  return v !== undefined && /^(1|on|yes|true)$/i.test(v.trim());
}

/**
 * Whether a config `agent` value enables the agent (`get_qga_key($conf, 'enabled')`): `1`, `enabled=1`,
 * `1,fstrim_cloned_disks=1`, `type=virtio,enabled=1` … read leniently (unknown keys ignored).
 */
export function agentEnabled(value: string | number | undefined): boolean {
  if (value === undefined) return false;
  for (const part of String(value).split(',')) {
    const m = /^\s*([^=]+?)\s*=\s*(.*)$/.exec(part);
    if (!m) return parseBoolean(part);
    if (m[1] === 'enabled') return parseBoolean(m[2]);
  }
  return false;
}
