import type { GuestPolicy } from '../policy/types.js';

/** Kernel packages of the six families: in a container they never need a reboot (it runs the host's kernel). */
const KERNEL_NAMES = new Set([
  'kernel',
  'kernel-core',
  'kernel-default',
  'linux',
  'linux-lts',
  'linux-zen',
  'linux-hardened',
  'linux-virt',
  'linux-edge',
]);
const KERNEL_PREFIXES = ['linux-image-', 'kernel-default-', 'kernel-core-', 'proxmox-kernel-', 'pve-kernel-'];

export function isKernelPackage(name: string): boolean {
  return KERNEL_NAMES.has(name) || KERNEL_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The guest's reboot need as a container sees it: kernel packages are dropped (the host's kernel
 * runs); a reboot flag that named only kernels no longer counts.
 */
export function containerRebootNeed(required: boolean, packages: readonly string[]) {
  const kept = packages.filter((p) => !isKernelPackage(p));
  const dropped = packages.filter((p) => isKernelPackage(p));
  const onlyKernels = packages.length > 0 && kept.length === 0;
  return { required: required && !onlyKernels, packages: kept, dropped };
}

/** Whether to reboot now, and the reason either way. */
export function rebootDecision(
  policy: Pick<GuestPolicy, 'reboot'>,
  required: boolean,
  packages: readonly string[],
): { reboot: boolean; reason: string } {
  const why = packages.length > 0 ? ` (${packages.join(', ')})` : '';
  if (policy.reboot === 'always')
    return { reboot: true, reason: `reboot policy always${required ? `; required${why}` : ''}` };
  if (policy.reboot === 'if-required')
    return required
      ? { reboot: true, reason: `reboot required${why}` }
      : { reboot: false, reason: 'no reboot required' };
  return {
    reboot: false,
    reason: required ? `reboot required${why} but reboot policy is never` : 'reboot policy never',
  };
}

/**
 * `HH:MM-HH:MM` in the node's local time (a window may wrap midnight); empty means any time.
 * Returns null when `at` is inside, else the window text for the message.
 */
export function outsideWindow(window: string, at: Date): string | null {
  if (!window) return null;
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(window);
  if (!m) return null; // the config schema refuses other shapes
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  const now = at.getHours() * 60 + at.getMinutes();
  const inside = start <= end ? now >= start && now < end : now >= start || now < end;
  return inside ? null : window;
}
