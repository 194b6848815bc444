/**
 * Where a followed run's events go, and the plain way to show them: one line per event, for
 * pipes, files and CI (and tests), exactly as `pvepatch run` always printed them.
 */
import { escapeControls } from '../core/escape.js';

/** Where a followed run's events go. */
export interface RunFollower {
  event(type: string, data: unknown): void;
  /** The stream ended or following stopped: what is still owed is written. */
  finish(): void;
}

/** The event fields the followers read; the daemon may send more. */
export interface EventData {
  vmid?: unknown;
  stage?: unknown;
  line?: unknown;
  result?: { vmid?: unknown; name?: unknown; outcome?: unknown; reason?: unknown };
  run?: { guest_count?: unknown; guests?: unknown };
  /** run-started: every guest of the run (vmid, name, type, node). */
  targets?: unknown;
}

/** One line per event: every log line, `-- <vmid>: <stage>` and `-- <vmid>: <outcome>`. */
export class LineFollower implements RunFollower {
  private readonly out: (line: string) => void;

  constructor(out: (line: string) => void) {
    this.out = out;
  }

  event(type: string, data: unknown): void {
    const e = data as EventData;
    if (type === 'log' && typeof e.line === 'string') this.out(escapeControls(e.line));
    else if (type === 'stage') this.out(escapeControls(`-- ${e.vmid}: ${e.stage}`));
    else if (type === 'guest-result' && e.result) this.out(escapeControls(`-- ${e.result.vmid}: ${e.result.outcome}`));
  }

  finish(): void {}
}
