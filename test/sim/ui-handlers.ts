import { SimHttpError } from './errors.js';
import type { Handler, HandlerContext } from './router.js';
import type { TaskRecord } from './tasks.js';

/**
 * Endpoints the PVE web UI calls on page load and on the Datacenter pages (test/ui): realms, datacenter options,
 * cluster status and log, subscription, Ceph status. Each follows the upstream handler named in its comment.
 */

/** `RPCEnvironment::check` / `check_any` as the REST layer runs a `check => ['perm', …]`: 403 otherwise. */
export function requirePriv(ctx: HandlerContext, path: string, privs: string[], any = false): void {
  const perms = ctx.state.access.permissions(ctx.authid, path);
  const ok = any ? privs.some((p) => perms[p] !== undefined) : privs.every((p) => perms[p] !== undefined);
  if (ok) return;
  const missing = any ? privs.join('|') : privs.find((p) => perms[p] === undefined);
  throw new SimHttpError(403, `Permission check failed (${path}, ${missing})\n`);
}

const has = (ctx: HandlerContext, path: string, priv: string) => ctx.state.access.check(ctx.authid, path, [priv]);

/**
 * pve-access-control `API2/Domains.pm` `index` (no auth: `HTTPServer.pm` `auth_handler` lets `GET /access/domains`
 * through): the realms of a default `domains.cfg`, `pam` and `pve` with the comments `Auth/Plugin.pm`
 * `parse_config` adds; no realm carries `default`.
 */
export const domains: Handler = () => [
  { realm: 'pam', type: 'pam', comment: 'Linux PAM standard authentication' },
  { realm: 'pve', type: 'pve', comment: 'Proxmox VE authentication server' },
];

/**
 * pve-manager `API2/Cluster.pm` `get_options`: an empty `datacenter.cfg` (all of it with `Sys.Audit` on `/`, else
 * only `console`/`tag-style`: nothing either way) plus `allowed-tags` from pve-guest-common `GuestHelpers.pm`
 * `get_allowed_tags` with the default `user-tag-access` (`free`): the tags of every guest the user may audit
 * (all with `Sys.Modify` on `/`), sorted.
 */
export const clusterOptions: Handler = (ctx) => {
  const privileged = has(ctx, '/', 'Sys.Modify');
  const tags = new Set<string>();
  for (const g of ctx.state.guests.values()) {
    if (!privileged && !has(ctx, `/vms/${g.vmid}`, 'VM.Audit')) continue;
    for (const t of g.tags) tags.add(t);
  }
  return { 'allowed-tags': [...tags].sort() };
};

/**
 * pve-manager `API2/Cluster.pm` `get_status` (`Sys.Audit` on `/`): with more than one node a `cluster` entry
 * (`nodes`, `version`, `name`, `quorate`) and one `node` entry per member (`nodeid`, `local`, `online`, `ip`,
 * `level`); a single node gets the fake local entry of a node without a cluster (`nodeid: 0`).
 */
export const clusterStatus: Handler = (ctx) => {
  requirePriv(ctx, '/', ['Sys.Audit']);
  const { nodes, subscription } = ctx.state;
  const level = subscription === 'active' ? 'c' : '';
  const ip = (i: number) => ctx.state.nodeIps[nodes[i]!] ?? `192.0.2.${i + 1}`;
  if (nodes.length === 1) {
    return [{ type: 'node', id: `node/${nodes[0]}`, name: nodes[0], ip: ip(0), local: 1, nodeid: 0, online: 1, level }];
  }
  return [
    {
      type: 'cluster',
      id: 'cluster',
      nodes: nodes.length,
      version: nodes.length,
      name: 'sim',
      quorate: ctx.state.quorate ? 1 : 0,
    },
    ...nodes.map((node, i) => ({
      type: 'node',
      id: `node/${node}`,
      name: node,
      nodeid: i + 1,
      local: i === 0 ? 1 : 0,
      online: 1,
      ip: ip(i),
      level,
    })),
  ];
};

/**
 * pve-manager `API2/Cluster.pm` `log`: pmxcfs' cluster log (`logger.c` `clog_dump_json`), newest first, `max`
 * entries (default 50, `server.c`), only the caller's own without `Sys.Syslog` on `/`; `id` is `uid:node`. The
 * simulated log holds what `fork_worker` logs for each task: `starting task UPID` and `end task UPID STATUS`.
 */
export const clusterLog: Handler = (ctx) => {
  const max = Number(ctx.params.max ?? 0) || 50;
  const user = has(ctx, '/', 'Sys.Syslog') ? undefined : ctx.authid;
  const entries: Array<Record<string, unknown>> = [];
  let uid = 0;
  const tasks = [...ctx.state.tasks.all].sort((a, b) => a.starttime - b.starttime);
  for (const t of tasks) {
    entries.push(logEntry(++uid, t.starttime, 6, t, `starting task ${t.upid}`));
    if (t.status === 'stopped') {
      const ok = t.exitstatus === 'OK' || /^WARNINGS: /.test(t.exitstatus ?? '');
      entries.push(logEntry(++uid, t.endtime ?? t.starttime, ok ? 6 : 3, t, `end task ${t.upid} ${t.exitstatus}`));
    }
  }
  return entries
    .filter((e) => user === undefined || e.user === user)
    .sort((a, b) => Number(b.time) - Number(a.time) || Number(b.uid) - Number(a.uid))
    .slice(0, max);
};

function logEntry(uid: number, time: number, pri: number, t: TaskRecord, msg: string): Record<string, unknown> {
  return { uid, time, pri, tag: 'pvedaemon', pid: t.pid, node: t.node, user: t.user, msg, id: `${uid}:${t.node}` };
}

const SUBSCRIPTION_URL = 'https://www.proxmox.com/en/proxmox-virtual-environment/pricing';

/**
 * pve-manager `API2/Subscription.pm` `get`: without a key `{status: 'notfound', message: 'There is no subscription
 * key', url}` (+ `serverid` with `Sys.Audit` on `/nodes/{node}`); with one the key's info (only `status`,
 * `message`, `url` without that privilege). The UI's `checked_command` shows "No valid subscription" unless
 * `status` is `active` (case-insensitive).
 */
export const subscription: Handler = (ctx) => {
  const audit = has(ctx, `/nodes/${ctx.node}`, 'Sys.Audit');
  const serverid = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
  if (ctx.state.subscription !== 'active') {
    return {
      status: 'notfound',
      message: 'There is no subscription key',
      url: SUBSCRIPTION_URL,
      ...(audit && { serverid }),
    };
  }
  const info = { status: 'active', message: 'Subscription is active', url: SUBSCRIPTION_URL };
  if (!audit) return info;
  return {
    ...info,
    key: 'pve1c-0123456789',
    level: 'c',
    productname: 'Proxmox VE Community Subscription 1 CPU/year',
    regdate: '2025-01-01 00:00:00',
    nextduedate: '2099-01-01',
    checktime: Math.floor(Date.now() / 1000),
    serverid,
    sockets: 1,
  };
};

/**
 * pve-manager `API2/Ceph.pm` `status` (`Sys.Audit` or `Datastore.Audit` on `/`): `check_ceph_inited` first, which on
 * a node without Ceph dies with `binary not installed: /usr/bin/ceph-mon` (`Ceph/Tools.pm` `check_ceph_installed`),
 * a 500. The Datacenter Summary (`dc/Health.js` `updateCeph`) then tries the next node and stops.
 */
export const cephStatus: Handler = (ctx) => {
  requirePriv(ctx, '/', ['Sys.Audit', 'Datastore.Audit'], true);
  throw new Error('binary not installed: /usr/bin/ceph-mon\n');
};
