import { assertAgent } from './agent.js';
import { renderConfig } from './guest-views.js';
import type { Handler, HandlerContext } from './router.js';
import type { GuestType } from './types.js';
import { requirePriv } from './ui-handlers.js';

/** RRD statistics and guest network interfaces, as the node and guest Summary pages of the web UI read them. */

const GiB = 1024 ** 3;

/**
 * pve-cluster `RRD.pm` `create_rrd_data` (PVE 9 layout): `[resolution s, points]` per timeframe; the rows run
 * from `ctime - reso*count` to the last full bucket, oldest first, each `{time, <fields>}`.
 */
const SETUP: Record<string, [number, number]> = {
  hour: [60, 60],
  day: [60, 1440],
  week: [60 * 30, 336],
  month: [60 * 30, 1440],
  year: [3600 * 6, 1440],
  decade: [86400 * 7, 570],
};

function rows(timeframe: string, fields: (i: number) => Record<string, number>): Array<Record<string, number>> {
  const [reso, count] = SETUP[timeframe] ?? SETUP.hour!;
  const ctime = reso * Math.floor(Date.now() / 1000 / reso);
  const out: Array<Record<string, number>> = [];
  for (let i = 0; i < count; i++) out.push({ time: ctime - reso * (count - i), ...fields(i) });
  return out;
}

/** A gentle wave, so charts have something to draw; the same for every call in the same bucket. */
const wave = (i: number, base: number, amp: number) => base + amp * Math.sin(i / 5);

/**
 * pve-manager `API2/Nodes.pm` `rrddata` (`Sys.Audit` on `/nodes/{node}`): `pve-node-9.0/<node>`, the fields of
 * pvestatd's node RRD (the UI's `pve-rrd-node` model).
 */
export const nodeRrd: Handler = (ctx) => {
  requirePriv(ctx, `/nodes/${ctx.node}`, ['Sys.Audit']);
  return rows(ctx.params.timeframe ?? 'hour', (i) => ({
    cpu: wave(i, 0.03, 0.01),
    maxcpu: 8,
    iowait: 0.001,
    loadavg: wave(i, 0.12, 0.05),
    memtotal: 32 * GiB,
    memused: 4 * GiB,
    memavailable: 28 * GiB,
    arcsize: 0,
    swaptotal: 0,
    swapused: 0,
    roottotal: 100 * GiB,
    rootused: 10 * GiB,
    netin: 1200,
    netout: 800,
    pressurecpusome: 0,
    pressureiosome: 0,
    pressureiofull: 0,
    pressurememorysome: 0,
    pressurememoryfull: 0,
  }));
};

/**
 * pve-container `API2/LXC.pm` / qemu-server `API2/Qemu.pm` `rrddata` (`VM.Audit` on `/vms/{vmid}`):
 * `pve-vm-9.0/<vmid>` (the UI's `pve-rrd-guest` model); a stopped guest's rows are all zero here.
 */
export const guestRrd =
  (type: GuestType): Handler =>
  (ctx) => {
    const vmid = Number(ctx.params.vmid);
    requirePriv(ctx, `/vms/${vmid}`, ['VM.Audit']);
    const g = ctx.state.loadGuest(ctx.node, type, vmid);
    const conf = renderConfig(g);
    const on = g.status === 'running' ? 1 : 0;
    const maxmem = Number(conf.memory ?? 512) * 1024 ** 2;
    return rows(ctx.params.timeframe ?? 'hour', (i) => ({
      cpu: on * wave(i, 0.02, 0.01),
      maxcpu: Number(conf.cores ?? 1),
      mem: on * Math.floor(maxmem / 4),
      maxmem,
      disk: type === 'lxc' ? on * 2 * GiB : 0,
      maxdisk: (type === 'lxc' ? 8 : 32) * GiB,
      netin: on * 300,
      netout: on * 200,
      diskread: 0,
      diskwrite: on * 100,
      ...(type === 'qemu' && { memhost: on * Math.floor(maxmem / 4) }),
      pressurecpusome: 0,
      pressurecpufull: 0,
      pressureiosome: 0,
      pressureiofull: 0,
      pressurememorysome: 0,
      pressurememoryfull: 0,
    }));
  };

/** The guest's addresses: 10.<node index>.<vmid / 256>.<vmid % 256>/24 (made up, stable). */
function guestIp(ctx: HandlerContext, vmid: number): string {
  return `10.${ctx.state.nodes.indexOf(ctx.node) + 1}.${(vmid >> 8) & 0xff}.${vmid & 0xff}`;
}

/**
 * pve-container `API2/LXC.pm` `ip` (path `interfaces`, `VM.Audit`) → `LXC.pm` `get_interfaces`: `ip --json a` in the
 * CT's netns as `{name, hwaddr, hardware-address, inet, inet6, ip-addresses: [{ip-address, ip-address-type, prefix}]}`;
 * a stopped CT (no pid) gives null.
 */
export const lxcInterfaces: Handler = (ctx) => {
  const vmid = Number(ctx.params.vmid);
  requirePriv(ctx, `/vms/${vmid}`, ['VM.Audit']);
  const g = ctx.state.loadGuest(ctx.node, 'lxc', vmid);
  if (g.status !== 'running') return null;
  const mac = /hwaddr=([0-9A-Fa-f:]{17})/.exec(String(renderConfig(g).net0 ?? ''))?.[1]?.toLowerCase() ?? '';
  const iface = (name: string, hw: string, v4: [string, number], v6: [string, number]) => ({
    name,
    inet: `${v4[0]}/${v4[1]}`,
    inet6: `${v6[0]}/${v6[1]}`,
    'ip-addresses': [
      { 'ip-address-type': 'inet', 'ip-address': v4[0], prefix: v4[1] },
      { 'ip-address-type': 'inet6', 'ip-address': v6[0], prefix: v6[1] },
    ],
    'hardware-address': hw,
    hwaddr: hw,
  });
  return [
    iface('lo', '00:00:00:00:00:00', ['127.0.0.1', 8], ['::1', 128]),
    iface('eth0', mac, [guestIp(ctx, vmid), 24], [`fe80::be24:11ff:fe00:${(vmid & 0xffff).toString(16)}`, 64]),
  ];
};

/**
 * qemu-server `API2/Qemu/Agent.pm` `network-get-interfaces` (`VM.GuestAgent.Audit` or `…Unrestricted`): after
 * `assert_agent_available`, qemu-ga's `guest-network-get-interfaces` (QAPI `GuestNetworkInterface`) as
 * `{result: [{name, hardware-address, ip-addresses: [{ip-address, ip-address-type: ipv4|ipv6, prefix}], statistics}]}`.
 */
export const agentNetworkInterfaces: Handler = async (ctx) => {
  const vmid = Number(ctx.params.vmid);
  requirePriv(ctx, `/vms/${vmid}`, ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted'], true);
  const { g } = await assertAgent(ctx);
  const mac = /=([0-9A-Fa-f:]{17})/.exec(String(renderConfig(g).net0 ?? ''))?.[1]?.toLowerCase() ?? '';
  const stats = {
    'rx-bytes': 0,
    'rx-packets': 0,
    'rx-errs': 0,
    'rx-dropped': 0,
    'tx-bytes': 0,
    'tx-packets': 0,
    'tx-errs': 0,
    'tx-dropped': 0,
  };
  const iface = (name: string, hw: string, v4: [string, number], v6: [string, number]) => ({
    name,
    'hardware-address': hw,
    'ip-addresses': [
      { 'ip-address-type': 'ipv4', 'ip-address': v4[0], prefix: v4[1] },
      { 'ip-address-type': 'ipv6', 'ip-address': v6[0], prefix: v6[1] },
    ],
    statistics: stats,
  });
  return {
    result: [
      iface('lo', '00:00:00:00:00:00', ['127.0.0.1', 8], ['::1', 128]),
      iface('eth0', mac, [guestIp(ctx, vmid), 24], [`fe80::be24:11ff:fe01:${(vmid & 0xffff).toString(16)}`, 64]),
    ],
  };
};

/**
 * pve-manager `API2/APT.pm` `repositories` (`Sys.Audit` on `/nodes/{node}`) → proxmox-apt `APTRepositoriesResult`:
 * one deb822 file with the enabled `pve-enterprise` repository of PVE 9 (trixie), no errors or infos, and the
 * `standard-repos` the node Summary's repository status reads (`handle`, `status` 1 = configured and enabled).
 */
export const aptRepositories: Handler = (ctx) => {
  requirePriv(ctx, `/nodes/${ctx.node}`, ['Sys.Audit']);
  const digest = Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
  return {
    files: [
      {
        path: '/etc/apt/sources.list.d/pve-enterprise.sources',
        'file-type': 'sources',
        repositories: [
          {
            Types: ['deb'],
            URIs: ['https://enterprise.proxmox.com/debian/pve'],
            Suites: ['trixie'],
            Components: ['pve-enterprise'],
            Options: [{ Key: 'Signed-By', Values: ['/usr/share/keyrings/proxmox-archive-keyring.gpg'] }],
            Comment: '',
            FileType: 'sources',
            Enabled: 1,
          },
        ],
        digest,
      },
    ],
    errors: [],
    infos: [],
    'standard-repos': [
      { handle: 'enterprise', status: 1, name: 'Enterprise', description: 'The stable repository for subscribers.' },
      { handle: 'no-subscription', name: 'No-Subscription', description: 'Not recommended for production use.' },
      { handle: 'test', name: 'Test', description: 'Testing ground for new packages.' },
    ],
    digest: Buffer.from(digest).toString('hex'),
  };
};
