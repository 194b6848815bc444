/** One task as PBS's `TaskListItem` (pbs-api-types `src/lib.rs`) serialises it. */
export interface PbsTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  worker_type: string;
  /** `null` when the task has no id (PBS serialises the Option without skipping it). */
  worker_id: string | null;
  /** The auth id that started it, `user@realm` or `user@realm!token`. */
  user: string;
  /** Finished tasks only. */
  endtime?: number;
  /** Finished tasks only: `OK`, `WARNINGS: n`, `unknown` or the error text. */
  status?: string;
}

/** One backup snapshot the simulator lists (`SnapshotListItem` is made from it). */
export interface PbsSnapshot {
  store: string;
  /** '' (default) is the root namespace. */
  ns?: string;
  type: 'ct' | 'vm' | 'host';
  id: string;
  /** Epoch seconds. */
  time: number;
  /** Absent: never verified. */
  verification?: 'ok' | 'failed';
  size?: number;
  protected?: boolean;
}

export interface PbsSimToken {
  /** `user@realm!tokenname` */
  id: string;
  secret: string;
}

export interface PbsSimOptions {
  tokens: PbsSimToken[];
  /** The PBS hostname (default `pbs`): the certificate CN and the node in generated UPIDs. */
  nodeName?: string;
  /** `GET /version`; default { version: '3.4', release: '1', repoid: '…' } as PBS 3.4.1 answers. */
  version?: { version: string; release: string; repoid: string };
  host?: string;
  port?: number;
  /** Backup snapshots, in any datastore; a datastore named here or in `datastores` exists. */
  snapshots?: PbsSnapshot[];
  /** More datastores that exist (empty ones). */
  datastores?: string[];
  /** PBS delays every 401 by 3 s (proxmox-rest-server `delay_unauth_time`); default 0 here. */
  authFailDelayMs?: number;
}

export interface PbsSimRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  /** The token id that authenticated the request, or null. */
  tokenId: string | null;
  status: number;
}

export interface PbsSim {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  certPem: string;
  /** SHA-256 of the certificate, `AB:CD:…` */
  fingerprint: string;
  requests: PbsSimRequest[];
  /** Replaces the running tasks (listed first, in this order, as PBS lists its active workers). */
  setRunningTasks(tasks: readonly PbsTask[]): void;
  /** Replaces the finished tasks (listed after the running ones, newest first). */
  setFinishedTasks(tasks: readonly PbsTask[]): void;
  /** Replaces the backup snapshots (their datastores exist from then on). */
  setSnapshots(snapshots: readonly PbsSnapshot[]): void;
  close(): Promise<void>;
}
