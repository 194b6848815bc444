import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { type Answer, type Patching, parseVmid, whereInRun, whyNot } from './answer.js';
import type { VzdumpHookConfig } from './hook-config.js';

/** Exit codes of `pvepatch vzdump-hook` of its own (a chained hook's code is passed through). */
export const HOOK_EXIT = { allow: 0, veto: 1, broken: 2 } as const;

export interface VzdumpHookDeps {
  config: VzdumpHookConfig;
  /** Where `config` came from, for messages. */
  configPath: string;
  /** The daemon's socket, or why it is not known (pvepatch.conf unreadable). */
  socket: () => string;
  ask: (socket: string, vmid: number) => Promise<Answer<Patching>>;
  /** The wrapper's own path (`$0`): a `chain` that resolves to it would call itself forever. */
  self?: string;
  /** vzdump's environment: VMTYPE names the guest's kind. */
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Runs the chained hook with this argv and the same environment; resolves to its exit code. */
  runChain: (path: string, argv: string[]) => Promise<number>;
}

/**
 * One call of the vzdump hook (`<phase>` or `<phase> <mode> <vmid>`, pve-manager PVE/VZDump.pm).
 * Only `backup-start` is ours: a guest that pvepatch is patching has its backup skipped (exit 1;
 * vzdump fails that guest's backup and goes on with the next). Everything else is allowed. The
 * chained hook then runs for every phase except a vetoed `backup-start`, and its exit code is ours.
 */
export async function vzdumpHook(argv: string[], deps: VzdumpHookDeps): Promise<number> {
  const [phase, , vmidText] = argv;
  if (phase === 'backup-start') {
    const code = await gateBackup(vmidText, deps);
    if (code !== HOOK_EXIT.allow) return code;
  }
  const chain = deps.config.chain;
  if (!chain) return HOOK_EXIT.allow;
  if (deps.self && samePath(chain, deps.self)) {
    deps.out(
      `pvepatch: chain ${escapeControls(chain)} is this hook itself - not run (fix ${escapeControls(deps.configPath)})`,
    );
    return HOOK_EXIT.allow;
  }
  return deps.runChain(chain, argv);
}

async function gateBackup(vmidText: string | undefined, deps: VzdumpHookDeps): Promise<number> {
  const vmid = parseVmid(vmidText);
  if (vmid === undefined) {
    deps.out(`pvepatch: unexpected guest id '${escapeControls(vmidText ?? '')}' - backup allowed`);
    return HOOK_EXIT.allow;
  }
  const guest = `${guestKind(deps.env.VMTYPE)} ${vmid}`;
  let socket: string;
  try {
    socket = deps.socket();
  } catch (err) {
    deps.out(`pvepatch: daemon not reachable (${escapeControls(errorMessage(err))}) - backup allowed`);
    return HOOK_EXIT.allow;
  }
  let a = await deps.ask(socket, vmid);
  const deadline = deps.now() + deps.config.wait * 1000;
  if (a.kind === 'ok' && a.value.patching && deps.config.wait > 0) {
    deps.out(`pvepatch: ${guest} is being patched (${whereInRun(a.value)}) - waiting up to ${deps.config.wait} s`);
    while (a.kind === 'ok' && a.value.patching && deps.now() < deadline) {
      await deps.sleep(Math.min(deps.config.poll * 1000, Math.max(deadline - deps.now(), 0)));
      a = await deps.ask(socket, vmid);
    }
  }
  if (a.kind !== 'ok') {
    deps.out(`pvepatch: daemon not reachable (${whyNot(a)}) - backup allowed`);
    return HOOK_EXIT.allow;
  }
  if (!a.value.patching) {
    deps.out(`pvepatch: ${guest} is not being patched - backup allowed`);
    return HOOK_EXIT.allow;
  }
  deps.out(
    `pvepatch: ${guest} is being patched (${whereInRun(a.value)}) - skipping its backup; it runs again with the next job`,
  );
  return HOOK_EXIT.veto;
}

function guestKind(vmtype: string | undefined): string {
  if (vmtype === 'lxc') return 'CT';
  if (vmtype === 'qemu') return 'VM';
  return 'guest';
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/**
 * Runs a program with an argv array (no shell) and the environment as received, its output
 * straight through to vzdump's task log; resolves to its exit code (128 + n for signal n, like a
 * shell). A program that cannot be started is exit 2 with the reason, as vzdump fails on a
 * missing hook script. No timeout: vzdump gives its hook none either.
 */
export function runProgram(path: string, argv: string[], out: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(path, argv, { stdio: 'inherit', env: process.env });
    child.once('error', (err) => {
      out(`pvepatch: unable to run chained hook '${escapeControls(path)}' - ${escapeControls(err.message)}`);
      resolve(HOOK_EXIT.broken);
    });
    child.once('exit', (code, signal) => {
      if (signal) resolve(128 + (constants.signals[signal] ?? 0));
      else resolve(code ?? HOOK_EXIT.broken);
    });
  });
}
