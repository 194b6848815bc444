import { escapeControls } from './escape.js';

/**
 * Daemon log lines on stdout with syslog priority prefixes (<3> error, <4> warning, <6> info),
 * which journald reads by default; journald adds time and unit. A message is always one line:
 * newlines and other control characters (which could forge another entry and its priority) are
 * escaped.
 */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  return {
    info: (m) => write(`<6>${escapeControls(m)}`),
    warn: (m) => write(`<4>${escapeControls(m)}`),
    error: (m) => write(`<3>${escapeControls(m)}`),
  };
}
