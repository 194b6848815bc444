/**
 * How `pvepatch run`, `log --follow` and `runs --follow` show a run's event stream on a terminal:
 * a live block with one line per guest, redrawn in place below pvepatch's own statements, which
 * scroll above it. (On a pipe every event is a line: `LineFollower`.) Guest text (names, stages,
 * output, reasons) is escaped and cut to the terminal's width, so a guest can neither move the
 * cursor nor break the block.
 */
import { escapeControls } from '../core/escape.js';
import type { EventData, RunFollower } from './line-follower.js';
import { fitWidth, padWidth, textWidth } from './text-width.js';

export interface ProgressOptions {
  /** Writes raw text to the terminal (one call per redraw). */
  write: (s: string) => void;
  columns: number;
  rows: number;
  /** Milliseconds clock (default Date.now). */
  now?: () => number;
  /** Least time between two redraws (default 100 ms: at most ten a second). */
  intervalMs?: number;
  /** Runs `fn` after `ms` (the redraw a throttled update owes); returns its canceller. */
  later?: (fn: () => void, ms: number) => () => void;
}

interface GuestRow {
  vmid: number;
  name: string;
  /** Current stage, escaped; empty until the guest starts one. */
  stage: string;
  firstSeen: number;
  stageSince: number;
  /** The guest's last log or output line, escaped. */
  last: string;
  outcome?: string;
  reason?: string;
  endedAt?: number;
}

const STATE_CELLS = 12;
const NAME_CELLS = 16;

const realLater = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * The live block. Each redraw moves the cursor up over the block it drew last (`ESC[<n>A`),
 * clears to the end of the screen, writes the statements that arrived since, then the block.
 * Redraws are throttled; `finish()` writes the whole block once more, uncapped and static.
 */
export class ProgressRenderer implements RunFollower {
  private readonly o: Required<Omit<ProgressOptions, 'columns' | 'rows'>>;
  private readonly guests = new Map<number, GuestRow>();
  private pending: string[] = [];
  private columns: number;
  private rows: number;
  /** Lines of the block on screen now, above the cursor. */
  private height = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private cancelLater: (() => void) | undefined;
  /** Guests in the run, when the daemon says; those never seen count as waiting. */
  private total = 0;
  private done = false;

  constructor(o: ProgressOptions) {
    this.o = { now: Date.now, intervalMs: 100, later: realLater, ...o };
    this.columns = o.columns;
    this.rows = o.rows;
  }

  event(type: string, data: unknown): void {
    if (this.done) return;
    const e = (data ?? {}) as EventData;
    if (type === 'log') this.onLog(e);
    else if (type === 'stage' && typeof e.vmid === 'number') this.onStage(e.vmid, String(e.stage));
    else if (type === 'guest-result' && typeof e.result?.vmid === 'number') this.onResult(e.result.vmid, e.result);
    else if (type === 'run-started' || type === 'run-finished') this.onRun(e.run, e.targets);
    else return;
    this.request();
  }

  /** Elapsed times move on without events: the caller ticks about once a second. */
  tick(): void {
    if (!this.done) this.request();
  }

  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.tick();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.cancelLater?.();
    this.cancelLater = undefined;
    this.frame(this.allLines());
    this.height = 0;
  }

  private onLog(e: EventData): void {
    if (typeof e.line !== 'string') return;
    if (typeof e.vmid !== 'number') {
      this.pending.push(escapeControls(e.line));
      return;
    }
    this.guest(e.vmid).last = escapeControls(withoutSource(e.line, e.vmid));
  }

  private onStage(vmid: number, stage: string): void {
    const g = this.guest(vmid);
    if (g.stage === '') g.firstSeen = this.o.now(); // its time counts from its first stage, not the wait
    g.stage = escapeControls(stage);
    g.stageSince = this.o.now();
  }

  private onResult(vmid: number, r: NonNullable<EventData['result']>): void {
    const g = this.guest(vmid);
    g.outcome = escapeControls(String(r.outcome));
    if (typeof r.reason === 'string') g.reason = escapeControls(r.reason);
    if (typeof r.name === 'string' && r.name) g.name = escapeControls(r.name);
    g.endedAt = this.o.now();
  }

  /**
   * The run's guests (with their names) when it starts, so those still waiting for a pool slot show;
   * outcomes of a run replayed after its history went.
   */
  private onRun(run: EventData['run'], targets: EventData['targets']): void {
    if (typeof run?.guest_count === 'number') this.total = run.guest_count;
    if (Array.isArray(targets)) {
      for (const t of targets as { vmid?: unknown; name?: unknown }[]) {
        if (typeof t?.vmid !== 'number') continue;
        const g = this.guest(t.vmid);
        if (typeof t.name === 'string' && t.name) g.name = escapeControls(t.name);
      }
    }
    if (typeof run?.guests !== 'object' || run.guests === null) return;
    for (const [vmid, outcome] of Object.entries(run.guests)) {
      const g = this.guest(Number(vmid));
      if (g.outcome === undefined && typeof outcome === 'string') g.outcome = escapeControls(outcome);
    }
  }

  private guest(vmid: number): GuestRow {
    let g = this.guests.get(vmid);
    if (!g) {
      const now = this.o.now();
      g = { vmid, name: '', stage: '', firstSeen: now, stageSince: now, last: '' };
      this.guests.set(vmid, g);
    }
    return g;
  }

  /** Draws now when the last redraw is old enough, else once the interval has passed. */
  private request(): void {
    const wait = this.lastDraw + this.o.intervalMs - this.o.now();
    if (wait <= 0) {
      this.draw();
      return;
    }
    this.cancelLater ??= this.o.later(() => {
      this.cancelLater = undefined;
      if (!this.done) this.draw();
    }, wait);
  }

  private draw(): void {
    this.cancelLater?.();
    this.cancelLater = undefined;
    const lines = this.blockLines();
    this.frame(lines);
    this.height = lines.length;
  }

  /** One write: up over the old block, clear below, new statements, then `lines`. */
  private frame(lines: string[]): void {
    let s = this.height > 0 ? `\x1b[${this.height}A\r\x1b[J` : '';
    for (const l of [...this.pending, ...lines]) s += `${l}\n`;
    this.pending = [];
    this.lastDraw = this.o.now();
    if (s) this.o.write(s);
  }

  /** Every guest, by vmid: the static block at the end. */
  private allLines(): string[] {
    const all = [...this.guests.values()].sort((a, b) => a.vmid - b.vmid);
    const lines = this.rowLines(all);
    const unseen = Math.max(0, this.total - all.length);
    if (unseen > 0) lines.push(fitWidth(`… ${unseen} waiting`, this.width()));
    return lines;
  }

  /** The live block, no taller than the terminal: when capped, running guests first. */
  private blockLines(): string[] {
    const all = [...this.guests.values()].sort((a, b) => a.vmid - b.vmid);
    const unseen = Math.max(0, this.total - all.length);
    const max = Math.max(2, this.rows - 1);
    if (all.length + (unseen > 0 ? 1 : 0) <= max) return this.allLines();
    const running = all.filter((g) => g.outcome === undefined && g.stage !== '');
    const finished = all.filter((g) => g.outcome !== undefined).sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0));
    const waiting = all.filter((g) => g.outcome === undefined && g.stage === '');
    const shown = [...running, ...finished, ...waiting].slice(0, max - 1);
    const hidden = (list: GuestRow[]) => list.filter((g) => !shown.includes(g)).length;
    const more = hidden(running);
    const rest = `${hidden(finished)} done, ${hidden(waiting) + unseen} waiting`;
    return [...this.rowLines(shown), fitWidth(`… ${more > 0 ? `${more} more running, ` : ''}${rest}`, this.width())];
  }

  /** `<vmid> [name] <stage|outcome> <elapsed>  <last line|reason>`, cut to the width. */
  private rowLines(rows: GuestRow[]): string[] {
    const now = this.o.now();
    const vmidCells = Math.max(0, ...rows.map((g) => String(g.vmid).length));
    const nameCells = Math.min(NAME_CELLS, Math.max(0, ...rows.map((g) => textWidth(g.name))));
    return rows.map((g) => {
      const state = g.outcome ?? (g.stage || 'waiting');
      const ms = g.endedAt !== undefined ? g.endedAt - g.firstSeen : g.stage ? now - g.stageSince : undefined;
      const text = g.outcome !== undefined ? (g.reason ?? '') : g.last;
      const cells = [
        String(g.vmid).padStart(vmidCells),
        ...(nameCells > 0 ? [padWidth(g.name, nameCells)] : []),
        padWidth(state, STATE_CELLS),
        (ms === undefined ? '' : elapsed(ms)).padStart(6),
        text,
      ];
      return fitWidth(cells.join('  ').trimEnd(), this.width());
    });
  }

  /** One cell short of the terminal, so no line ever wraps. */
  private width(): number {
    return Math.max(20, this.columns - 1);
  }
}

/** A guest's log line without the `CT <vmid>: ` / `VM <vmid>: ` pvepatch puts before it. */
function withoutSource(line: string, vmid: number): string {
  for (const source of [`CT ${vmid}: `, `VM ${vmid}: `]) if (line.startsWith(source)) return line.slice(source.length);
  return line;
}

/** 9s, 4m05s, 1h02m. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
}

/** The terminal stdout is, as the progress renderer needs it. */
export interface Terminal {
  write(s: string): unknown;
  columns: number;
  rows: number;
  on(event: 'resize', fn: () => void): unknown;
  off(event: 'resize', fn: () => void): unknown;
}

/** A renderer on a real terminal: ticks each second, follows resizes; `finish()` lets go of both. */
export function terminalProgress(t: Terminal): RunFollower {
  const size = () => [t.columns || 80, t.rows || 24] as const;
  const [columns, rows] = size();
  const r = new ProgressRenderer({ write: (s) => t.write(s), columns, rows });
  const onResize = () => r.resize(...size());
  const ticker = setInterval(() => r.tick(), 1000);
  t.on('resize', onResize);
  return {
    event: (type, data) => r.event(type, data),
    finish: () => {
      clearInterval(ticker);
      t.off('resize', onResize);
      r.finish();
    },
  };
}
