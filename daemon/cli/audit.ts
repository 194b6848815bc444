import type { Command } from 'commander';
import type { AuditEntry } from '../audit/audit-log.js';
import { table } from './format.js';

/** What the audit command needs from main.ts: the API client and its printer. */
export interface AuditCommandDeps {
  api: () => { get<T>(path: string, query?: Record<string, string | number | string[]>): Promise<T> };
  print: (data: unknown, text: () => string) => void;
}

export function auditText(entries: AuditEntry[]): string {
  return table(
    ['TIME', 'USER', 'VIA', 'ACTION', 'TARGET', 'OUTCOME'],
    entries.map((e) => [
      e.time,
      e.user,
      e.via === 'https' ? `https ${e.source}` : e.via,
      e.action,
      e.target,
      e.outcome,
    ]),
  );
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new Error(`--limit must be an integer from 1 to 1000, not '${v}'`);
  return n;
}

/** Adds `pvepatch audit [--since] [--until] [--user] [--action] [--limit]`. */
export function addAuditCommand(program: Command, deps: AuditCommandDeps): Command {
  return program
    .command('audit')
    .description('list the audit log of mutating actions, newest first')
    .option('--since <time>', 'entries from this time on: ISO time or a duration back from now (30m, 2h, 7d)')
    .option('--until <time>', 'entries up to this time: ISO time or a duration back from now')
    .option('--user <userid>', 'only this user or token id (root@pam, user@pve!token)')
    .option('--action <action>', "only this action, or a family with a trailing '.*' (run.*)")
    .option('--limit <n>', 'at most this many entries (1-1000, default 100)', positiveInt)
    .action(async (o: { since?: string; until?: string; user?: string; action?: string; limit?: number }) => {
      const query: Record<string, string | number> = {};
      for (const k of ['since', 'until', 'user', 'action', 'limit'] as const) {
        const v = o[k];
        if (v !== undefined) query[k] = v;
      }
      const entries = await deps.api().get<AuditEntry[]>('/audit', query);
      deps.print(entries, () => auditText(entries));
    });
}
