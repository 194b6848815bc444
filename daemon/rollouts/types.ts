import type { GuestOutcome } from '../store/state.js';

/**
 * A rollout: many guests patched under one policy, a canary group first, then batches, halting
 * when failures pass a threshold. Each group is one run; the rollout is the object that ties them.
 */
export type RolloutState = 'running' | 'paused' | 'halted' | 'cancelled' | 'completed';

export interface RolloutOptions {
  selector: string[];
  /** Tags whose guests go first, in this order (the rest keep the selector's order). */
  tag_order: string[];
  canary: number;
  batch: number;
  /** Halt once more guests than this failed (count), or more than this share of the guests done (percent). */
  max_failures: { count: number } | { percent: number };
  exclude: string[];
  security_only: boolean;
  reboot?: 'never' | 'if-required' | 'always';
  on_failure?: 'keep' | 'rollback';
  /** The end of the maintenance window it runs in: no group starts at or after it. */
  not_after?: string;
  /** An approved saved plan: only its guests, exactly its versions. */
  plan?: string;
}

export interface RolloutGuest {
  vmid: number;
  name: string;
  /** 0 is the canary group. */
  group: number;
  outcome?: GuestOutcome;
  reason?: string;
  run_id?: string;
  /** Cluster mode: the node that hosts it (and patches it). */
  node?: string;
  /** Cluster mode: set when the leader hands the guest to its node; raised when it is handed again. */
  attempt?: number;
  /** Cluster mode: when it was handed to its node. */
  assigned_at?: string;
  /**
   * Cluster mode with `cluster_ssh`: the node that patches it through the cluster's SSH because
   * no pvepatch daemon runs on its own node.
   */
  via?: string;
}

export interface Rollout {
  id: string;
  state: RolloutState;
  options: RolloutOptions;
  guests: RolloutGuest[];
  /** The group running now or to run next. */
  group: number;
  groups: number;
  runs: string[];
  created_by: string;
  created_at: string;
  updated_at: string;
  ended_at?: string;
  /** Why it is paused, halted or cancelled. */
  note?: string;
  halt?: { failures: { vmid: number; outcome: string; reason: string }[] };
  /** Cluster mode: who started it, for the runs each node starts for it. */
  meta?: { trigger: 'cli' | 'api' | 'schedule'; user: string };
  /** Cluster mode: a pause or cancel asked on any node, carried out by the leader. */
  request?: { kind: 'pause' | 'cancel'; user: string; at: string };
}

/** A guest counts as failed when its patch, reboot or checks failed (rolled back or not). */
export const FAILED: ReadonlySet<string> = new Set(['failed', 'rolled-back']);
/**
 * Whether a guest is done for the rollout: it has an outcome from its group's run (refused and
 * skipped guests too: the run said why). A guest without one, or interrupted by a daemon stop, is
 * patched again when the rollout resumes.
 */
export function isDone(outcome: string | undefined): boolean {
  return outcome !== undefined && outcome !== 'interrupted';
}
