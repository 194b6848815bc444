/** The phases a hook can run in, in the order a run meets them. */
export const HOOK_PHASES = ['pre-run', 'pre-guest', 'post-patch', 'post-reboot', 'post-guest', 'post-run'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

/** Only these phases may change what the run does (overrides on stdout, veto by exit code). */
export function isPrePhase(phase: string): phase is 'pre-run' | 'pre-guest' {
  return phase === 'pre-run' || phase === 'pre-guest';
}

export type RebootOverride = 'never' | 'if-required' | 'always';

/** What the hooks of one phase asked for, already validated and combined. */
export interface HookOverrides {
  /** Package names to exclude, added to the run's exclusions (union, in order of appearance). */
  exclude: string[];
  /** The last hook's reboot policy wins. */
  reboot?: RebootOverride;
  /** The last hook's value wins; never below the caller's `current.snapshot_keep`. */
  snapshot_keep?: number;
  /** Escaped, at most 1000 characters each. */
  notes: string[];
  /** Escaped reason: skip this guest (pre-guest) or abort the run (pre-run). The first one wins. */
  skip?: string;
}

export interface HookRunRecord {
  /** `<phase>.d/<file name>`, e.g. `pre-guest.d/10-dump`. */
  hook: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Why the hook was not run (ownership, permissions); absent when it ran. */
  refused?: string;
}

export interface HookOutcome {
  /** Every hook that ran or was refused, in the order met; skipped files are only logged. */
  ran: HookRunRecord[];
  overrides: HookOverrides;
  /** Escaped, one line each; also written to the log. */
  warnings: string[];
  /** A pre-phase hook failed: skip the guest (pre-guest) or abort the run (pre-run). */
  veto?: { hook: string; reason: string };
}

export type HookFieldValue = string | number | boolean | readonly string[] | null | undefined;

export interface HookRunOptions {
  /** The hooks directory; hooks live in `<dir>/<phase>.d/`. */
  dir: string;
  phase: HookPhase;
  /** Per hook; the hook's whole process group is killed when it passes this. */
  timeoutMs: number;
  /** Each becomes `PVEPATCH__<FIELD upper-cased>`; null and undefined are left out. */
  fields: Record<string, HookFieldValue>;
  /** Written as JSON to the file named by `PVEPATCH__PLAN_FILE`. */
  plan: unknown;
  current?: { snapshot_keep?: number };
  /** Receives run-log lines, already escaped. */
  log: (line: string) => void;
  /** Aborting kills the running hook; no further hook of the phase runs. */
  signal?: AbortSignal;
}

export function emptyOverrides(): HookOverrides {
  return { exclude: [], notes: [] };
}
