/**
 * Is this node part of a quorate cluster? Two small, total answers: from the API's
 * `/cluster/status` (the `type: 'cluster'` entry's `quorate`; a standalone node has no such
 * entry and counts as quorate) and, as a fallback without the API, from the mode of
 * `<cluster_dir>/local` as PVE::Cluster::check_cfs_quorum reads it (pmxcfs reports 0777 when
 * quorate and 0555 when not; `-w` would be useless because root may always write).
 */
import { join } from 'node:path';
import { type ClusterFs, nodeClusterFs } from './cluster-fs.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** From the `/cluster/status` answer (the `data` array). Anything unreadable counts as not quorate. */
export function quorumFromClusterStatus(entries: unknown): boolean {
  if (!Array.isArray(entries)) return false;
  const cluster = entries.find((e) => isRecord(e) && e.type === 'cluster');
  if (cluster === undefined) return entries.some((e) => isRecord(e) && e.type === 'node');
  const q = (cluster as Record<string, unknown>).quorate;
  return q === 1 || q === true || q === '1';
}

/** From `<cluster_dir>/local`: quorate when its owner-write bit is set; missing (pmxcfs not mounted) = not quorate. */
export async function quorumFromLocalDir(clusterDir: string, fs: ClusterFs = nodeClusterFs): Promise<boolean> {
  try {
    const st = await fs.lstat(join(clusterDir, 'local'));
    return (st.mode & 0o200) !== 0;
  } catch {
    return false;
  }
}
