import type { PrivMap, SimAcl, SimUserInfo } from './access.js';

export type { PrivMap, SimAcl, SimUserInfo } from './access.js';
/** Public shapes of the PVE API simulator (see readme.md). */

export type GuestType = 'lxc' | 'qemu';

/** A guest as a test declares it. `config` keys are added to (or override) the rendered guest config. */
export interface SimGuest {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: 'running' | 'stopped';
  template?: boolean;
  tags?: string[];
  pool?: string;
  ostype?: string;
  lock?: string;
  config?: Record<string, string | number>;
}

/**
 * What a snapshot really does to the guest's disks. Called inside the task worker, while the guest holds
 * the matching config lock (`snapshot`, `rollback`, `snapshot-delete`); a rejection fails the task.
 */
export interface SnapshotBackend {
  create(vmid: number, name: string): Promise<void>;
  rollback(vmid: number, name: string): Promise<void>;
  remove(vmid: number, name: string): Promise<void>;
}

/** What qemu-ga's `guest-exec` reports once a process is gone (`qga/commands.c` `qmp_guest_exec_status`). */
export interface AgentExecResult {
  /** Exit code when the process exited normally. */
  exitcode?: number;
  /** Signal number when a signal killed it. */
  signal?: number;
  out: Buffer;
  err: Buffer;
  outTruncated: boolean;
  errTruncated: boolean;
}

/** A process the agent started: its pid in the guest and when it is done (exited and both pipes closed). */
export interface AgentProcess {
  pid: number;
  done: Promise<AgentExecResult>;
}

/**
 * The QEMU guest agent of VMs, as the simulator needs it. `exec` starts argv in the guest the way qemu-ga's
 * `guest-exec` does (no shell; stdin = inputData or nothing; stdout/stderr captured up to `maxOutput`
 * bytes each, the rest dropped and flagged); it rejects when the program cannot be started (the text becomes
 * PVE's 500). `alive` says whether the agent in the guest could answer now (guest up, agent running).
 * `restart` is the agent's service restart: kill every process it started that is still in its
 * session, before the agent comes back.
 */
export interface AgentBackend {
  exec(vmid: number, argv: string[], opts: { inputData?: Buffer; maxOutput: number }): Promise<AgentProcess>;
  alive(vmid: number): Promise<boolean>;
  restart(vmid: number): Promise<void>;
  /** `guest-get-osinfo`; optional (the endpoint answers from os-release when this is absent). */
  osinfo?(vmid: number): Promise<Record<string, string>>;
}

/** The hypervisor side of a guest: reboot = stop every process, then boot again (unless `noReturn`). */
export interface PowerBackend {
  /**
   * Shuts the guest down; resolves once it is down (`stopped`), rejects when it did not go down within
   * `timeoutMs`. The guest boots again afterwards unless `noReturn`; `started` resolves then.
   */
  reboot(vmid: number, opts: { timeoutMs: number; noReturn: boolean }): Promise<{ started: Promise<void> }>;
  /** Seconds since the guest's last start; undefined when it is not running. */
  uptime(vmid: number): Promise<number | undefined>;
  running(vmid: number): Promise<boolean>;
}

export interface SimToken {
  /** `USER@REALM!NAME` */
  id: string;
  secret: string;
  /**
   * Privilege separation (`pveum user token add --privsep`). Left out, the token has every privilege as long as
   * no ACL names it or its user (so tests without access setup are unaffected); once one does, it counts as
   * `false` (the user's privileges). `true`: the intersection of the token's own ACLs and the user's.
   */
  privsep?: boolean;
}

export interface SimOptions {
  /** Cluster node names; the first is the node the API is reached on (default `['pve1']`). */
  nodes?: string[];
  /** Each node's `ip` in `/cluster/status` (default `192.0.2.<n>`, n = the node's position + 1). */
  nodeIps?: Record<string, string>;
  guests: SimGuest[];
  tokens: SimToken[];
  backend?: SnapshotBackend;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** How long a snapshot task holds its lock before calling the backend (default 50 ms). */
  taskDelayMs?: number;
  /** pve-http-server delays every 401 by 3 s; the simulator by this much (default 0). */
  authFailDelayMs?: number;
  /** Runs agent/exec in VMs and says whether their agent answers; without it agent calls of running VMs
   * with `agent` enabled see an agent that answers ping but has nothing to exec on (exec fails). */
  agent?: AgentBackend;
  /** Reboots guests and reports uptime; without it status/reboot only flips the simulated state. */
  power?: PowerBackend;
  /** How long an agent call waits for the internal `guest-ping` before `QEMU guest agent is not running`
   * (PVE: 3 s; default here 100 ms). */
  agentTimeoutMs?: number;
  /** Cap of each of stdout/stderr of agent/exec (qemu-ga `GUEST_EXEC_MAX_OUTPUT`: 16 MiB, the default). */
  agentMaxOutput?: number;
  /** After a (re)boot the agent answers only this long after the guest started (default 0). */
  agentBootDelayMs?: number;
  /** How long a backup started through `POST /nodes/{node}/vzdump` runs (default 200 ms). */
  vzdumpDurationMs?: number;
  /**
   * The nodes' subscription: `active` (default; the web UI shows no "No valid subscription" box after a form
   * login) or `notfound` (no key, as on a fresh install).
   */
  subscription?: 'active' | 'notfound';
}

export interface SimSnapshot {
  name: string;
  description: string;
  snaptime: number;
  parent?: string;
  vmstate?: boolean;
  /** `prepare` while being created, `delete` while being removed. */
  snapstate?: string;
}

/** A guest as it is now, including its snapshots and current parent snapshot. */
export interface SimGuestView extends SimGuest {
  snapshots: SimSnapshot[];
  parent?: string;
}

export interface SimTaskInfo {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  /** The full auth id, `user@realm` or `user@realm!token`. */
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  log: string[];
}

/** One request as the simulator received it. `path` is below `/api2/json`, URL-decoded. */
export interface SimRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  body: Record<string, unknown>;
  /** The HTTP status (`extjs` answers are always 200). */
  status: number;
  /** The API's status: the HTTP status, or for `extjs` the one inside the body (`status`, 200 on success). */
  apiStatus?: number;
  /** `json` or `extjs` (the `/api2/<fmt>/` part), when the path had one. */
  format?: string;
  statusText: string;
  /** The Authorization header as sent. */
  auth: string | undefined;
  /** The token id the request authenticated as. */
  authid?: string;
  /** The matched path template, e.g. `/nodes/{node}/lxc/{vmid}/snapshot`. */
  route?: string;
  /** Date.now() when the request arrived. */
  time: number;
}

/**
 * A fault for matching requests (method and path below `/api2/json`; a string matches the whole path).
 * Applied after authentication and parameter validation, so invalid requests still show as 400/501.
 */
export interface SimInjection {
  method?: string;
  path: RegExp | string;
  /** Answer with this status (default 500 when `message` is set). */
  status?: number;
  message?: string;
  /** Wait this long before handling (or before answering, with `when: 'after'`). */
  delayMs?: number;
  /** How many matching requests it affects (default: until cleared). */
  times?: number;
  /** `after`: the call is carried out and only its answer is replaced — the "did it happen?" case. */
  when?: 'before' | 'after';
  /** Close the connection without any answer. */
  drop?: boolean;
}

export interface SimControlTask {
  node: string;
  type: string;
  id?: string;
  user?: string;
  /** Ends by itself with OK after this long; otherwise it runs until finishTask(). */
  durationMs?: number;
  log?: string[];
}

export interface SimVzdump {
  node: string;
  vmids: number[];
  /** Task id; PVE uses the vmid when exactly one guest is backed up, otherwise ''. */
  id?: string;
  durationMs?: number;
  /** Task user (default `root@pam`, as scheduled jobs run). */
  user?: string;
  /** Shown in the first log line (default `sim-backup`). */
  storage?: string;
}

/**
 * An HA resource as `sim.setHaResource` takes it: its `resources.cfg` keys, and the CRM's state of it
 * (`manager_status` `service_status.<sid>.state`).
 */
export interface SimHaResource {
  /** The requested state; absent means PVE's default (`started`). */
  state?: 'started' | 'stopped' | 'enabled' | 'disabled' | 'ignored';
  group?: string;
  comment?: string;
  max_restart?: number;
  max_relocate?: number;
  failback?: boolean;
  /**
   * The CRM's service state: `started`, `stopped`, `request_stop`, `request_start`, `migrate`, `relocate`,
   * `freeze`, `fence`, `recovery`, `error`; null: not processed yet (`queued`). Default: a steady cluster's
   * (`started` for a requested start, `stopped` for stopped/disabled, none for `ignored`).
   */
  crm_state?: string | null;
}

export interface Sim {
  url: string;
  port: number;
  caPem: string;
  /** SHA-256 of the certificate, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  nodes: string[];
  /** Every request received, in order. */
  requests: SimRequest[];
  /** TLS handshakes completed so far (a client that keeps its connection alive makes one). */
  tlsHandshakes(): number;
  close(): Promise<void>;
  /** A running `vzdump` task by root@pam; its guests hold `lock: backup` until it ends. */
  startVzdump(opts: SimVzdump): string;
  startTask(opts: SimControlTask): string;
  /** Ends a running task: `OK`, `WARNINGS: n` or an error text. */
  finishTask(upid: string, exitstatus?: string): void;
  /** Later snapshot-create tasks of this guest fail with this text (null clears). */
  failSnapshots(vmid: number, message?: string | null): void;
  inject(injection: SimInjection): void;
  clearInjections(): void;
  setGuest(vmid: number, patch: Partial<SimGuest>): void;
  guest(vmid: number): SimGuestView;
  tasks(): SimTaskInfo[];
  /** Resolves when the task has stopped. */
  waitTask(upid: string, timeoutMs?: number): Promise<SimTaskInfo>;
  /** The VM's agent stops (on) / starts again (off) answering; processes it started keep running. */
  hangAgent(vmid: number, on: boolean): void;
  /**
   * The agent service restarts now: every process it started that is still in its session is killed (as
   * systemd kills qemu-guest-agent's cgroup) and it answers nothing for `downMs` (default 0).
   */
  restartAgent(vmid: number, opts?: { downMs?: number }): Promise<void>;
  /** The next reboot of this guest stops it and it never boots again (status stays `stopped`). */
  rebootNeverReturns(vmid: number, on?: boolean): void;
  /** Adds or replaces an HA resource (`vm:<vmid>` / `ct:<vmid>`); see ha.ts for what HA then does. */
  setHaResource(sid: string, resource?: SimHaResource): void;
  /** Drops or restores quorum: `/cluster/status` says so and every write answers 500 `cluster not ready - no quorum?`. */
  setQuorate(quorate: boolean): void;
  /** Removes an HA resource (`ha-manager remove`). */
  removeHaResource(sid: string): void;
  /** After a (re)boot the agent answers only after this long (changes SimOptions.agentBootDelayMs). */
  setAgentBootDelay(ms: number): void;
  /** The simulator's `/etc/pve/pve-www.key` (the CSRF secret's source); removed on close(). */
  wwwKeyPath: string;
  /** A user (`name@realm`) that can log in with `password` (root@pam exists, without a password until set). */
  addUser(userid: string, opts?: SimUserInfo): void;
  /** A custom role (privileges must be valid PVE privileges). */
  addRole(name: string, privs: string[]): void;
  /** Adds ACL entries (`pveum acl modify`); `propagate` defaults to true. */
  setAcl(acl: SimAcl): void;
  /** A ticket and CSRF token for the user as `POST /access/ticket` makes them, issued `ageSeconds` ago. */
  ticketFor(userid: string, opts?: { ageSeconds?: number }): { ticket: string; csrf: string };
  /** `RPCEnvironment::permissions` of a user or token on a path (privilege → propagate 0/1). */
  permissions(authid: string, path: string): PrivMap;
}
