import { errorMessage } from '../core/errors.js';
import type { RebootRecord } from '../store/state.js';
import type { Engine } from './engine.js';
import { outsideWindow } from './reboot-decision.js';
import type { EngineServices } from './types.js';

/** How often the window is looked at (and after every config reload). */
const CHECK_MS = 60_000;
/** A deferred reboot a pass could not do (guest stopped, busy, refused) is tried again after this. */
const RETRY_MS = 30 * 60_000;

/** Each guest's newest reboot record, when it is still pending. */
export function pendingReboots(records: readonly RebootRecord[]): RebootRecord[] {
  const newest = new Map<number, RebootRecord>();
  for (const r of records) {
    const prev = newest.get(r.vmid);
    if (!prev || prev.at <= r.at) newest.set(r.vmid, r);
  }
  return [...newest.values()].filter((r) => r.status === 'pending');
}

/**
 * Runs the reboots that runs deferred to `reboot_window` once the window is open: one reboot run at
 * a time, with the same gate, verification and rollback as an immediate reboot.
 */
export class RebootWindow {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly tried = new Map<string, number>();

  constructor(
    private readonly svc: EngineServices,
    private readonly engine: Engine,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), CHECK_MS);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  kick(): void {
    void this.check().catch((err) => this.log(`reboot window: ${errorMessage(err)}`));
  }

  private async check(): Promise<void> {
    const window = this.svc.config.reboot_window;
    if (this.busy || !window || this.engine.stopping) return;
    if (outsideWindow(window, this.svc.now?.() ?? new Date())) return;
    const now = Date.now();
    const key = (r: RebootRecord) => `${r.run_id}:${r.vmid}`;
    const due = pendingReboots(this.svc.store.data.reboots).filter(
      (r) => now - (this.tried.get(key(r)) ?? 0) > RETRY_MS,
    );
    if (due.length === 0) return;
    this.busy = true;
    try {
      const run = await this.engine.startRebootRun(due, { trigger: 'schedule', user: 'root@pam' });
      if (!run) return;
      for (const r of due) this.tried.set(key(r), now);
      this.log(`reboot window ${window}: rebooting ${due.map((r) => r.vmid).join(', ')} in run ${run.id}`);
      await this.engine.waitRun(run.id);
    } finally {
      this.busy = false;
    }
  }
}
