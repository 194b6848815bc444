import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { replaceFile } from '../core/replace-file.js';
import { configLines } from './config-text.js';
import { parseVzdumpHookConfig, VZDUMP_HOOK_CONFIG } from './hook-config.js';
import { parseVzdumpJobs } from './jobs-cfg.js';

export const HOOK_PATH = '/usr/share/pvepatch/hooks/pvepatch-vzdump-hook';

export interface InstallVzdumpHookOptions {
  /** Node-local vzdump defaults (default /etc/vzdump.conf). */
  vzdumpConf?: string;
  /** The cluster's backup jobs (default /etc/pve/jobs.cfg). */
  jobsCfg?: string;
  /** The hook script to install (default /usr/share/pvepatch/hooks/pvepatch-vzdump-hook). */
  hookPath?: string;
  /** The hook's settings, where a replaced `script` is kept as `chain` (default /etc/pvepatch/vzdump-hook.conf). */
  hookConfig?: string;
  /** Say what would change, change nothing. */
  dryRun?: boolean;
}

export interface InstallVzdumpHookResult {
  dryRun: boolean;
  vzdumpConf: { path: string; action: 'unchanged' | 'added' | 'replaced'; previous?: string };
  hookConfig: { path: string; action: 'unchanged' | 'chain-set'; chain?: string; replacedChain?: string };
  /** vzdump jobs that run the hook (no `script` of their own, or ours) and those that do not. */
  jobs: { covered: string[]; uncovered: { id: string; script: string }[]; error?: string };
  /** One line per change or finding, for the setup command to print. */
  messages: string[];
}

/**
 * Makes vzdump on this node call the pvepatch hook, idempotently: sets `script:` in
 * /etc/vzdump.conf; a different script already there becomes the hook's `chain` (so it keeps
 * running). A job in /etc/pve/jobs.cfg with its own `script` does not use vzdump.conf's: it is
 * listed as not covered (jobs.cfg is cluster-wide and left alone).
 */
export function installVzdumpHook(opts: InstallVzdumpHookOptions = {}): InstallVzdumpHookResult {
  const vzdumpConf = opts.vzdumpConf ?? '/etc/vzdump.conf';
  const hookPath = opts.hookPath ?? HOOK_PATH;
  const hookConfig = opts.hookConfig ?? VZDUMP_HOOK_CONFIG;
  const dryRun = opts.dryRun ?? false;
  const messages: string[] = [];
  const text = existsSync(vzdumpConf) ? readFileSync(vzdumpConf, 'utf8') : '';
  const scripts = scriptLines(text, vzdumpConf);
  if (scripts.length > 1) {
    throw new PvepatchError(
      'config-invalid',
      `unable to install the vzdump hook - ${vzdumpConf} sets 'script' ${scripts.length} times; leave one and try again`,
    );
  }
  const previous = scripts[0]?.value;
  const isOurs = previous !== undefined && samePath(previous, hookPath);
  const result: InstallVzdumpHookResult = {
    dryRun,
    vzdumpConf: { path: vzdumpConf, action: 'unchanged' },
    hookConfig: { path: hookConfig, action: 'unchanged' },
    jobs: { covered: [], uncovered: [] },
    messages,
  };
  if (isOurs) messages.push(`${vzdumpConf}: script is already ${hookPath}`);
  else {
    if (previous !== undefined) {
      setChain(result, previous, dryRun);
      result.vzdumpConf = { path: vzdumpConf, action: 'replaced', previous };
      messages.push(`${vzdumpConf}: script ${previous} replaced by ${hookPath} (kept as its chained hook)`);
    } else {
      result.vzdumpConf = { path: vzdumpConf, action: 'added' };
      messages.push(`${vzdumpConf}: script ${hookPath} added`);
    }
    if (!dryRun) replaceFile(vzdumpConf, withScript(text, scripts[0]?.index, hookPath), 0o644);
  }
  result.hookConfig.chain ??= readChain(hookConfig);
  coverage(result, opts.jobsCfg ?? '/etc/pve/jobs.cfg', hookPath);
  return result;
}

interface ScriptLine {
  index: number;
  value: string;
}

/** The active `script:` lines of vzdump.conf (checked with the same reader as our own files). */
function scriptLines(text: string, source: string): ScriptLine[] {
  const out: ScriptLine[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line.startsWith('script') || line.startsWith('#')) continue;
    const [l] = configLines(line, `${source} line ${index + 1}`, ':');
    if (l?.key === 'script') out.push({ index, value: l.value });
  }
  return out;
}

function withScript(text: string, index: number | undefined, hookPath: string): string {
  const line = `script: ${hookPath}`;
  if (index !== undefined) {
    const lines = text.split('\n');
    lines[index] = line;
    return lines.join('\n');
  }
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}# pvepatch: skip backups of guests being patched (pvepatch setup --vzdump-hook)\n${line}\n`;
}

function setChain(result: InstallVzdumpHookResult, previous: string, dryRun: boolean): void {
  const path = result.hookConfig.path;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const cfg = parseVzdumpHookConfig(text, path); // an invalid file is the admin's: refuse, never overwrite it
  result.hookConfig = { path, action: 'chain-set', chain: previous };
  if (cfg.chain === previous) {
    result.hookConfig.action = 'unchanged';
    return;
  }
  if (cfg.chain) {
    result.hookConfig.replacedChain = cfg.chain;
    result.messages.push(`${path}: chain ${cfg.chain} replaced by ${previous} (${cfg.chain} no longer runs)`);
  } else result.messages.push(`${path}: chain ${previous} set`);
  const lines = text === '' ? [] : (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  const at = lines.findIndex((l) => l.trim().startsWith('chain') && l.includes(':') && !l.trim().startsWith('#'));
  if (at >= 0) lines[at] = `chain: ${previous}`;
  else lines.push(`chain: ${previous}`);
  if (!dryRun) replaceFile(path, `${lines.join('\n')}\n`, 0o644);
}

function readChain(path: string): string | undefined {
  return existsSync(path) ? parseVzdumpHookConfig(readFileSync(path, 'utf8'), path).chain : undefined;
}

function coverage(result: InstallVzdumpHookResult, jobsCfg: string, hookPath: string): void {
  let text: string;
  try {
    text = readFileSync(jobsCfg, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'ENOENT') result.jobs.error = `unable to read ${jobsCfg} - ${e.message}`;
    result.messages.push(e.code === 'ENOENT' ? `${jobsCfg}: no backup jobs` : result.jobs.error!);
    return;
  }
  for (const job of parseVzdumpJobs(text)) {
    if (job.script === undefined || samePath(job.script, hookPath)) result.jobs.covered.push(job.id);
    else result.jobs.uncovered.push({ id: job.id, script: job.script });
  }
  if (result.jobs.covered.length) result.messages.push(`backup jobs covered: ${result.jobs.covered.join(', ')}`);
  for (const j of result.jobs.uncovered) {
    result.messages.push(
      `backup job ${j.id} is NOT covered: it runs its own hook ${j.script} - set its script to ${hookPath} (and that hook as chain) to cover it`,
    );
  }
}

function samePath(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
