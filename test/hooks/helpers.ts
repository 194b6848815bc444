/** Real hook directories in temp dirs for the hook runner's tests. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type HookOutcome, type HookPhase, type HookRunOptions, runHooks } from '../../daemon/hooks/index.js';

/** A new private (0700, root-owned) directory; the caller removes it. */
export function tempDir(prefix = 'pvepatch-hooks-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A maker of hook directories that the calling file's `after` removes again. */
export function hookDirs(): () => string {
  const created: string[] = [];
  after(() => {
    for (const d of created) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir();
    created.push(d);
    return d;
  };
}

/** `<dir>/<phase>.d/<name>` with `body`, created 0755 (the phase dir too) unless `mode` says otherwise. */
export function addHook(dir: string, phase: HookPhase, name: string, body: string, mode = 0o755): string {
  const phaseDir = join(dir, `${phase}.d`);
  mkdirSync(phaseDir, { recursive: true });
  chmodSync(phaseDir, 0o755);
  const path = join(phaseDir, name);
  writeFileSync(path, body);
  chmodSync(path, mode);
  return path;
}

/** A POSIX sh script. */
export function sh(body: string): string {
  return `#!/bin/sh\n${body}\n`;
}

/** A script run by this very node binary (exact environment, no shell adding PWD). */
export function nodeScript(body: string): string {
  return `#!${process.execPath}\n${body}\n`;
}

export interface Ran {
  outcome: HookOutcome;
  log: string[];
}

export async function run(dir: string, phase: HookPhase, extra: Partial<HookRunOptions> = {}): Promise<Ran> {
  const log: string[] = [];
  const outcome = await runHooks({
    dir,
    phase,
    timeoutMs: 10_000,
    fields: {},
    plan: {},
    log: (line) => log.push(line),
    ...extra,
  });
  return { outcome, log };
}
