/**
 * One guest's policy: built-in defaults < pvepatch.conf's defaults < the `defaults` section < each matching `tag:` section in
 * file order (a later one wins a scalar) < its `guest:` section. Checks are concatenated in the
 * same order, the first of identical checks kept. Every value records where it came from.
 */
import { basename } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { formatCheck } from './checks.js';
import { keyName } from './keys.js';
import type {
  GuestFacts,
  GuestPolicy,
  Origin,
  PolicyFile,
  PolicySection,
  PolicySettings,
  ScalarField,
} from './types.js';

type Resolved = Required<Omit<PolicySettings, 'fallbackStorage' | 'address' | 'sshKey' | 'sshFingerprint'>> &
  Pick<PolicySettings, 'fallbackStorage' | 'address' | 'sshKey' | 'sshFingerprint'>;

/** What a guest gets when no section says otherwise; the transport follows the guest type. */
export function builtInDefaults(type: GuestFacts['type']): Resolved {
  return {
    transport: type === 'lxc' ? 'pct' : 'qga',
    reboot: 'never', // nothing reboots by surprise
    onFailure: 'keep',
    fallback: 'skip',
    backupMaxAge: 24,
    rebootTimeout: 600,
    checkTimeout: 30,
    sshUser: 'root',
    sshPort: 22,
    role: 'none',
    pbsMinFreeGb: 3,
  };
}

const SCALAR_FIELDS: readonly ScalarField[] = [
  'transport',
  'reboot',
  'onFailure',
  'fallback',
  'fallbackStorage',
  'backupMaxAge',
  'rebootTimeout',
  'checkTimeout',
  'address',
  'sshUser',
  'sshPort',
  'sshKey',
  'sshFingerprint',
  'role',
  'pbsMinFreeGb',
];

/** The sections that apply to a guest, lowest precedence first. */
export function matchingSections(file: PolicyFile, guest: GuestFacts): PolicySection[] {
  const tags = new Set(guest.tags.map((t) => t.trim().toLowerCase()));
  const of = (type: PolicySection['type']) => file.sections.filter((s) => s.type === type);
  return [
    ...of('defaults'),
    ...of('tag').filter((s) => tags.has(s.id)),
    ...of('guest').filter((s) => s.id === String(guest.vmid)),
  ];
}

function originOf(section: PolicySection, line: number): Origin {
  if (section.type === 'tag') return { from: 'tag', tag: section.id, line };
  return { from: section.type, line };
}

/** Defaults pvepatch.conf sets for every guest (its `reboot` key); the policy file overrides them. */
export type ConfigDefaults = Partial<Pick<GuestPolicy, 'reboot'>>;

/** The guest's fully defaulted policy; throws config-invalid when it cannot apply to this guest. */
export function resolvePolicy(file: PolicyFile, guest: GuestFacts, configDefaults: ConfigDefaults = {}): GuestPolicy {
  const values: Record<string, unknown> = { ...builtInDefaults(guest.type) };
  const origins: Record<string, Origin> = {};
  for (const f of SCALAR_FIELDS) origins[f] = { from: 'built-in' };
  if (configDefaults.reboot !== undefined) {
    values.reboot = configDefaults.reboot;
    origins.reboot = { from: 'config', key: 'reboot' };
  }
  const checks: GuestPolicy['checks'] = [];
  const checkOrigins: Origin[] = [];
  const seen = new Set<string>();
  for (const section of matchingSections(file, guest)) {
    for (const f of SCALAR_FIELDS) {
      const line = section.lines[f];
      if (line === undefined) continue;
      values[f] = section.settings[f];
      origins[f] = originOf(section, line);
    }
    for (const { check, line } of section.checks) {
      const key = formatCheck(check);
      if (seen.has(key)) continue;
      seen.add(key);
      checks.push(check);
      checkOrigins.push(originOf(section, line));
    }
  }
  const policy = {
    vmid: guest.vmid,
    type: guest.type,
    file: file.name,
    ...(values as Resolved),
    fallbackStorage: values.fallbackStorage as string | undefined,
    address: values.address as string | undefined,
    sshKey: values.sshKey as string | undefined,
    sshFingerprint: values.sshFingerprint as string | undefined,
    checks,
    origins: { ...(origins as Record<ScalarField, Origin>), checks: checkOrigins },
  };
  assertApplies(policy);
  return policy;
}

/** The scalars a run may override (`--reboot always`), each recorded as coming from `label`. */
export type RunOverrides = Partial<Pick<GuestPolicy, 'transport' | 'reboot' | 'onFailure' | 'fallback'>>;

export function withOverrides(policy: GuestPolicy, overrides: RunOverrides, label: string): GuestPolicy {
  const next: GuestPolicy = { ...policy, origins: { ...policy.origins } };
  for (const [field, value] of Object.entries(overrides) as [keyof RunOverrides, string | undefined][]) {
    if (value === undefined) continue;
    (next as unknown as Record<string, unknown>)[field] = value;
    next.origins[field] = { from: 'run', label };
  }
  assertApplies(next);
  return next;
}

function assertApplies(p: GuestPolicy): void {
  const forVm = p.transport === 'qga' || p.transport === 'ssh';
  if (p.type === 'lxc' && forVm) {
    throw new PvepatchError(
      'config-invalid',
      `unable to apply policy to CT ${p.vmid} - transport '${p.transport}' (${describeOrigin(p.origins.transport, p.file)}) reaches VMs only; a container is entered with pct`,
    );
  }
  if (p.type === 'qemu' && p.transport === 'pct') {
    throw new PvepatchError(
      'config-invalid',
      `unable to apply policy to VM ${p.vmid} - transport 'pct' (${describeOrigin(p.origins.transport, p.file)}) enters containers only; use qga or ssh`,
    );
  }
}

/** `tag web, guests.conf:7`, `built-in default`, … */
export function describeOrigin(o: Origin, file: string): string {
  const at = (line: number) => `${basename(file)}:${line}`;
  switch (o.from) {
    case 'built-in':
      return 'built-in default';
    case 'config':
      return `config ${o.key}`;
    case 'defaults':
      return `defaults, ${at(o.line)}`;
    case 'tag':
      return `tag ${o.tag}, ${at(o.line)}`;
    case 'guest':
      return `guest section, ${at(o.line)}`;
    case 'run':
      return o.label;
  }
}

/** One line per setting and check, as a plan shows it: `reboot: always (tag web, guests.conf:7)`. */
export function explainPolicy(p: GuestPolicy): string[] {
  const lines: string[] = [];
  for (const f of SCALAR_FIELDS) {
    const value = p[f];
    if (value === undefined) continue;
    lines.push(`${keyName(f)}: ${String(value)} (${describeOrigin(p.origins[f], p.file)})`);
  }
  for (const [i, check] of p.checks.entries()) {
    lines.push(`check: ${formatCheck(check)} (${describeOrigin(p.origins.checks[i]!, p.file)})`);
  }
  return lines;
}
