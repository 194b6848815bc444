import type { ExecOptions } from '../core/exec.js';
import type { TransportExecOptions } from './types.js';

/**
 * The options of a local process that runs a guest command for a transport (`pct exec` here, or
 * `ssh … pct exec` on another node): the command's input, output and limits pass through as given.
 */
export function localExecOptions(o: TransportExecOptions, timeoutMs: number): ExecOptions {
  return {
    timeoutMs,
    ...(o.input !== undefined ? { input: o.input } : {}),
    ...(o.onOutput ? { onOutput: o.onOutput } : {}),
    ...(o.maxOutputBytes !== undefined ? { maxOutputBytes: o.maxOutputBytes } : {}),
    ...(o.overflow ? { overflow: o.overflow } : {}),
  };
}
