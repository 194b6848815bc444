/**
 * Errors and texts exactly as Proxmox produces them. Each text names its upstream source
 * (repository and file); readme.md lists them all.
 */

/**
 * A non-200 answer. `message` may hold several lines: the status line carries the first, the JSON body
 * the whole text (pve-http-server `AnyEvent.pm` `response`, `Formatter/Standard.pm`).
 */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
    this.name = 'SimHttpError';
  }
}

/** pve-common `Exception.pm` `raise_param_exc`. */
export function paramError(errors: Record<string, string>): SimHttpError {
  return new SimHttpError(400, 'Parameter verification failed.\n', errors);
}

/** Perl `die "…\n"`: a 500 in a handler, `TASK ERROR: …` in a worker. */
export function die(message: string): never {
  throw new Error(`${message}\n`);
}

export const texts = {
  /** pve-manager `PVE/HTTPServer.pm` `auth_handler` (no cookie, no token). */
  noTicket: 'No ticket',
  /** pve-manager `PVE/HTTPServer.pm` `auth_handler` (any failure of `verify_token`). */
  authFailed: 'Authentication failed!',
  /** pve-common `Ticket.pm` `verify_csrf_prevention_token` (a 401 PVE::Exception; first line in the status). */
  invalidCsrf: 'Permission denied - invalid csrf token\n',
  /** pve-manager `PVE/HTTPServer.pm` `rest_handler`. */
  notImplemented: (method: string, relUri: string) => `Method '${method} ${relUri}' not implemented`,
  /** pve-http-server `AnyEvent.pm` `handle_request`. */
  noSuchUri: 'no such uri',
  unexpectedContent: (method: string) => `Unexpected content for method '${method}'`,
  noFormatter: (relUri: string, format: string) => `no formatter for uri ${relUri}, ${format}`,
  /** pve-manager `PVE/HTTPServer.pm` `rest_handler`. */
  conflictingParam: 'duplicate parameter (already defined in URI) with conflicting values!',
  /** pve-common `Network.pm` `get_ip_from_hostname` + `Tools.pm` `getaddrinfo_all` (proxying to an unknown node). */
  unknownNode: (node: string) =>
    `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known\n`,
  /** pve-guest-common `AbstractConfig.pm` `load_config`; paths from pve-container / qemu-server `cfs_config_path`. */
  configMissing: (node: string, type: 'lxc' | 'qemu', vmid: number) =>
    `Configuration file 'nodes/${node}/${type === 'lxc' ? 'lxc' : 'qemu-server'}/${vmid}.conf' does not exist`,
  /** pve-guest-common `AbstractConfig.pm` `check_lock`; `guest_type` is CT (pve-container) or VM (qemu-server). */
  locked: (type: 'lxc' | 'qemu', lock: string) => `${type === 'lxc' ? 'CT' : 'VM'} is locked (${lock})`,
  /** pve-container `API2/LXC/Snapshot.pm`, qemu-server `API2/Qemu.pm` `snapshot`. */
  reservedName: (name: string) => `unable to use snapshot name '${name}' (reserved name)`,
  /** pve-guest-common `AbstractConfig.pm` `__snapshot_prepare`. */
  snapshotTemplate: "you can't take a snapshot if it's a template",
  nameUsed: (name: string) => `snapshot name '${name}' already used`,
  featureUnavailable: 'snapshot feature is not available',
  /** pve-guest-common `AbstractConfig.pm` `snapshot_create`: a `warn` before the cleanup. */
  createCleanup: 'snapshot create failed: starting cleanup',
  /** pve-guest-common `AbstractConfig.pm` `snapshot_delete` / `snapshot_rollback`. */
  snapshotMissing: (name: string) => `snapshot '${name}' does not exist`,
  deleteTemplate: "you can't delete a snapshot if vm is a template",
  rollbackTemplate: "you can't rollback if vm is a template",
  incompleteSnapshot: (state: string) => `unable to rollback to incomplete snapshot (snapstate = ${state})`,
  /** pve-manager `PVE/API2/Tasks.pm`. */
  badUpid: 'unable to parse worker upid',
  noSuchTask: 'no such task',
  /** pve-common `Tools.pm` `dump_logfile`. */
  noLogFile: 'unable to open file - No such file or directory',
  /** pve-common `RESTEnvironment.pm` `fork_worker` (SIGTERM handler). */
  interrupted: 'received interrupt',
  /** qemu-server `QemuServer/Agent.pm` `assert_agent_available`. */
  agentNotConfigured: 'No QEMU guest agent configured',
  vmNotRunningAgent: (vmid: number) => `VM ${vmid} is not running`,
  agentNotRunning: 'QEMU guest agent is not running',
  /** qemu-server `QemuServer/Agent.pm` `check_agent_error`: a qemu-ga error reply. */
  agentError: (desc: string) => `Agent error: ${desc}`,
  /** QEMU `qga/commands.c` `qmp_guest_exec_status` for an unknown (or already reported) pid. */
  agentNoPid: (pid: number) => `PID ${pid} does not exist`,
  /** qemu-server `API2/Qemu.pm` `vm_reboot` / pve-container `API2/LXC/Status.pm` `vm_reboot` (before forking). */
  notRunningReboot: (type: 'lxc' | 'qemu', vmid: number) => `${type === 'lxc' ? 'CT' : 'VM'} ${vmid} not running`,
  /** qemu-server `QemuServer.pm` `_do_vm_stop` when the guest did not go down in time. */
  rebootTimeout: 'VM quit/powerdown failed - got timeout',
  /** pve-container `LXC.pm` `vm_stop` when the container did not shut down in time. */
  ctShutdownTimeout: 'shutdown failed',
  /** pve-common `Tools.pm` `assert_if_modified`. */
  digestMismatch: 'detected modified configuration - file changed by other user? Try again.',
  /** pve-manager `PVE/API2/VZDump.pm` (its own signal handler). */
  vzdumpInterrupted: 'interrupted by signal',
} as const;

/** The text after `TASK ERROR: ` for an error thrown in a worker (pve-common `RESTEnvironment.pm` `fork_worker`). */
export function taskErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\n$/, '').replace(/\n/g, ' ');
}
