import { texts } from './errors.js';
import { setHaResource } from './ha.js';
import { type GuestState, guestView, patchGuest, type SimState } from './state.js';
import { type TaskRecord, taskInfo } from './tasks.js';
import type { SimControlTask, SimGuest, SimGuestView, SimHaResource, SimTaskInfo, SimVzdump } from './types.js';

/** The test-facing control methods of the simulator (everything on `Sim` that is not HTTP). */
export class SimControl {
  constructor(private readonly state: SimState) {}

  startTask(opts: SimControlTask): string {
    return this.controlTask(opts).upid;
  }

  private controlTask(opts: SimControlTask): TaskRecord {
    if (!this.state.nodes.includes(opts.node)) throw new Error(`sim: unknown node '${opts.node}'`);
    const task = this.state.tasks.create({
      node: opts.node,
      type: opts.type,
      id: opts.id ?? '',
      user: opts.user ?? 'root@pam',
      kind: 'control',
    });
    for (const line of opts.log ?? []) this.state.tasks.log(task, line);
    if (opts.durationMs !== undefined) {
      void this.state.sleep(opts.durationMs).then(() => {
        if (!this.state.closed) this.state.tasks.finish(task, 'OK');
      });
    }
    return task;
  }

  /**
   * A backup job as pve-manager `PVE/VZDump.pm` runs it, reduced to what gates see: a running `vzdump`
   * task by root@pam and `lock: backup` on its guests until it ends. A guest that is already locked
   * is skipped with vzdump's error line and the job ends with `job errors`.
   */
  startVzdump(opts: SimVzdump): string {
    if (!this.state.nodes.includes(opts.node)) throw new Error(`sim: unknown node '${opts.node}'`);
    const guests = opts.vmids.map((vmid) => this.state.guest(vmid));
    const id = opts.id ?? (opts.vmids.length === 1 ? String(opts.vmids[0]) : '');
    const log = [
      `INFO: starting new backup job: vzdump ${opts.vmids.join(' ')} --mode snapshot --storage ${opts.storage ?? 'sim-backup'}`,
    ];
    const locked: GuestState[] = [];
    for (const g of guests) {
      if (g.lock) {
        log.push(`ERROR: Backup of VM ${g.vmid} failed - ${texts.locked(g.type, g.lock)}`);
        continue;
      }
      g.lock = 'backup';
      locked.push(g);
      log.push(`INFO: Starting Backup of VM ${g.vmid} (${g.type})`);
    }
    const failed = guests.length - locked.length;
    const task = this.controlTask({ node: opts.node, type: 'vzdump', id, log, user: opts.user ?? 'root@pam' });
    task.onStop = (exitstatus) => {
      for (const g of locked) {
        if (g.lock === 'backup') delete g.lock;
        this.state.tasks.log(task, `INFO: Finished Backup of VM ${g.vmid}`);
      }
      const ok = exitstatus === 'OK' && failed === 0;
      this.state.tasks.log(task, `INFO: Backup job finished ${ok ? 'successfully' : 'with errors'}`);
    };
    if (opts.durationMs !== undefined) {
      const exitstatus = failed > 0 ? 'job errors' : 'OK';
      void this.state.sleep(opts.durationMs).then(() => {
        if (!this.state.closed) this.state.tasks.finish(task, exitstatus);
      });
    }
    return task.upid;
  }

  finishTask(upid: string, exitstatus = 'OK'): void {
    const task = this.state.tasks.byUpid(upid);
    if (!task) throw new Error(`sim: no task ${upid}`);
    if (task.status !== 'running') throw new Error(`sim: task ${upid} already stopped (${task.exitstatus})`);
    this.state.tasks.finish(task, exitstatus);
  }

  failSnapshots(vmid: number, message: string | null = texts.featureUnavailable): void {
    this.state.guest(vmid);
    if (message === null) this.state.snapshotFailures.delete(vmid);
    else this.state.snapshotFailures.set(vmid, message);
  }

  setGuest(vmid: number, patch: Partial<SimGuest>): void {
    if (patch.node && !this.state.nodes.includes(patch.node)) throw new Error(`sim: unknown node '${patch.node}'`);
    patchGuest(this.state.guest(vmid), patch);
  }

  guest(vmid: number): SimGuestView {
    return guestView(this.state.guest(vmid));
  }

  hangAgent(vmid: number, on: boolean): void {
    this.state.guest(vmid);
    this.state.agent(vmid).hung = on;
  }

  /** The agent's service restart: its session's processes die (backend), then it is silent for downMs. */
  async restartAgent(vmid: number, opts: { downMs?: number } = {}): Promise<void> {
    this.state.guest(vmid);
    const agent = this.state.agent(vmid);
    agent.hung = false; // a new agent process
    agent.downUntil = Date.now() + (opts.downMs ?? 0);
    await this.state.agentBackend?.restart(vmid);
    agent.execs.clear(); // the new qemu-ga knows none of the old pids
    agent.downUntil = Date.now() + (opts.downMs ?? 0);
  }

  rebootNeverReturns(vmid: number, on = true): void {
    this.state.guest(vmid);
    this.state.agent(vmid).rebootNeverReturns = on;
  }

  /** Drops or restores the cluster's quorum: `/cluster/status` says so and every write fails. */
  setQuorate(quorate: boolean): void {
    this.state.quorate = quorate;
  }

  setHaResource(sid: string, resource: SimHaResource = {}): void {
    setHaResource(this.state, sid, resource);
  }

  removeHaResource(sid: string): void {
    if (!this.state.ha.delete(sid)) throw new Error(`sim: no HA resource '${sid}'`);
  }

  setAgentBootDelay(ms: number): void {
    this.state.agentBootDelayMs = ms;
  }

  tasks(): SimTaskInfo[] {
    return this.state.tasks.all.map(taskInfo);
  }

  async waitTask(upid: string, timeoutMs = 10_000): Promise<SimTaskInfo> {
    const task = this.state.tasks.byUpid(upid);
    if (!task) throw new Error(`sim: no task ${upid}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sim: task ${upid} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return taskInfo(await Promise.race([this.state.tasks.wait(task), timeout]));
    } finally {
      clearTimeout(timer);
    }
  }
}
