import { existsSync, readFileSync, statSync } from 'node:fs';
import { PvepatchError } from '../core/errors.js';
import { configLines, pathValue, secondsValue } from './config-text.js';

/** The vzdump hook's own settings (pvepatch.conf has a fixed schema; these belong to the hook). */
export const VZDUMP_HOOK_CONFIG = '/etc/pvepatch/vzdump-hook.conf';

export interface VzdumpHookConfig {
  /** Seconds a `backup-start` waits for a running patch to finish before it skips the guest; 0 = no wait. */
  wait: number;
  /** Seconds between two questions to the daemon while waiting. */
  poll: number;
  /** The admin's previous hook script, run after ours with the same argv and environment. */
  chain?: string;
}

export const HOOK_DEFAULTS: VzdumpHookConfig = { wait: 0, poll: 5 };

/** Parses `key: value` lines: `wait`, `poll`, `chain`; anything else is an error. */
export function parseVzdumpHookConfig(text: string, source: string): VzdumpHookConfig {
  const cfg: VzdumpHookConfig = { ...HOOK_DEFAULTS };
  const seen = new Set<string>();
  for (const l of configLines(text, source, ':')) {
    if (seen.has(l.key)) throw new PvepatchError('config-invalid', `${source} line ${l.line}: ${l.key} is set twice`);
    seen.add(l.key);
    if (l.key === 'wait') cfg.wait = secondsValue(l, source, 0, 86_400);
    else if (l.key === 'poll') cfg.poll = secondsValue(l, source, 1, 300);
    else if (l.key === 'chain') cfg.chain = pathValue(l, source);
    else
      throw new PvepatchError(
        'config-invalid',
        `${source} line ${l.line}: unknown key '${l.key}' (known: wait, poll, chain)`,
      );
  }
  return cfg;
}

/**
 * Reads the hook's settings; a missing file means the defaults. The file names a program that
 * runs as root (`chain`), so it must belong to root and not be writable by group or others.
 */
export function loadVzdumpHookConfig(path = VZDUMP_HOOK_CONFIG): VzdumpHookConfig {
  if (!existsSync(path)) return { ...HOOK_DEFAULTS };
  const st = statSync(path);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== uid) {
    throw new PvepatchError('config-invalid', `unable to use ${path} - it belongs to uid ${st.uid}, not root`);
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new PvepatchError(
      'config-invalid',
      `unable to use ${path} - group or others may write it (mode ${mode}); run: chmod 644 ${path}`,
    );
  }
  return parseVzdumpHookConfig(readFileSync(path, 'utf8'), path);
}
