/**
 * A saved plan: exactly which package versions each guest would get, who planned it and when; once
 * approved (by someone allowed to run on every guest in it), `pvepatch run --plan <id>` installs
 * those versions and nothing newer.
 */
export interface PlannedPackage {
  package: string;
  current_version: string | null;
  new_version: string;
}

export interface SavedGuestPlan {
  vmid: number;
  name: string;
  driver: string | null;
  packages: PlannedPackage[];
}

export type SavedPlanState = 'saved' | 'approved';

export interface SavedPlan {
  id: string;
  selector: string[];
  state: SavedPlanState;
  created_by: string;
  created_at: string;
  approved_by?: string;
  approved_at?: string;
  guests: SavedGuestPlan[];
  /** The `apply` schedule that saved it for approval (its next window installs it once approved). */
  schedule?: string;
  /** Runs that installed it. */
  runs: string[];
}

/** One difference between an approved guest plan and what the guest offers now. */
export interface PlanDrift {
  package: string;
  approved: string;
  now: string;
}
