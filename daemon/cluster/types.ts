/**
 * What a node's daemon publishes about itself in `<cluster_dir>/nodes/<node>/pvepatch/status.json`,
 * rewritten every `cluster_refresh` seconds, and what the other nodes make of it.
 */
export interface NodeStatus {
  node: string;
  version: string;
  pid: number;
  /** The daemon's HTTPS API port (0: not served). */
  api_port: number;
  /** SHA-256 fingerprint of the HTTPS API's certificate (`AB:CD:…`): the other nodes pin it. */
  api_fingerprint?: string;
  started_at: string;
  /** When this status was written (the writer's clock). */
  heartbeat_at: string;
  /** The writer's view of quorum (null: unknown). */
  quorate: boolean | null;
  /** Whether the writer held the leader lock when it wrote this. */
  leader: boolean;
}

/** Another node of the cluster, as this node sees it. */
export interface Peer {
  node: string;
  /** A pvepatch daemon there has refreshed its status recently. */
  alive: boolean;
  /** Why it is not alive, for the admin (`no pvepatch daemon running on node 'pve3' (last status 12:01:05)`). */
  reason?: string;
  status?: NodeStatus;
  /** The node's cluster address (`/cluster/status` `ip`), where its daemon's HTTPS API listens. */
  ip?: string;
}

/** `GET /cluster`: how this node sees the cluster (also in standalone mode). */
export interface ClusterView {
  mode: 'cluster' | 'standalone';
  node: string;
  cluster_dir: string;
  /** Cluster mode: the node holding the leader lock as its record says (null: none known). */
  leader?: string | null;
  /** Cluster mode: quorum as this node last saw it (null: unknown). */
  quorate?: boolean | null;
  nodes?: {
    node: string;
    alive: boolean;
    leader: boolean;
    reason?: string;
    version?: string;
    heartbeat_at?: string;
  }[];
}

/** How a request is forwarded to another node's daemon. */
export type ForwardAuth =
  /** An HTTPS caller's own credentials, passed on unchanged (Proxmox checks them on the other node). */
  | { kind: 'caller'; headers: { cookie?: string; authorization?: string; csrfpreventiontoken?: string } }
  /** A root caller on the unix socket: the daemon's own API token speaks for it. */
  | { kind: 'daemon'; token: string; onBehalfOf: string };
