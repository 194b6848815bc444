import type { RepoState } from '../demo-packages.js';

/** One package version of a non-Debian family, described once for rpm and pacman builds. */
export interface FamilyPackage {
  name: string;
  /** Upstream version, e.g. '1.0'; the package version is `<version>-<release>`. */
  version: string;
  release: string;
  /** 'noarch' (rpm) / 'any' (pacman) when false; the machine's arch (x86_64) when true. */
  archSpecific?: boolean;
  summary: string;
  /** Versioned requirements: name → minimal version. */
  requires?: Record<string, string>;
  /** Extra capabilities, e.g. `installonlypkg(kernel)` or `system-release(releasever) = 40`. */
  provides?: string[];
  /** Plain files: absolute path → content. */
  files: Record<string, string>;
  /** Config files the tool keeps when the admin edited them (%config(noreplace), backup=()). */
  configs?: Record<string, string>;
  /** Symlinks: absolute path → target. */
  symlinks?: Record<string, string>;
  /** /bin/sh body run after install and after upgrade (pacman's .INSTALL). */
  postScript?: string;
  /**
   * The same as an rpm Lua scriptlet (%post -p <lua>): a /bin/sh scriptlet makes rpm add
   * `Requires(post): /bin/sh`, which nothing in a host-userland rpmdb provides.
   */
  postLua?: string;
}

/** The names every non-Debian guest gets at provisioning, besides the flavour's kernel. */
export const FAMILY_DEMO_NAMES = ['demo-lib', 'demo-app', 'demo-conf', 'demo-tool', 'demo-sec'] as const;

export const KERNEL_VERSIONS = { v1: '6.1.0', v2: '6.2.0' } as const;

const REBOOT_SCRIPT = ['touch /run/reboot-required', 'echo demo-app >> /run/reboot-required.pkgs'].join('\n');
const REBOOT_LUA = [
  'local f = io.open("/run/reboot-required", "a"); if f then f:close() end',
  'local g = io.open("/run/reboot-required.pkgs", "a"); if g then g:write("demo-app\\n"); g:close() end',
].join('\n');

function demo(name: string, version: string, extra: Partial<FamilyPackage> = {}): FamilyPackage {
  return {
    name,
    version,
    release: '1',
    summary: `dummy ${name} ${version} for pvepatch guest tests`,
    files: { [`/usr/share/${name}/VERSION`]: `${version}\n` },
    ...extra,
  };
}

/**
 * The logical demo set of the Debian lab for one family: demo-lib, demo-app (1.1 writes
 * /run/reboot-required), demo-conf (a kept config file), demo-tool, demo-sec at 1.0 and 1.1,
 * plus a kernel package named as the family names it, at 6.1.0 and 6.2.0.
 */
export function familyDemoPackages(kernel: { name: string; provides?: string[]; kver: (v: string) => string }) {
  const conf = (v: string) => ({ '/etc/demo-conf.conf': `# demo-conf\nsetting=${v}\n` });
  const pkgs: FamilyPackage[] = [];
  for (const v of ['1.0', '1.1']) {
    pkgs.push(demo('demo-lib', v));
    pkgs.push(
      demo('demo-app', v, {
        requires: { 'demo-lib': '1.0' },
        ...(v === '1.1' ? { postScript: REBOOT_SCRIPT, postLua: REBOOT_LUA } : {}),
      }),
    );
    pkgs.push(demo('demo-conf', v, { configs: conf(v) }));
    pkgs.push(demo('demo-tool', v));
    pkgs.push(demo('demo-sec', v));
  }
  // repo state v3: a newer release after a plan was approved
  pkgs.push(demo('demo-lib', '1.2'), demo('demo-tool', '1.2'));
  for (const v of Object.values(KERNEL_VERSIONS)) {
    const dir = `/usr/lib/modules/${kernel.kver(v)}`;
    pkgs.push({
      name: kernel.name,
      version: v,
      release: '1',
      archSpecific: true,
      summary: `dummy ${kernel.name} ${v} (a kernel as far as package managers care)`,
      provides: kernel.provides ?? [],
      files: { [`${dir}/vmlinuz`]: `not a kernel ${v}\n`, [`${dir}/VERSION`]: `${v}\n` },
    });
  }
  return pkgs;
}

/** Which package versions (`name-version`) a repo state offers; the release package is always there. */
export function familyRepoLayout(pkgs: readonly FamilyPackage[], state: RepoState): FamilyPackage[] {
  const newest = new Set(['1.1', KERNEL_VERSIONS.v2]);
  return pkgs.filter((p) => (p.version === '1.2' ? state === 'v3' : state !== 'v1' || !newest.has(p.version)));
}

/** `name-version-release` of a package, e.g. demo-app-1.1-1. */
export function nvr(p: FamilyPackage): string {
  return `${p.name}-${p.version}-${p.release}`;
}
