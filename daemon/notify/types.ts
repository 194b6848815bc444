/**
 * What a notification carries. The data of each event is flat and already formatted (strings,
 * numbers, arrays of flat objects — no booleans, no nulls), because the same data is rendered by
 * handlebars.js here and by handlebars-rust inside Proxmox (PVE::Notify, the PBS spool), and Perl's
 * JSON::PP would hand booleans to Proxmox as blessed objects. An absent value is '' or 0, never
 * missing: the templates are compiled in strict mode, where a missing field is an error.
 */

export const NOTIFY_EVENTS = [
  'run-ok',
  'run-error',
  'run-refused',
  'rollout-halted',
  'reboot-failed',
  'updates-available',
  'test',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Proxmox's severities (proxmox-notify `Severity`), lowest first. */
export const SEVERITIES = ['info', 'notice', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One package change, versions as the guest's package manager spells them. */
export interface PackageChange {
  name: string;
  from: string;
  to: string;
}

export interface RunGuest {
  vmid: number;
  name: string;
  /** 'lxc' or 'qemu'. */
  type: string;
  /** e.g. 'updated', 'up-to-date', 'failed', 'refused', 'skipped', 'rolled-back'. */
  outcome: string;
  /** Why it failed or was refused; '' when there is nothing to say. */
  reason: string;
  /** All changed packages, also those left out of `packages`. */
  packages_count: number;
  /** At most MAX_PACKAGES_PER_GUEST (see data.ts). */
  packages: PackageChange[];
  /** How many changes `packages` leaves out. */
  packages_more: number;
  /** The snapshot taken before patching; '' when none. */
  snapshot: string;
  /** e.g. 'not needed', 'rebooted, back after 42 s', 'pending (window 02:00-04:00)'. */
  reboot: string;
  duration: string;
  log_path: string;
}

export interface RunCounts {
  total: number;
  updated: number;
  unchanged: number;
  failed: number;
  refused: number;
  skipped: number;
}

/** run-ok, run-error and run-refused. */
export interface RunData {
  hostname: string;
  run_id: string;
  /** The node whose guests the run patched. */
  node: string;
  selector: string;
  /** The run's final state as the engine names it. */
  state: string;
  started_at: string;
  ended_at: string;
  duration: string;
  user: string;
  /** e.g. 'manual', 'schedule nightly', 'rollout r-12 group 2'. */
  trigger: string;
  /** The run's own error (not a guest's); '' when none. */
  error: string;
  counts: RunCounts;
  /** At most MAX_GUESTS (see data.ts). */
  guests: RunGuest[];
  guests_more: number;
  log_path: string;
  /** A link to the run in the web UI; '' when none. */
  log_link: string;
}

export interface RolloutFailure {
  vmid: number;
  name: string;
  outcome: string;
  reason: string;
}

export interface RolloutHaltedData {
  hostname: string;
  rollout_id: string;
  selector: string;
  /** Why the rollout stopped, e.g. 'group 2: 2 of 5 guests failed (limit 1)'. */
  reason: string;
  halted_at: string;
  user: string;
  /** Guests patched before the halt, of `total`. */
  done: number;
  total: number;
  /** Guests the rollout never reached. */
  untouched: number;
  failures_count: number;
  failures: RolloutFailure[];
  failures_more: number;
  log_link: string;
}

export interface RebootFailedData {
  hostname: string;
  vmid: number;
  name: string;
  type: string;
  run_id: string;
  /** The guest's status as last seen, e.g. 'stopped', 'running, agent silent'. */
  status: string;
  reason: string;
  at: string;
  /** The snapshot to roll back to; '' when none. */
  snapshot: string;
  log_path: string;
  log_link: string;
}

export interface GuestUpdates {
  vmid: number;
  name: string;
  updates: number;
  security: number;
}

export interface CheckFailure {
  vmid: number;
  name: string;
  reason: string;
}

/** updates-available: a schedule in report mode found pending updates. */
export interface UpdatesAvailableData {
  hostname: string;
  schedule_id: string;
  checked_at: string;
  /** Guests checked. */
  guests: number;
  with_updates: number;
  updates: number;
  security_updates: number;
  guest_list: GuestUpdates[];
  guest_list_more: number;
  failures_count: number;
  failures: CheckFailure[];
  log_link: string;
}

export interface TestData {
  hostname: string;
  /** The channel being tested. */
  channel: string;
  at: string;
}

/** The data type of each event. */
export interface EventDataMap {
  'run-ok': RunData;
  'run-error': RunData;
  'run-refused': RunData;
  'rollout-halted': RolloutHaltedData;
  'reboot-failed': RebootFailedData;
  'updates-available': UpdatesAvailableData;
  test: TestData;
}

/** One notification; `E` ties the data to its event. */
export type Notification<E extends NotifyEvent = NotifyEvent> = {
  [K in E]: {
    event: K;
    severity: Severity;
    data: EventDataMap[K];
    /** Matcher fields for Proxmox (`type`, `hostname`, `job-id`, …); the Notifier adds type and hostname. */
    fields: Record<string, string>;
  };
}[E];

/** The name under which Proxmox finds an event's templates (`<name>-subject.txt.hbs`, …). */
export type TemplateName = `pvepatch-${NotifyEvent}`;

export function templateName(event: NotifyEvent): TemplateName {
  return `pvepatch-${event}`;
}
