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

export interface SimToken {
  /** `USER@REALM!NAME` */
  id: string;
  secret: string;
}

export interface SimOptions {
  /** Cluster node names; the first is the node the API is reached on (default `['pve1']`). */
  nodes?: string[];
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
  status: number;
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
}
