/**
 * Whether the cluster has quorum, as the PVE API says (`GET /cluster/status`), asked at most once per
 * `ttlMs` however many guests want to know. Without quorum /etc/pve is read-only, so no snapshot,
 * reboot or rollback can be recorded: pvepatch starts nothing new on a guest then (the gate stage
 * refuses it; a guest past its gate finishes its current step). An answer the daemon cannot get (no
 * Sys.Audit on `/`, the API down) is `undefined` - unknown, not a refusal: PVE itself refuses every
 * write without quorum, so the snapshot would fail with its own message.
 */
import type { ProxmoxClient } from '../proxmox/client.js';
import { quorumFromClusterStatus } from './quorum.js';

export type QuorumCheck = () => Promise<boolean | undefined>;

export function quorumCheck(
  client: Pick<ProxmoxClient, 'get'>,
  opts: { ttlMs?: number; now?: () => number; onChange?: (quorate: boolean | undefined) => void } = {},
): QuorumCheck {
  const ttl = opts.ttlMs ?? 5000;
  const now = opts.now ?? Date.now;
  let cached: { at: number; answer: Promise<boolean | undefined> } | undefined;
  let last: boolean | undefined;
  return () => {
    const t = now();
    if (cached && t - cached.at < ttl) return cached.answer;
    const answer = client.get<unknown>('/cluster/status').then(
      (entries) => quorumFromClusterStatus(entries),
      () => undefined,
    );
    cached = { at: t, answer };
    void answer.then((q) => {
      if (q !== last) opts.onChange?.(q);
      last = q;
    });
    return answer;
  };
}
