import { createTicket, permissions } from './access-handlers.js';
import { agentExec, agentExecStatus, agentOsinfo, agentPing } from './agent.js';
import { haResource, haResources, haStatusCurrent } from './ha.js';
import { rebootGuest, updateQemuConfig, vzdump } from './power.js';
import {
  clusterResources,
  nodeStatus,
  nodesIndex,
  version,
  vmConfig,
  vmList,
  vmStatusCurrent,
} from './read-handlers.js';
import type { Handler } from './router.js';
import { createSnapshot, deleteSnapshot, listSnapshots, rollbackSnapshot, snapshotCmdIndex } from './snapshots.js';
import { agentNetworkInterfaces, aptRepositories, guestRrd, lxcInterfaces, nodeRrd } from './summary-handlers.js';
import { clusterTasks, nodeTasks, stopTask, taskIndex, taskLog, taskStatus } from './task-handlers.js';
import type { GuestType } from './types.js';
import { cephStatus, clusterLog, clusterOptions, clusterStatus, domains, subscription } from './ui-handlers.js';

/**
 * `METHOD /path/template` → handler. Must name exactly the endpoints of schema/pve-api-subset.json
 * (routes.test.ts checks both directions).
 */
export const ROUTES: Record<string, Handler> = {
  'GET /version': version,
  'POST /access/ticket': createTicket,
  'GET /access/permissions': permissions,
  'GET /cluster/resources': clusterResources,
  'GET /cluster/tasks': clusterTasks,
  'GET /cluster/ha/resources': haResources,
  'GET /cluster/ha/resources/{sid}': haResource,
  'GET /cluster/ha/status/current': haStatusCurrent,
  'GET /nodes': nodesIndex,
  'GET /nodes/{node}/status': nodeStatus,
  'GET /nodes/{node}/tasks': nodeTasks,
  'GET /nodes/{node}/tasks/{upid}': taskIndex,
  'DELETE /nodes/{node}/tasks/{upid}': stopTask,
  'GET /nodes/{node}/tasks/{upid}/status': taskStatus,
  'GET /nodes/{node}/tasks/{upid}/log': taskLog,
  ...guestRoutes('lxc'),
  ...guestRoutes('qemu'),
  'POST /nodes/{node}/vzdump': vzdump,
  'PUT /nodes/{node}/qemu/{vmid}/config': updateQemuConfig,
  'POST /nodes/{node}/qemu/{vmid}/agent/ping': agentPing,
  'POST /nodes/{node}/qemu/{vmid}/agent/exec': agentExec,
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status': agentExecStatus,
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo': agentOsinfo,
  // what the web UI reads (test/ui): ui-handlers.ts, summary-handlers.ts
  'GET /access/domains': domains,
  'GET /cluster/options': clusterOptions,
  'GET /cluster/status': clusterStatus,
  'GET /cluster/log': clusterLog,
  'GET /nodes/{node}/subscription': subscription,
  'GET /nodes/{node}/ceph/status': cephStatus,
  'GET /nodes/{node}/rrddata': nodeRrd,
  'GET /nodes/{node}/apt/repositories': aptRepositories,
  'GET /nodes/{node}/lxc/{vmid}/rrddata': guestRrd('lxc'),
  'GET /nodes/{node}/qemu/{vmid}/rrddata': guestRrd('qemu'),
  'GET /nodes/{node}/lxc/{vmid}/interfaces': lxcInterfaces,
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': agentNetworkInterfaces,
};

function guestRoutes(type: GuestType): Record<string, Handler> {
  const vm = `/nodes/{node}/${type}/{vmid}`;
  return {
    [`GET /nodes/{node}/${type}`]: vmList(type),
    [`GET ${vm}/config`]: vmConfig(type),
    [`GET ${vm}/status/current`]: vmStatusCurrent(type),
    [`GET ${vm}/snapshot`]: listSnapshots(type),
    [`POST ${vm}/snapshot`]: createSnapshot(type),
    [`GET ${vm}/snapshot/{snapname}`]: snapshotCmdIndex,
    [`DELETE ${vm}/snapshot/{snapname}`]: deleteSnapshot(type),
    [`POST ${vm}/snapshot/{snapname}/rollback`]: rollbackSnapshot(type),
    [`POST ${vm}/status/reboot`]: rebootGuest(type),
  };
}
