import type { PackageSpec, ReleaseInfo } from './apt-repo.js';

/** The five packages every lab guest gets at 1.0; all of them have a 1.1 in repo state v2. */
export const DEMO_PACKAGE_NAMES = ['demo-lib', 'demo-app', 'demo-conf', 'demo-tool', 'demo-sec'] as const;

/**
 * v1: only 1.0 versions; v2: 1.0 and 1.1 of every package (demo-sec 1.1 from the security repo);
 * v3: v2 plus demo-lib and demo-tool 1.2, a newer release after a plan was approved.
 */
export type RepoState = 'v1' | 'v2' | 'v3';

/**
 * demo-app 1.1 asks for a reboot; it also runs /etc/demo-hook when a test put one there, so a
 * test can make the upgrade slow, chatty, hostile or failing in the middle of dpkg's configure.
 */
const REBOOT_POSTINST = [
  'if [ "$1" = configure ]; then',
  '  touch /var/run/reboot-required',
  '  echo demo-app >> /var/run/reboot-required.pkgs',
  'fi',
  'if [ -x /etc/demo-hook ]; then /etc/demo-hook "$@"; fi',
].join('\n');

/** Every demo package version the lab builds (name_version is unique). */
export const demoPackages: readonly PackageSpec[] = [
  { name: 'demo-lib', version: '1.0' },
  { name: 'demo-lib', version: '1.1' },
  { name: 'demo-app', version: '1.0', depends: 'demo-lib (>= 1.0)' },
  { name: 'demo-app', version: '1.1', depends: 'demo-lib (>= 1.0)', postinst: REBOOT_POSTINST },
  { name: 'demo-conf', version: '1.0', conffiles: { '/etc/demo-conf.conf': '# demo-conf\nsetting=1.0\n' } },
  { name: 'demo-conf', version: '1.1', conffiles: { '/etc/demo-conf.conf': '# demo-conf\nsetting=1.1\n' } },
  { name: 'demo-tool', version: '1.0' },
  { name: 'demo-tool', version: '1.1' },
  { name: 'demo-lib', version: '1.2' },
  { name: 'demo-tool', version: '1.2' },
  { name: 'demo-sec', version: '1.0' },
  { name: 'demo-sec', version: '1.1' },
  // available, never installed at creation: `pvepatch agent ensure` installs it; it ships a unit
  // for the lab's systemctl stand-in (lab-services.ts), the guest side of the simulated agent
  {
    name: 'qemu-guest-agent',
    version: '1.0',
    files: {
      '/usr/local/lib/lab-units/qemu-guest-agent.service': [
        '# pvepatch lab unit (read by the lab systemctl stand-in, not by systemd)',
        '[Unit]',
        'Description=QEMU Guest Agent (lab stand-in)',
        '',
        '[Service]',
        'ExecStart=sleep infinity',
        'X-Lab-Argv=sleep',
        'X-Lab-Argv=infinity',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    },
  },
];

/** In the main repository in every state, installed in no guest. */
const AVAILABLE_ONLY = ['qemu-guest-agent_1.0'];

export const MAIN_RELEASE: ReleaseInfo = {
  origin: 'Demo',
  label: 'Demo',
  suite: 'stable',
  codename: 'demo',
  version: '1.0',
};

/** Looks like Debian's security archive, so apt shows `Debian-Security:12/bookworm-security`. */
export const SECURITY_RELEASE: ReleaseInfo = {
  origin: 'Debian',
  label: 'Debian-Security',
  suite: 'bookworm-security',
  codename: 'bookworm-security',
  version: '12',
};

/** Which package versions (`name_version`) each repository holds in a state. */
export interface DemoRepoLayout {
  main: string[];
  security: string[];
}

export function demoRepoLayout(state: RepoState): DemoRepoLayout {
  const v10 = DEMO_PACKAGE_NAMES.map((n) => `${n}_1.0`);
  if (state === 'v1') return { main: [...v10, ...AVAILABLE_ONLY], security: [] };
  const v11 = DEMO_PACKAGE_NAMES.filter((n) => n !== 'demo-sec').map((n) => `${n}_1.1`);
  const v12 = state === 'v3' ? ['demo-lib_1.2', 'demo-tool_1.2'] : [];
  return { main: [...v10, ...v11, ...v12, ...AVAILABLE_ONLY], security: ['demo-sec_1.1'] };
}
