import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RepoState } from './demo-packages.js';
import { dpkgQueryVersion } from './flavours/debian.js';
import { compareVersions } from './flavours/host-root.js';
import {
  type Flavour,
  type FlavourGuest,
  type FlavourLab,
  flavourOf,
  type GuestFlavour,
  type LockKind,
  type PackageLockHold,
} from './flavours/index.js';
import { destroyLab, trackLab } from './lab-cleanup.js';
import {
  assertMountSafe,
  type GuestLayout,
  type GuestPaths,
  guestPaths,
  mountGuest,
  unmountGuest,
  writeGuestFiles,
} from './lab-guest.js';
import { type DpkgLockHold, holdDpkgLock } from './lab-lock.js';
import {
  chrootRun,
  prepareFlavours,
  provisionGuest,
  startGuest,
  validateGuests,
  writePctWrapper,
} from './lab-setup.js';
import { LabSnapshots, type SnapshotBackend } from './lab-snapshots.js';
import type { GuestStatus, LabExecOptions, LabGuestSpec, LabOptions } from './lab-types.js';
import { LabAgentBackend, LabPowerBackend } from './lab-vm.js';
import { type RunResult, run, runOk } from './run.js';

/** The bash pct shim that the lab's `<dir>/bin/pct` wrapper runs. */
export const PCT_SHIM = fileURLToPath(new URL('./pct', import.meta.url));

export type { GuestFlavour, LockKind, PackageLockHold } from './flavours/index.js';
export type { GuestStatus, LabExecOptions, LabGuestSpec, LabOptions } from './lab-types.js';

/** Guests on overlayfs that behave like Proxmox containers behind a pct shim (see readme.md). */
export class Lab {
  /**
   * `<dir>/bin/pct`: an executable that runs the pct shim for this lab (no env needed). It is what
   * pvepatch gets: like Proxmox's pct, it reaches containers only and refuses VMs (see readme.md "VMs").
   */
  readonly pctPath: string;
  /**
   * `<dir>/bin/lab-pct`: the lab's own entry into the shim, which enters VMs as well as containers.
   * The lab's helpers (exec, execOk, writeGuestFile, versions, locks, start/stop) use it; give it to
   * nothing under test.
   */
  readonly internalPctPath: string;
  /** Real snapshots of guest roots (copies of the overlay upper dir). */
  readonly snapshotBackend: SnapshotBackend;
  /** The QEMU guest agent of the lab's guests (guest-exec through their namespaces; see lab-vm.ts). */
  readonly agentBackend: LabAgentBackend;
  /** Reboots (stop + start of the namespaces) and uptime of the lab's guests, VMs and containers alike. */
  readonly powerBackend: LabPowerBackend;
  private readonly snapshots: LabSnapshots;
  private readonly flavourLabs = new Map<GuestFlavour, FlavourLab>();

  private constructor(
    readonly dir: string,
    readonly guests: readonly LabGuestSpec[],
  ) {
    this.pctPath = path.join(dir, 'bin', 'pct');
    this.internalPctPath = path.join(dir, 'bin', 'lab-pct');
    this.snapshots = new LabSnapshots({
      paths: (vmid) => this.paths(vmid),
      isRunning: (vmid) => this.isRunning(vmid),
      stop: (vmid) => this.setStatus(vmid, 'stopped'),
      start: (vmid) => this.setStatus(vmid, 'running'),
      unmount: (vmid) => unmountGuest(this.paths(vmid)),
      mount: (vmid) => mountGuest(this.paths(vmid), this.layout(vmid)),
    });
    this.snapshotBackend = this.snapshots;
    const vmDeps = {
      paths: (vmid: number) => this.paths(vmid),
      stop: (vmid: number) => this.setStatus(vmid, 'stopped'),
      start: (vmid: number) => this.setStatus(vmid, 'running'),
    };
    this.agentBackend = new LabAgentBackend(vmDeps);
    this.powerBackend = new LabPowerBackend(vmDeps);
  }

  /** Builds the repos and guests (demo packages installed at 1.0 with real apt-get). */
  static async create(opts: LabOptions): Promise<Lab> {
    const dir = path.resolve(opts.dir);
    assertMountSafe(dir);
    validateGuests(opts.guests);
    for (const g of opts.guests) flavourOf(g.flavour);
    const lab = new Lab(dir, opts.guests);
    trackLab(
      dir,
      opts.guests.map((g) => g.vmid),
    );
    try {
      await lab.setup(opts.repo ?? 'v1');
    } catch (err) {
      await lab.destroy().catch(() => {});
      throw err;
    }
    return lab;
  }

  /** The Debian base root (overlay lowerdir of Debian guests); null when the lab has none. */
  get baseRoot(): string | null {
    return this.flavourLabs.get('debian')?.lower ?? null;
  }

  private async setup(repo: RepoState): Promise<void> {
    await writePctWrapper(this.pctPath, PCT_SHIM, this.dir);
    await writePctWrapper(this.internalPctPath, PCT_SHIM, this.dir, { internal: true });
    for (const [name, fl] of await prepareFlavours(this.dir, this.guests)) this.flavourLabs.set(name, fl);
    for (const spec of this.guests) {
      const g = this.paths(spec.vmid);
      const flavour = this.flavourSpec(spec.vmid);
      await mountGuest(g, this.layout(spec.vmid));
      await writeGuestFiles(g, spec.hostname ?? `guest${spec.vmid}`, flavour.ostype, this.kind(spec.vmid));
      await flavour.writeGuestFiles(g.root);
      await mkdir(g.snapshots, { recursive: true });
    }
    await Promise.all(this.guests.map((spec) => this.provision(spec)));
    if (repo !== 'v1') await this.setRepo(repo);
    for (const spec of this.guests) if (spec.status === 'stopped') await this.setStatus(spec.vmid, 'stopped');
  }

  private async provision(spec: LabGuestSpec): Promise<void> {
    await this.start(spec.vmid);
    await provisionGuest(this.flavourSpec(spec.vmid), this.guest(spec.vmid), spec);
  }

  /**
   * Switches the repos of all flavours to a state (in place). Guests see it after their next refresh
   * (apt-get update, dnf --refresh, zypper's autorefresh, pacman -Sy); `update` runs it in running guests.
   */
  async setRepo(state: RepoState, opts: { update?: boolean } = {}): Promise<void> {
    for (const fl of this.flavourLabs.values()) await fl.applyRepo(state);
    if (!opts.update) return;
    for (const spec of this.guests) {
      if (await this.isRunning(spec.vmid)) await this.flavourSpec(spec.vmid).refresh(this.guest(spec.vmid));
    }
  }

  /**
   * Models real `pct exec`'s start-up cost (Proxmox's Perl CLI) for benchmarks: every later
   * `pct exec` waits this many seconds before entering the guest; 0 removes the delay.
   */
  async setPctExecDelay(seconds: number): Promise<void> {
    const file = path.join(this.dir, 'pct-exec-delay');
    if (seconds > 0) await writeFile(file, `${seconds.toFixed(3)}\n`);
    else await rm(file, { force: true });
  }

  /**
   * Runs argv inside a running guest, container or VM, through the lab's own entry into the pct shim
   * (`lab-pct exec <vmid> --keep-env 0 -- argv`; Proxmox's pct would refuse a VM, the lab does not).
   */
  exec(vmid: number, argv: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
    const pct = [this.internalPctPath, 'exec', String(vmid), '--keep-env', opts.keepEnv ? '1' : '0', '--', ...argv];
    return run(pct, { input: opts.input, timeoutMs: opts.timeoutMs });
  }

  async execOk(vmid: number, argv: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
    const res = await this.exec(vmid, argv, opts);
    if (res.exitCode !== 0) {
      throw new Error(`guest ${vmid}: '${argv.join(' ')}' exited ${res.exitCode}\n${res.stderr || res.stdout}`);
    }
    return res;
  }

  /** Writes a file inside a running guest (through the lab's pct exec: tee, then chmod). */
  async writeGuestFile(vmid: number, guestPath: string, content: string, mode = 0o644): Promise<void> {
    await this.execOk(vmid, ['tee', '--', guestPath], { input: content });
    await this.execOk(vmid, ['chmod', mode.toString(8), '--', guestPath]);
  }

  /** dpkg's installed version of pkg, or null (Debian guests). Works on stopped guests too (through chroot). */
  dpkgVersion(vmid: number, pkg: string): Promise<string | null> {
    return dpkgQueryVersion(this.guest(vmid), pkg);
  }

  /**
   * Installed version of pkg in the family's format, or null: Debian `1.0` (dpkg), fedora/opensuse
   * `1.0-1` (`rpm -q --qf %{VERSION}-%{RELEASE}`), arch `1.0-1` (pacman -Q). When an install-only
   * kernel is there several times, the newest. Works on stopped guests too (through chroot).
   */
  async packageVersion(vmid: number, pkg: string): Promise<string | null> {
    return (await this.packageVersions(vmid, pkg)).at(-1) ?? null;
  }

  /** Every installed version of pkg, oldest first (fedora's kernel-core and opensuse's kernel-default stay side by side). */
  async packageVersions(vmid: number, pkg: string): Promise<string[]> {
    const versions = await this.flavourSpec(vmid).packageVersions(this.guest(vmid), pkg);
    return [...versions].sort(compareVersions);
  }

  /** 'vm' for guests declared with `kind: 'vm'`, else 'ct'. */
  kind(vmid: number): 'ct' | 'vm' {
    return this.spec(vmid).kind ?? 'ct';
  }

  /** The guest's flavour ('debian' unless its spec says otherwise). */
  flavour(vmid: number): GuestFlavour {
    return this.spec(vmid).flavour ?? 'debian';
  }

  /** The guest's /var/log/dpkg.log ('' when there is none). */
  async dpkgLog(vmid: number): Promise<string> {
    return readFile(path.join(this.paths(vmid).root, 'var/log/dpkg.log'), 'utf8').catch(() => '');
  }

  /** Whether path exists as the guest sees it (symlinks such as /var/run resolve inside the guest). */
  async fileExists(vmid: number, guestPath: string): Promise<boolean> {
    return (await this.guest(vmid).inspect(['test', '-e', guestPath])).exitCode === 0;
  }

  async status(vmid: number): Promise<GuestStatus> {
    const res = await runOk([this.internalPctPath, 'status', String(vmid)]);
    return res.stdout.trim() === 'status: running' ? 'running' : 'stopped';
  }

  async setStatus(vmid: number, status: GuestStatus): Promise<void> {
    if ((await this.status(vmid)) === status) return;
    if (status === 'running') await this.start(vmid);
    else await runOk([this.internalPctPath, 'stop', String(vmid)]);
  }

  /** Holds dpkg's lock-frontend and lock (fcntl) from a perl process inside the guest. */
  holdDpkgLock(vmid: number, seconds: number): Promise<DpkgLockHold> {
    return holdDpkgLock(this.internalPctPath, vmid, seconds);
  }

  /** Holds the family's lock (see LockKind) from a perl process in the guest, until release() or `seconds`. */
  holdPackageLock(vmid: number, seconds: number, kind: LockKind = 'frontend'): Promise<PackageLockHold> {
    return this.flavourSpec(vmid).holdLock(this.guest(vmid), seconds, kind);
  }

  /** Snapshot name → Date.now() when its create finished. */
  snapshotTimes(vmid: number): Record<string, number> {
    return this.snapshots.snapshotTimes(vmid);
  }

  /** Stops the guests, unmounts everything under dir and removes it. Safe to call twice. */
  destroy(): Promise<void> {
    return destroyLab(
      this.dir,
      this.internalPctPath,
      this.guests.map((g) => g.vmid),
    );
  }

  paths(vmid: number): GuestPaths {
    return guestPaths(this.dir, vmid, this.kind(vmid));
  }

  private spec(vmid: number): LabGuestSpec {
    const spec = this.guests.find((g) => g.vmid === vmid);
    if (!spec) throw new Error(`unknown lab guest ${vmid}`);
    return spec;
  }

  private async isRunning(vmid: number): Promise<boolean> {
    return (await this.status(vmid)) === 'running';
  }

  private flavourSpec(vmid: number): Flavour {
    return flavourOf(this.flavour(vmid));
  }

  private layout(vmid: number): GuestLayout {
    const fl = this.flavourLabs.get(this.flavour(vmid));
    if (!fl) throw new Error(`guest ${vmid}: flavour '${this.flavour(vmid)}' was not prepared`);
    return { lower: fl.lower, hostUsr: fl.hostUsr, binds: fl.repoMounts };
  }

  /** The view of one guest that flavours work with. */
  private guest(vmid: number): FlavourGuest {
    const root = this.paths(vmid).root;
    return {
      vmid,
      pctPath: this.internalPctPath,
      root,
      exec: (argv, opts) => this.exec(vmid, argv, opts),
      execOk: (argv, opts) => this.execOk(vmid, argv, opts),
      inspect: async (argv) => ((await this.isRunning(vmid)) ? this.exec(vmid, argv) : chrootRun(root, argv)),
    };
  }

  private start(vmid: number): Promise<void> {
    const initLog = path.join(this.paths(vmid).dir, 'init.log');
    return startGuest(this.internalPctPath, vmid, () => this.isRunning(vmid), initLog);
  }
}
