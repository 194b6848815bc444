import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBaseRoot } from './base-root.js';
import { DEMO_PACKAGE_NAMES, type RepoState } from './demo-packages.js';
import { cleanupLabSync } from './lab-cleanup.js';
import {
  assertMountSafe,
  type GuestPaths,
  guestPaths,
  mountGuest,
  mountsBelow,
  type RepoMounts,
  unmountBelow,
  unmountGuest,
  writeGuestFiles,
} from './lab-guest.js';
import { type DpkgLockHold, holdDpkgLock } from './lab-lock.js';
import { applyRepoState, buildDemoDebs } from './lab-repos.js';
import { startGuest, validateGuests, writePctWrapper } from './lab-setup.js';
import { LabSnapshots, type SnapshotBackend } from './lab-snapshots.js';
import { type RunResult, run, runOk } from './run.js';

/** The bash pct shim that the lab's `<dir>/bin/pct` wrapper runs. */
export const PCT_SHIM = fileURLToPath(new URL('./pct', import.meta.url));
const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type GuestStatus = 'running' | 'stopped';

export interface LabGuestSpec {
  vmid: number;
  hostname?: string;
  status?: GuestStatus;
  /** Installed at 1.0 at create time; default: all five demo packages. */
  packages?: string[];
  /** The admin edited /etc/demo-conf.conf, so an upgrade leaves /etc/demo-conf.conf.dpkg-dist. */
  modifyConffile?: boolean;
}

export interface LabOptions {
  dir: string;
  guests: LabGuestSpec[];
  /** Repo state after the guests are provisioned (they always install from v1); default v1. */
  repo?: RepoState;
}

export interface LabExecOptions {
  input?: string;
  /** Passed as pct's --keep-env; default false (a clean environment). */
  keepEnv?: boolean;
  timeoutMs?: number;
}

const liveLabs = new Set<Lab>();
let exitHookInstalled = false;

/** Debian guests on overlayfs that behave like Proxmox containers behind a pct shim. */
export class Lab {
  /** `<dir>/bin/pct`: an executable that runs the pct shim for this lab (no env needed). */
  readonly pctPath: string;
  /** Real snapshots of guest roots (copies of the overlay upper dir). */
  readonly snapshotBackend: SnapshotBackend;
  private readonly snapshots: LabSnapshots;
  private readonly repos: RepoMounts;
  private debs = new Map<string, string>();

  private constructor(
    readonly dir: string,
    readonly baseRoot: string,
    readonly guests: readonly LabGuestSpec[],
  ) {
    this.pctPath = path.join(dir, 'bin', 'pct');
    this.repos = { main: path.join(dir, 'repos', 'main'), security: path.join(dir, 'repos', 'security') };
    this.snapshots = new LabSnapshots({
      paths: (vmid) => this.paths(vmid),
      isRunning: (vmid) => this.isRunning(vmid),
      stop: (vmid) => this.setStatus(vmid, 'stopped'),
      start: (vmid) => this.setStatus(vmid, 'running'),
      unmount: (vmid) => unmountGuest(this.paths(vmid)),
      mount: (vmid) => mountGuest(this.paths(vmid), this.baseRoot, this.repos),
    });
    this.snapshotBackend = this.snapshots;
  }

  /** Builds the repos and guests (demo packages installed at 1.0 with real apt-get). */
  static async create(opts: LabOptions): Promise<Lab> {
    const dir = path.resolve(opts.dir);
    assertMountSafe(dir);
    validateGuests(opts.guests);
    const lab = new Lab(dir, await ensureBaseRoot(), opts.guests);
    liveLabs.add(lab);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const l of liveLabs)
          cleanupLabSync(
            l.dir,
            l.guests.map((g) => g.vmid),
          );
      });
    }
    try {
      await lab.setup(opts.repo ?? 'v1');
    } catch (err) {
      await lab.destroy().catch(() => {});
      throw err;
    }
    return lab;
  }

  private async setup(repo: RepoState): Promise<void> {
    await writePctWrapper(this.pctPath, PCT_SHIM, this.dir);
    this.debs = await buildDemoDebs(path.join(this.dir, 'debs'));
    await applyRepoState(this.repos, this.debs, 'v1');
    for (const spec of this.guests) {
      const g = this.paths(spec.vmid);
      await mountGuest(g, this.baseRoot, this.repos);
      await writeGuestFiles(g, spec.vmid, spec.hostname ?? `guest${spec.vmid}`);
      await mkdir(g.snapshots, { recursive: true });
    }
    await Promise.all(this.guests.map((spec) => this.provision(spec)));
    if (repo !== 'v1') await this.setRepo(repo);
    for (const spec of this.guests) if (spec.status === 'stopped') await this.setStatus(spec.vmid, 'stopped');
  }

  private async provision(spec: LabGuestSpec): Promise<void> {
    const packages = spec.packages ?? [...DEMO_PACKAGE_NAMES];
    await this.start(spec.vmid);
    await this.execOk(spec.vmid, ['apt-get', 'update', '-q']);
    const install = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q'];
    if (packages.length > 0) await this.execOk(spec.vmid, [...install, ...packages.map((p) => `${p}=1.0`)]);
    if (spec.modifyConffile) {
      if (!packages.includes('demo-conf')) throw new Error(`guest ${spec.vmid}: modifyConffile needs demo-conf`);
      const conf = path.join(this.paths(spec.vmid).root, 'etc/demo-conf.conf');
      await appendFile(conf, '# edited by the admin\nsetting=custom\n');
    }
  }

  /** Switches both repos of all guests to a state. Guests see it after their next apt-get update. */
  async setRepo(state: RepoState, opts: { update?: boolean } = {}): Promise<void> {
    await applyRepoState(this.repos, this.debs, state);
    if (!opts.update) return;
    for (const spec of this.guests) {
      if (await this.isRunning(spec.vmid)) await this.execOk(spec.vmid, ['apt-get', 'update', '-q']);
    }
  }

  /** Runs argv inside a running guest through the pct shim (`pct exec <vmid> --keep-env 0 -- argv`). */
  exec(vmid: number, argv: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
    const pct = [this.pctPath, 'exec', String(vmid), '--keep-env', opts.keepEnv ? '1' : '0', '--', ...argv];
    return run(pct, { input: opts.input, timeoutMs: opts.timeoutMs });
  }

  async execOk(vmid: number, argv: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
    const res = await this.exec(vmid, argv, opts);
    if (res.exitCode !== 0) {
      throw new Error(`guest ${vmid}: '${argv.join(' ')}' exited ${res.exitCode}\n${res.stderr || res.stdout}`);
    }
    return res;
  }

  /** Installed version of pkg, or null. Works on stopped guests too (then through chroot). */
  async dpkgVersion(vmid: number, pkg: string): Promise<string | null> {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a JS template
    const format = '-f=${db:Status-Status} ${Version}';
    const res = await this.inspect(vmid, ['dpkg-query', '-W', format, pkg]);
    if (res.exitCode !== 0) return null;
    const [status, version] = res.stdout.trim().split(' ');
    if (!version || status === 'not-installed' || status === 'config-files') return null;
    return version;
  }

  /** The guest's /var/log/dpkg.log ('' when there is none). */
  async dpkgLog(vmid: number): Promise<string> {
    return readFile(path.join(this.paths(vmid).root, 'var/log/dpkg.log'), 'utf8').catch(() => '');
  }

  /** Whether path exists as the guest sees it (symlinks such as /var/run resolve inside the guest). */
  async fileExists(vmid: number, guestPath: string): Promise<boolean> {
    return (await this.inspect(vmid, ['test', '-e', guestPath])).exitCode === 0;
  }

  async status(vmid: number): Promise<GuestStatus> {
    const res = await runOk([this.pctPath, 'status', String(vmid)]);
    return res.stdout.trim() === 'status: running' ? 'running' : 'stopped';
  }

  async setStatus(vmid: number, status: GuestStatus): Promise<void> {
    if ((await this.status(vmid)) === status) return;
    if (status === 'running') await this.start(vmid);
    else await runOk([this.pctPath, 'stop', String(vmid)]);
  }

  /** Holds dpkg's lock-frontend and lock (fcntl) from a perl process inside the guest. */
  holdDpkgLock(vmid: number, seconds: number): Promise<DpkgLockHold> {
    return holdDpkgLock(this.pctPath, vmid, seconds);
  }

  /** Snapshot name → Date.now() when its create finished. */
  snapshotTimes(vmid: number): Record<string, number> {
    return this.snapshots.snapshotTimes(vmid);
  }

  /** Stops the guests, unmounts everything under dir and removes it. Safe to call twice. */
  async destroy(): Promise<void> {
    if (existsSync(this.pctPath)) {
      for (const spec of this.guests) {
        if (existsSync(this.paths(spec.vmid).conf) && (await this.isRunning(spec.vmid))) {
          await runOk([this.pctPath, 'stop', String(spec.vmid)]);
        }
      }
    }
    await unmountBelow(this.dir);
    const left = await mountsBelow(this.dir);
    if (left.length > 0) throw new Error(`unable to destroy lab '${this.dir}' - still mounted: ${left.join(', ')}`);
    await rm(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  paths(vmid: number): GuestPaths {
    if (!this.guests.some((g) => g.vmid === vmid)) throw new Error(`unknown lab guest ${vmid}`);
    return guestPaths(this.dir, vmid);
  }

  private async isRunning(vmid: number): Promise<boolean> {
    return (await this.status(vmid)) === 'running';
  }

  /** Runs argv in the guest, or with chroot into its root when it is stopped (read-only uses). */
  private async inspect(vmid: number, argv: readonly string[]): Promise<RunResult> {
    if (await this.isRunning(vmid)) return this.exec(vmid, argv);
    return run(['chroot', this.paths(vmid).root, 'env', '-i', `PATH=${CLEAN_PATH}`, ...argv]);
  }

  private start(vmid: number): Promise<void> {
    const initLog = path.join(this.paths(vmid).dir, 'init.log');
    return startGuest(this.pctPath, vmid, () => this.isRunning(vmid), initLog);
  }
}
