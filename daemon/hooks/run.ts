/**
 * Runs the hooks of one phase, one after the other, and turns what they did into a HookOutcome.
 * Nothing a hook does makes this throw: failures and ignored output are warnings (and run log lines);
 * a failing or refused pre-phase hook is a veto that stops the phase. A phase without hooks costs
 * one readdir and writes no file.
 */
import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { type HookEntry, scanHooks } from './discover.js';
import { fieldEnv, hookEnv, type PlanFile, writePlanFile } from './env.js';
import { describeOverrides, mergeOverrides } from './merge.js';
import { parseOverrides } from './overrides.js';
import { type HookProcessResult, runHookProcess } from './process.js';
import { capped, seconds, shown } from './text.js';
import { emptyOverrides, type HookOutcome, type HookRunOptions, isPrePhase } from './types.js';

/** Why a finished hook counts as failed, or undefined when it exited 0. */
function failure(r: HookProcessResult, timeoutMs: number): string | undefined {
  if (r.startError !== undefined) return `unable to start - ${shown(r.startError)}`;
  if (r.aborted) return 'aborted';
  if (r.timedOut) return `timed out after ${seconds(timeoutMs)}`;
  if (r.exitCode === 0 && r.signal === null) return undefined;
  const last = r.lastStderr.trim();
  if (last !== '') return shown(last);
  return r.exitCode === null ? `killed by signal ${r.signal}` : `exit code ${r.exitCode}`;
}

class PhaseRun {
  readonly outcome: HookOutcome = { ran: [], overrides: emptyOverrides(), warnings: [] };
  private readonly pre: boolean;
  private fields: Record<string, string> | undefined;
  private plan: PlanFile | undefined;

  constructor(private readonly o: HookRunOptions) {
    this.pre = isPrePhase(o.phase);
  }

  private warn(line: string): void {
    this.outcome.warnings.push(line);
    this.o.log(line);
  }

  /** A hook that failed (or could not start): a veto before the run or guest, a warning after. */
  private fail(hook: string, reason: string): void {
    if (this.pre) {
      this.outcome.veto = { hook, reason };
      this.o.log(`hook ${escapeControls(hook)}: veto - ${reason}`);
    } else this.warn(`hook ${escapeControls(hook)}: failed - ${reason}`);
  }

  /** Handles one entry; returns false when the phase stops here. */
  async entry(e: HookEntry): Promise<boolean> {
    const label = `hook ${escapeControls(e.hook)}`;
    if (e.status === 'skipped') {
      this.o.log(`${label}: ${e.reason}, skipped`);
      return true;
    }
    if (e.status === 'refused') {
      const refused = e.reason ?? 'refused';
      this.outcome.ran.push({ hook: e.hook, exitCode: null, signal: null, timedOut: false, durationMs: 0, refused });
      // a guard the admin meant to run (a dump, a drain) that cannot run safely stops the run or
      // guest: never patch without it; after the patch it is a warning
      if (this.pre) {
        this.warn(`${label}: refused - ${e.reason}`);
        this.fail(e.hook, `refused - ${refused}; fix its owner or mode (root, not group/world-writable)`);
        return false;
      }
      this.warn(`${label}: refused - ${e.reason}`);
      return true;
    }
    if (this.o.signal?.aborted) {
      this.fail(e.hook, 'aborted before it started');
      return false;
    }
    try {
      this.plan ??= await writePlanFile(this.o.plan);
    } catch (err) {
      this.fail(e.hook, `unable to write the plan file - ${shown(errorMessage(err))}`);
      return false;
    }
    return this.execute(e, label, this.plan.path);
  }

  private async execute(e: HookEntry, label: string, planFile: string): Promise<boolean> {
    if (this.fields === undefined) {
      const f = fieldEnv(this.o.fields);
      for (const w of f.warnings) this.warn(w);
      this.fields = f.env;
    }
    const name = e.hook.slice(this.o.phase.length + 3);
    const r = await runHookProcess(e.run, {
      env: hookEnv(this.fields, { phase: this.o.phase, hook: name, planFile }),
      timeoutMs: this.o.timeoutMs,
      signal: this.o.signal,
      onStderr: (line) => this.o.log(`${label}: ${escapeControls(line)}`),
    });
    const { exitCode, signal, timedOut, durationMs } = r;
    this.outcome.ran.push({ hook: e.hook, exitCode, signal, timedOut, durationMs });
    if (r.stderrOverflow) this.o.log(`${label}: stderr beyond 256 KiB not logged`);
    if (r.stdoutOverflow) this.warn(`${label}: stdout beyond 64 KiB ignored`);
    const failed = failure(r, this.o.timeoutMs);
    this.o.log(`${label}: ${failed === undefined ? 'exit code 0' : 'failed'} after ${durationMs} ms`);
    if (failed !== undefined) {
      if (this.pre && r.stdout.trim() !== '') this.o.log(`${label}: output ignored - the hook failed`);
      this.fail(e.hook, failed);
      return !this.pre && !r.aborted;
    }
    return this.obey(e.hook, label, r.stdout);
  }

  /** Reads a successful hook's stdout; returns false when it asked to skip (the phase stops). */
  private obey(hook: string, label: string, stdout: string): boolean {
    if (!this.pre) {
      for (const line of stdout.split('\n')) if (line.trim() !== '') this.o.log(`${label}: ${capped(line)}`);
    }
    const parsed = parseOverrides(stdout, this.o.phase, hook, this.o.current);
    for (const w of parsed.warnings) this.warn(w);
    const asked = describeOverrides(parsed.overrides);
    if (asked !== '') this.o.log(`${label}: obeyed ${asked}`);
    mergeOverrides(this.outcome.overrides, parsed.overrides);
    return parsed.overrides.skip === undefined;
  }

  async dispose(): Promise<void> {
    await this.plan?.dispose();
  }
}

/** Runs every hook of `o.phase` in `o.dir`; see HookRunOptions and the readme for the contract. */
export async function runHooks(o: HookRunOptions): Promise<HookOutcome> {
  const run = new PhaseRun(o);
  try {
    for (const e of await scanHooks(o.dir, o.phase)) {
      if (!(await run.entry(e))) break;
    }
  } finally {
    await run.dispose();
  }
  return run.outcome;
}
