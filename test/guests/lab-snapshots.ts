import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GuestPaths } from './lab-guest.js';
import { runOk } from './run.js';

/** What a snapshot-capable PVE storage does for the daemon: real saves and restores of a guest root. */
export interface SnapshotBackend {
  create(vmid: number, name: string): Promise<void>;
  rollback(vmid: number, name: string): Promise<void>;
  remove(vmid: number, name: string): Promise<void>;
}

/** The lab operations a snapshot needs; rollback stops, remounts and restarts the guest. */
export interface SnapshotHost {
  paths(vmid: number): GuestPaths;
  isRunning(vmid: number): Promise<boolean>;
  stop(vmid: number): Promise<void>;
  start(vmid: number): Promise<void>;
  unmount(vmid: number): Promise<void>;
  mount(vmid: number): Promise<void>;
}

/** Stored next to the copied upper dir as meta.json. */
export interface SnapshotMeta {
  vmid: number;
  name: string;
  /** High-resolution epoch milliseconds (performance.timeOrigin + performance.now()). */
  createdAt: number;
  /** Date.now() when the copy finished. */
  createdAtMs: number;
}

// PVE's 'pve-snapshot-name' format; it also keeps names from escaping the snapshots dir.
const NAME_RE = /^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/;

export class LabSnapshots implements SnapshotBackend {
  private readonly times = new Map<number, Map<string, number>>();

  constructor(private readonly host: SnapshotHost) {}

  /**
   * Copies the guest's overlay upper dir (its whole difference to the base) with cp -a, and for
   * host-userland guests the upper dir of the /usr overlay too (the files their packages installed).
   */
  async create(vmid: number, name: string): Promise<void> {
    const dir = this.dirOf(vmid, name);
    if (existsSync(dir)) throw new Error(`unable to create snapshot '${name}' of guest ${vmid} - name already used`);
    const g = this.host.paths(vmid);
    await mkdir(dir, { recursive: true });
    try {
      await runOk(['cp', '-a', g.upper, path.join(dir, 'upper')]);
      if (existsSync(g.usrUpper)) await runOk(['cp', '-a', g.usrUpper, path.join(dir, 'usr-upper')]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    const meta: SnapshotMeta = {
      vmid,
      name,
      createdAt: performance.timeOrigin + performance.now(),
      createdAtMs: Date.now(),
    };
    await writeFile(path.join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    this.timesOf(vmid).set(name, meta.createdAtMs);
  }

  /** Puts the saved upper dir(s) back; a running guest is stopped for it and started again. */
  async rollback(vmid: number, name: string): Promise<void> {
    const dir = await this.existing(vmid, name, 'rollback');
    const g = this.host.paths(vmid);
    const wasRunning = await this.host.isRunning(vmid);
    if (wasRunning) await this.host.stop(vmid);
    await this.host.unmount(vmid);
    for (const d of [g.upper, g.work, g.usrUpper, g.usrWork]) await rm(d, { recursive: true, force: true });
    await runOk(['cp', '-a', path.join(dir, 'upper'), g.upper]);
    if (existsSync(path.join(dir, 'usr-upper'))) await runOk(['cp', '-a', path.join(dir, 'usr-upper'), g.usrUpper]);
    await this.host.mount(vmid);
    if (wasRunning) await this.host.start(vmid);
  }

  async remove(vmid: number, name: string): Promise<void> {
    const dir = await this.existing(vmid, name, 'delete');
    await rm(dir, { recursive: true, force: true });
    this.timesOf(vmid).delete(name);
  }

  /** name → Date.now() at which create finished, for snapshots that still exist. */
  snapshotTimes(vmid: number): Record<string, number> {
    return Object.fromEntries(this.timesOf(vmid));
  }

  async meta(vmid: number, name: string): Promise<SnapshotMeta> {
    const dir = await this.existing(vmid, name, 'read');
    return JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as SnapshotMeta;
  }

  private dirOf(vmid: number, name: string): string {
    if (!NAME_RE.test(name)) throw new Error(`invalid snapshot name '${name}' - must match ${NAME_RE.source}`);
    return path.join(this.host.paths(vmid).snapshots, name);
  }

  private async existing(vmid: number, name: string, verb: string): Promise<string> {
    const dir = this.dirOf(vmid, name);
    if (!existsSync(path.join(dir, 'meta.json'))) {
      throw new Error(`unable to ${verb} snapshot '${name}' of guest ${vmid} - snapshot does not exist`);
    }
    return dir;
  }

  private timesOf(vmid: number): Map<string, number> {
    let m = this.times.get(vmid);
    if (!m) {
      m = new Map();
      this.times.set(vmid, m);
    }
    return m;
  }
}
