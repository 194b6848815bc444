/**
 * Per-guest policy: what an admin wrote in the policy file (`PolicyFile`, one `PolicySection` per
 * `<type>: <id>` block) and what one guest gets once the sections are merged (`GuestPolicy`).
 */

export type TransportName = 'pct' | 'qga' | 'ssh';
export type RebootMode = 'never' | 'if-required' | 'always';
export type OnFailure = 'keep' | 'rollback';
export type Fallback = 'skip' | 'vzdump' | 'backup';
export type Role = 'none' | 'pbs';
export type SectionType = 'defaults' | 'tag' | 'guest';
export type GuestType = 'lxc' | 'qemu';

/** HTTP statuses a check accepts, both ends included. */
export interface StatusRange {
  min: number;
  max: number;
}

/** One verification check (`check <kind> …` in the file). */
export type Check =
  | { kind: 'service'; unit: string }
  | { kind: 'tcp'; port: number }
  | { kind: 'http'; port: number; path: string; status: StatusRange }
  | { kind: 'command'; argv: string[] };

/** The scalar settings; a section holds the ones it names, a resolved policy all of them. */
export interface PolicySettings {
  transport?: TransportName;
  reboot?: RebootMode;
  onFailure?: OnFailure;
  fallback?: Fallback;
  fallbackStorage?: string;
  /** Hours: how old the newest PBS backup may be for `fallback backup`. */
  backupMaxAge?: number;
  /** Seconds. */
  rebootTimeout?: number;
  /** Seconds, per check. */
  checkTimeout?: number;
  address?: string;
  sshUser?: string;
  sshPort?: number;
  sshKey?: string;
  sshFingerprint?: string;
  role?: Role;
  pbsMinFreeGb?: number;
}

export type ScalarField = keyof PolicySettings;

export interface PolicySection {
  type: SectionType;
  /** `all` for defaults, the tag in lower case, or the vmid as digits. */
  id: string;
  /** 1-based line of the header. */
  line: number;
  settings: PolicySettings;
  /** The line each scalar was set on. */
  lines: Partial<Record<ScalarField, number>>;
  checks: { check: Check; line: number }[];
}

export interface PolicyFile {
  /** The path (or name) used in messages. */
  name: string;
  sections: PolicySection[];
}

/** Where a resolved value came from, so a plan can say why. */
export type Origin =
  | { from: 'built-in' }
  /** pvepatch.conf's own default (e.g. its `reboot` key), between built-in and the policy file. */
  | { from: 'config'; key: string }
  | { from: 'defaults'; line: number }
  | { from: 'tag'; tag: string; line: number }
  | { from: 'guest'; line: number }
  | { from: 'run'; label: string };

/** The guest facts resolution needs (tags as Proxmox lists them, split on ';'). */
export interface GuestFacts {
  vmid: number;
  type: GuestType;
  tags: readonly string[];
}

/** Every setting for one guest, defaulted, with the origin of each value and check. */
export interface GuestPolicy {
  vmid: number;
  type: GuestType;
  /** The policy file's name, for explanations. */
  file: string;
  transport: TransportName;
  reboot: RebootMode;
  onFailure: OnFailure;
  fallback: Fallback;
  fallbackStorage: string | undefined;
  backupMaxAge: number;
  rebootTimeout: number;
  checkTimeout: number;
  address: string | undefined;
  sshUser: string;
  sshPort: number;
  sshKey: string | undefined;
  sshFingerprint: string | undefined;
  role: Role;
  pbsMinFreeGb: number;
  checks: Check[];
  origins: Record<ScalarField, Origin> & { checks: Origin[] };
}
