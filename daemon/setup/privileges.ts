/**
 * The privileges of the `PVEPatch` role, per Proxmox VE major version, each with the calls of
 * pvepatch's own token that need it. A role naming a privilege the server does not know is refused
 * (`pveum role add`), so PVE 8 and PVE 9 get different sets.
 */

/** Why pvepatch's token needs a privilege: the API calls it is checked on. */
export interface PrivilegeUse {
  priv: string;
  used_for: string;
}

const COMMON: PrivilegeUse[] = [
  {
    priv: 'VM.Audit',
    used_for:
      'GET /cluster/resources, guest config, status/current (also whether HA manages the guest, before a reboot or rollback) and snapshot lists (lists are filtered by it)',
  },
  {
    priv: 'VM.Snapshot',
    used_for: 'snapshot create and delete; also rollback (it accepts VM.Snapshot or VM.Snapshot.Rollback)',
  },
  { priv: 'VM.PowerMgmt', used_for: 'status/reboot, and the start=1 of a rollback' },
  { priv: 'VM.Config.Options', used_for: "PUT qemu config agent=1 ('pvepatch agent ensure')" },
  {
    priv: 'VM.Backup',
    used_for: "POST /nodes/{node}/vzdump ('fallback vzdump'; the storage needs --backup-storage too)",
  },
  { priv: 'Sys.Audit', used_for: "GET /cluster/tasks and node task lists: other users' vzdump tasks (root@pam)" },
];

const AGENT_PVE9: PrivilegeUse[] = [
  { priv: 'VM.GuestAgent.Audit', used_for: 'agent/ping (kept as in the README; Unrestricted allows it too)' },
  { priv: 'VM.GuestAgent.Unrestricted', used_for: 'agent/exec and agent/exec-status' },
];

const AGENT_PVE8: PrivilegeUse[] = [{ priv: 'VM.Monitor', used_for: 'every agent call (ping, exec, exec-status)' }];

/** The role's privileges with their uses for a PVE major version (PVE 8 before 9). */
export function pveRoleUses(major: number): PrivilegeUse[] {
  return [...COMMON, ...(major >= 9 ? AGENT_PVE9 : AGENT_PVE8)];
}

/** The role's privileges, sorted (as `pveum role list` prints them). */
export function pveRolePrivs(major: number): string[] {
  return pveRoleUses(major)
    .map((u) => u.priv)
    .sort();
}

/**
 * The built-in role granted on `/storage/<id>` for each `--backup-storage`: `PVEDatastoreUser`
 * (Datastore.AllocateSpace, Datastore.Audit), what vzdump needs on its target storage. Granted per
 * storage, not on `/`, so the token cannot allocate space anywhere else.
 */
export const PVE_STORAGE_ROLE = 'PVEDatastoreUser';

/** A PBS ACL: a built-in role on a path (PBS has no custom roles). */
export interface PbsGrant {
  path: string;
  role: string;
  used_for: string;
}

/** Read-only: the task list of every user, and datastore status. */
export const PBS_GRANTS: PbsGrant[] = [
  {
    path: '/system/tasks',
    role: 'Audit',
    used_for: "GET /nodes/localhost/tasks?running=1 lists every user's tasks only with Sys.Audit on /system/tasks",
  },
  { path: '/datastore', role: 'DatastoreAudit', used_for: 'datastore status and usage (Datastore.Audit)' },
];
