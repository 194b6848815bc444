/**
 * Where pvepatch keeps its shared state inside `cluster_dir` (default /etc/pve, the pmxcfs mount):
 * cluster-wide definitions, each node's status, secrets, and the cluster lock directory.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_CLUSTER_DIR = '/etc/pve';

/** The name of pvepatch's leader lock below `<cluster_dir>/priv/lock/`. */
export const LEADER_LOCK_NAME = 'pvepatch-leader';

export interface ClusterPaths {
  /** Cluster-wide definitions: `<cluster_dir>/pvepatch`. */
  shared: string;
  /** This node's status: `<cluster_dir>/nodes/<node>/pvepatch`. */
  nodeStatus: string;
  /** Secrets (mode 0600 in pmxcfs): `<cluster_dir>/priv/pvepatch`. */
  secrets: string;
  /** pmxcfs' lock directory: `<cluster_dir>/priv/lock`. */
  lockDir: string;
  /** The leader lock: `<cluster_dir>/priv/lock/pvepatch-leader`. */
  leaderLock: string;
  /** Who holds the leader lock (written by the holder): `<cluster_dir>/pvepatch/leader.json`. */
  leaderRecord: string;
  /** pmxcfs' symlink to this node's directory; its mode tells quorum: `<cluster_dir>/local`. */
  local: string;
}

/** A node name as Proxmox allows it (a DNS label); anything else could escape cluster_dir. */
export function isValidNodeName(node: string): boolean {
  if (node.length === 0 || node.length > 63) return false;
  if (node.startsWith('-') || node.endsWith('-')) return false;
  for (const ch of node) {
    const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '-';
    if (!ok) return false;
  }
  return true;
}

export function clusterPaths(clusterDir: string, node: string): ClusterPaths {
  const lockDir = join(clusterDir, 'priv', 'lock');
  return {
    shared: join(clusterDir, 'pvepatch'),
    nodeStatus: join(clusterDir, 'nodes', node, 'pvepatch'),
    secrets: join(clusterDir, 'priv', 'pvepatch'),
    lockDir,
    leaderLock: join(lockDir, LEADER_LOCK_NAME),
    leaderRecord: join(clusterDir, 'pvepatch', 'leader.json'),
    local: join(clusterDir, 'local'),
  };
}

/** Whether the daemon runs in cluster mode: its cluster_dir is there (/etc/pve on every PVE node). */
export function clusterModeOn(clusterDir: string): boolean {
  try {
    return existsSync(clusterDir) && statSync(clusterDir).isDirectory();
  } catch {
    return false;
  }
}
