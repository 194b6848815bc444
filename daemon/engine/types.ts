import type { PlanStore } from '../approvals/store.js';
import type { SavedGuestPlan } from '../approvals/types.js';
import type { BackupResultStore } from '../backups/store.js';
import type { Config } from '../config/schema.js';
import type { ChangedPackage, PendingUpdate } from '../drivers/types.js';
import type { ExceptionStore } from '../exceptions/store.js';
import type { ExceptedPackage, PackageException } from '../exceptions/types.js';
import type { Notification } from '../notify/types.js';
import type { GuestPolicy } from '../policy/types.js';
import type { ProxmoxClient } from '../proxmox/client.js';
import type { Guest } from '../proxmox/inventory.js';
import type { GuestOutcome, RebootStatus, StateStore } from '../store/state.js';

export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface Verification {
  ok: boolean;
  /** Units failed now that were not before the patch; null when the guest has no systemd to ask. */
  new_failed_units: string[] | null;
  checks: CheckResult[];
  problems: string[];
}

/** What the engine is handed; constructed once by the daemon. */
export interface EngineServices {
  config: Config;
  client: ProxmoxClient;
  store: StateStore;
  /** Package exceptions (absent: none apply). */
  exceptions?: ExceptionStore;
  /** Saved and approved plans (absent: none). */
  plans?: PlanStore;
  /** Backup results reported by backup hooks (absent: none recorded, POST /backups/result is a 404). */
  backups?: BackupResultStore;
  /** The node this daemon runs on (pct reaches only containers there). */
  node: string;
  now?: () => Date;
  /** Whether the cluster has quorum (cached; undefined: unknown). Absent: not asked. */
  quorum?: () => Promise<boolean | undefined>;
  /** Hands a notification to the channels (in the background; never throws). */
  notify?: (n: Notification | undefined) => void;
}

export interface PlanRequest {
  selector: string[];
  exclude: string[];
  dry_run?: boolean;
  /** Only updates the guest's package manager marks as security fixes. */
  security_only?: boolean;
  /** Overrides the policy's reboot setting for every guest of the run. */
  reboot?: 'never' | 'if-required' | 'always';
  /** Overrides the policy's on-failure setting for every guest of the run. */
  on_failure?: 'keep' | 'rollback';
  /** An approved saved plan: its guests, exactly its versions. */
  plan?: string;
}

/** Per guest, the established patch-management fields plus how pvepatch would reach and protect it. */
export interface GuestPlan {
  vmid: number;
  name: string;
  node: string;
  type: 'lxc' | 'qemu';
  status: string;
  transport: string | null;
  driver: string | null;
  os: string | null;
  updates_available: number;
  security_updates: number;
  packages: PendingUpdate[];
  exclusions: string[];
  /** Pending updates left alone because of a package exception, each with its reason. */
  excepted: ExceptedPackage[];
  dry_run: boolean;
  security_only: boolean;
  protection: 'snapshot' | 'none';
  /** The guest's reboot and failure policy, and where each setting came from. */
  reboot: 'never' | 'if-required' | 'always';
  on_failure: 'keep' | 'rollback';
  policy_sources: string[];
  /** Why this guest will not be patched, or null. */
  skip_reason: string | null;
  /** Entries into the guest to make this plan, the commands run and the time they took. */
  exec?: { round_trips: number; commands: number; guest_ms: number };
}

/** The newest PBS backup of a guest that `fallback backup` accepted, as PBS listed it. */
export interface PbsBackupProof {
  datastore: string;
  /** '' is the root namespace. */
  namespace: string;
  /** The snapshot, as PBS names it: `ct/101/2026-12-05T03:00:00Z`. */
  id: string;
  /** Its backup time (ISO 8601). */
  time: string;
  /** Hours old when it was checked (one decimal). */
  age_hours: number;
  /** `ok` when a verify job checked it, null when none did (a failed one is never accepted). */
  verification: 'ok' | null;
  /** The newest successful result a backup hook (PBS Plus) reported for the guest, if any. */
  reported_at?: string;
}

export interface GuestResult {
  vmid: number;
  name: string;
  outcome: GuestOutcome;
  reason?: string;
  /** How pvepatch reached the guest (pct, qga, ssh). */
  transport?: string;
  driver?: string;
  /** What protected the guest before the patch. */
  protection?: 'snapshot' | 'vzdump' | 'backup' | 'none';
  /** The vzdump backup taken when a snapshot was impossible (fallback: vzdump). */
  backup?: { storage: string; upid: string };
  /** The PBS backup snapshot accepted when a snapshot was impossible (fallback: backup). */
  pbs_backup?: PbsBackupProof;
  /** The hypervisor reboot, as its record stands (pending → sent → rebooting → completed | failed | timeout). */
  reboot?: { status: RebootStatus; reason: string; upid?: string; seconds?: number; error?: string };
  /** The checks after the patch (and the reboot). */
  verification?: Verification;
  /** A rollback to the run's snapshot after a failure, and the checks after it. */
  rollback?: {
    snapshot: string;
    reason: string;
    upid?: string;
    ok: boolean;
    error?: string;
    verification?: Verification;
  };
  /** role pbs: the Proxmox Backup Server's state after the patch. */
  pbs?: Record<string, unknown>;
  snapshot?: { name: string; upid: string; finished_at: string };
  pruned_snapshots?: string[];
  packages?: PendingUpdate[];
  changed?: ChangedPackage[];
  exclusions?: string[];
  excepted?: ExceptedPackage[];
  reboot_required?: boolean;
  reboot_packages?: string[];
  conffiles_pending?: string[];
  /** Services the family's tooling says need a restart after the upgrade. */
  services_to_restart?: string[];
  /** Holds that existed before the run (never touched). */
  admin_holds?: string[];
  /** The hook scripts that ran for this guest, per phase, with their warnings and notes. */
  hooks?: HookPhaseRecord[];
  /**
   * Entries into the guest (a stage's shell session or a standalone exec: the cost on a real node),
   * the commands run through them, and the time spent waiting for them.
   */
  exec?: { round_trips: number; commands: number; guest_ms: number };
  /**
   * Milliseconds from the guest's first stage to its outcome: in guest commands, in Proxmox tasks
   * (snapshots), waiting for a pool slot, and the rest (pvepatch's own work and API calls).
   */
  timing?: { total_ms: number; guest_ms: number; tasks_ms: number; queued_ms: number; other_ms: number };
}

/** One hook phase of a guest or run: the hooks that ran, what they warned and noted, a veto. */
export interface HookPhaseRecord {
  phase: string;
  ran: string[];
  warnings: string[];
  notes: string[];
  veto?: string;
}

export interface RunReport {
  id: string;
  state: string;
  started_at: string;
  ended_at: string;
  dry_run: boolean;
  exclude: string[];
  guests: GuestResult[];
  /** The run's pre-run and post-run hooks. */
  hooks?: HookPhaseRecord[];
}

/** A guest paired with its policy and how to reach it. */
export interface Target {
  guest: Guest;
  policy: GuestPolicy;
  transport: string | null;
  skip_reason: string | null;
  /** The package exceptions that apply to the guest now. */
  exceptions?: PackageException[];
  /** The approved plan's packages for this guest, in a run of an approved plan. */
  approved?: SavedGuestPlan;
}
