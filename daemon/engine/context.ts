import type { GuestExec } from '../drivers/shared/guest-exec.js';
import type { Driver, DriverContext, PendingUpdate } from '../drivers/types.js';
import type { GuestPolicy } from '../policy/types.js';
import type { RebootRecord } from '../store/state.js';
import type { HookSession } from './hook-session.js';
import type { EngineServices, GuestResult, Target } from './types.js';

/** Everything the stages of one guest share. */
export interface GuestContext {
  svc: EngineServices;
  target: Target;
  runId: string;
  dryRun: boolean;
  securityOnly: boolean;
  exclude: string[];
  /** pvepatch's own statements about this guest (any text; every line gets the guest's prefix). */
  log: (text: string, opts?: { essential?: boolean }) => void;
  /** Lines the guest itself printed (quoted in the log). */
  output: (line: string) => void;
  /** Whether the log still takes guest output (false once it reached run_log_max_mb). */
  outputOpen?: () => boolean;
  /** Epoch ms after which no command may start in this guest (guest_timeout). */
  deadline: number;
  /** True once the daemon is stopping or the run was cancelled: no further stage starts. */
  stopping: () => boolean;
  /** Why, for the guest's reason (default: the daemon is stopping). */
  stopWhy?: () => string;
  result: GuestResult;
  /** Epoch ms the guest's work began, and the time spent in Proxmox tasks and waiting for slots. */
  timing: { started: number; tasksMs: number; queuedMs: number };
  /** The guest's policy with the run's options applied. */
  policy: GuestPolicy;
  /** The guest's config as the gate (or connect) last read it. */
  guestConfig?: Record<string, unknown>;
  /** The LXC `ostype` from the guest's config (a detection hint), once read. */
  ostype?: string;
  /** Units failed before the patch (null: the guest has no systemd to ask). */
  failedBefore?: string[] | null;
  exec?: GuestExec;
  driver?: Driver;
  driverCtx?: DriverContext;
  updates?: PendingUpdate[];
  /** os-release PRETTY_NAME (or ID) once the guest was entered. */
  os?: string;
  /** An approved plan's versions for this guest (set by the updates stage). */
  pins?: Record<string, string>;
  /** A reboot an earlier run deferred to the reboot window: this run only reboots and verifies. */
  deferredReboot?: RebootRecord;
  /** The run's hook scripts (absent for plans: they run none). */
  hooks?: HookSession;
  /** Set once the pre-guest phase ran: post-guest hooks then run whatever the outcome. */
  preGuestRan?: boolean;
  /** Snapshots kept after this guest's snapshot, when a hook raised it above `snapshot_keep`. */
  snapshotKeep?: number;
}

export type StageResult =
  | { status: 'done' }
  | { status: 'skipped'; reason: string }
  /** Stop this guest here with a final outcome (not an error: e.g. nothing to update). */
  | { status: 'halt'; outcome: GuestResult['outcome']; reason: string };

/** One step of a guest's run. Failures are thrown PvepatchErrors. */
export interface Stage {
  readonly name: string;
  run(ctx: GuestContext): Promise<StageResult>;
}

export const done: StageResult = { status: 'done' };
