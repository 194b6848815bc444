/**
 * The engine's side of hook scripts: one session per run that runs a phase's hooks with the
 * configured directory and timeouts, and turns what they did into the report's records. The
 * runner itself (discovery, ownership checks, environment, overrides) is daemon/hooks.
 */
import type { Config } from '../config/schema.js';
import { type HookOutcome, type HookPhase, runHooks } from '../hooks/index.js';
import type { HookPhaseRecord } from './types.js';

export type HookFields = Record<string, string | number | boolean | readonly string[] | null | undefined>;

export interface HookSession {
  run(
    phase: HookPhase,
    fields: HookFields,
    plan: unknown,
    log: (line: string) => void,
    current?: { snapshot_keep?: number },
  ): Promise<HookOutcome>;
}

export function hookSession(config: Pick<Config, 'hooks_dir' | 'hook_timeout' | 'hook_timeouts'>): HookSession {
  return {
    run: (phase, fields, plan, log, current) =>
      runHooks({
        dir: config.hooks_dir,
        phase,
        timeoutMs: (config.hook_timeouts[phase] ?? config.hook_timeout) * 1000,
        fields,
        plan,
        log,
        ...(current ? { current } : {}),
      }),
  };
}

/** The report's record of a phase, or undefined when no hook ran and none warned. */
export function phaseRecord(phase: HookPhase, o: HookOutcome): HookPhaseRecord | undefined {
  if (o.ran.length === 0 && o.warnings.length === 0) return undefined;
  return {
    phase,
    ran: o.ran.map((r) => r.hook),
    warnings: o.warnings,
    notes: o.overrides.notes,
    ...(o.veto ? { veto: `${o.veto.hook}: ${o.veto.reason}` } : {}),
  };
}
