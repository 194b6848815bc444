/**
 * Background recovery work that must not hold up start-up: releasing holds an interrupted run left
 * and settling snapshot records. It runs once after READY, again after every run, and every few
 * minutes while anything is left; attempts never overlap, and each is logged.
 */
import { errorMessage } from '../core/errors.js';
import { type Reserve, releasePendingHolds } from './recovery.js';
import { settleSnapshots, unsettled } from './snapshot-records.js';
import type { EngineServices } from './types.js';

export const RETRY_MS = 5 * 60_000;

export class Maintenance {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly svc: EngineServices,
    private readonly reserve: Reserve,
    private readonly log: (line: string) => void,
    private readonly retryMs = RETRY_MS,
  ) {}

  /** Starts a pass now (or right after the one running); resolves when that pass is done. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.kick();
      }
    });
    return this.running;
  }

  /** What is still waiting: hold records and unsettled snapshot records. */
  pending(): { holds: number; snapshots: number } {
    return { holds: this.svc.store.data.pending_holds.length, snapshots: unsettled(this.svc).length };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Waits for a pass in progress (stop). */
  async idle(): Promise<void> {
    await this.running;
  }

  private async pass(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const before = this.pending();
    if (before.holds + before.snapshots === 0) return;
    try {
      if (before.holds > 0) await releasePendingHolds(this.svc, this.reserve, this.log);
      if (before.snapshots > 0 && !this.stopped) await settleSnapshots(this.svc, undefined, this.log);
    } catch (err) {
      this.log(`recovery pass failed - ${errorMessage(err)}; will retry`);
    }
    const left = this.pending();
    if (left.holds + left.snapshots > 0 && !this.stopped) {
      this.log(
        `recovery: ${left.holds} hold record(s), ${left.snapshots} snapshot record(s) left - retry in ${Math.round(this.retryMs / 1000)}s`,
      );
      this.timer = setTimeout(() => void this.kick(), this.retryMs);
      this.timer.unref();
    }
  }
}
