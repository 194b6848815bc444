/**
 * Live events of each run, for the API's event stream: run started, a guest's stage, a log line
 * (pvepatch's statements and the guest's output), a guest's result, run finished. Late subscribers
 * get the run's history first; history is bounded and kept a minute after the run ends.
 */
import type { RunSummary } from '../store/state.js';
import type { GuestResult } from './types.js';

export type RunEvent =
  | { type: 'run-started'; run: RunSummary; targets: { vmid: number; name: string; type: string; node: string }[] }
  | { type: 'stage'; vmid: number; stage: string }
  | { type: 'log'; vmid: number | null; line: string }
  | { type: 'guest-result'; result: GuestResult }
  | { type: 'run-finished'; run: RunSummary }
  | { type: 'rollout'; rollout: RolloutView; what: string }
  | { type: 'rollout-halted'; rollout: RolloutView; failures: { vmid: number; outcome: string; reason: string }[] }
  | { type: 'rollout-finished'; rollout: RolloutView };

/** What rollout events carry of the rollout (its guests' outcomes are in the guest-result events). */
export interface RolloutView {
  id: string;
  state: string;
  group: number;
  groups: number;
  runs: string[];
  note?: string;
}

export type Listener = (e: RunEvent & { seq: number }) => void;

const MAX_HISTORY = 5000;
const KEEP_AFTER_END_MS = 60_000;

interface Channel {
  history: (RunEvent & { seq: number })[];
  listeners: Set<Listener>;
  seq: number;
  ended: boolean;
  /** Events left out of the history once it was full (they were still sent live). */
  dropped: number;
}

export class RunEvents {
  private readonly channels = new Map<string, Channel>();

  private channel(id: string): Channel {
    let c = this.channels.get(id);
    if (!c) {
      c = { history: [], listeners: new Set(), seq: 0, ended: false, dropped: 0 };
      this.channels.set(id, c);
    }
    return c;
  }

  emit(id: string, e: RunEvent): void {
    const c = this.channel(id);
    const ev = { ...e, seq: ++c.seq };
    // log lines beyond the cap are live-only; stage changes and results are always kept
    if (c.history.length < MAX_HISTORY || e.type !== 'log') c.history.push(ev);
    else c.dropped++;
    for (const l of c.listeners) l(ev);
  }

  /** Starts a channel afresh (a rollout resumed after its stream ended). */
  reset(id: string): void {
    this.channels.delete(id);
  }

  /** The run's last event was sent; history stays a minute for late subscribers. */
  end(id: string): void {
    const c = this.channel(id);
    c.ended = true;
    for (const l of c.listeners) c.listeners.delete(l);
    setTimeout(() => {
      if (this.channels.get(id) === c) this.channels.delete(id);
    }, KEEP_AFTER_END_MS).unref();
  }

  /**
   * Replays the history after `afterSeq`, then follows live; returns the unsubscribe function and
   * whether the run has already ended (then nothing live follows).
   */
  subscribe(id: string, listener: Listener, afterSeq = 0): { close: () => void; ended: boolean } {
    const c = this.channels.get(id);
    if (!c) return { close: () => {}, ended: true };
    for (const e of c.history) if (e.seq > afterSeq) listener(e);
    if (c.ended) return { close: () => {}, ended: true };
    c.listeners.add(listener);
    return { close: () => c.listeners.delete(listener), ended: false };
  }

  known(id: string): boolean {
    return this.channels.has(id);
  }
}
