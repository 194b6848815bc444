import type { Command } from 'commander';
import type { ExceptionState, PackageException } from '../exceptions/types.js';
import { table } from './format.js';

type Row = PackageException & { state: ExceptionState };

/** What the exception command needs from main.ts: the API client and its printer. */
export interface ExceptionCommandDeps {
  api: () => {
    get<T>(path: string): Promise<T>;
    post<T>(path: string, body: unknown): Promise<T>;
    put<T>(path: string, body: unknown): Promise<T>;
    delete<T>(path: string): Promise<T>;
  };
  print: (data: unknown, text: () => string) => void;
}

export function exceptionsText(rows: Row[]): string {
  return table(
    ['ID', 'TARGET', 'PACKAGE', 'STATE', 'EXPIRES', 'REASON', 'BY'],
    rows.map((e) => [
      e.id,
      e.target,
      e.package,
      e.state,
      e.expires_at ?? 'never',
      e.reason,
      e.updated_by ?? e.created_by,
    ]),
  );
}

const one = (e: PackageException, verb: string) =>
  `${verb} exception ${e.id}: ${e.package} on ${e.target} - ${e.reason}${e.expires_at ? ` (until ${e.expires_at})` : ''}${e.active ? '' : ' (inactive)'}`;

/** `--expires never` clears an expiry. */
const expiry = (v: string | undefined) => (v === undefined ? {} : { expires_at: v === 'never' ? null : v });

/**
 * `pvepatch exception list|add|set|rm`: packages kept back on a guest (vmid), a tag (tag:web) or a
 * pool (pool:prod), with a reason and an optional expiry.
 */
export function addExceptionCommand(program: Command, deps: ExceptionCommandDeps): Command {
  const cmd = program
    .command('exception')
    .description('package exceptions: packages every plan and run keeps back, with a reason and an expiry');
  cmd
    .command('list')
    .description('every exception you may see, with its state (active, inactive, expired)')
    .action(async () => {
      const rows = await deps.api().get<Row[]>('/exceptions');
      deps.print(rows, () => exceptionsText(rows));
    });
  cmd
    .command('add')
    .argument('<target>', 'a vmid, tag:<tag> or pool:<pool>')
    .argument('<package>', 'a package name or glob (linux-image-*)')
    .requiredOption('--reason <text>', 'why (shown in every plan and run it affects)')
    .option('--expires <time>', 'ISO date or time after which it no longer applies')
    .option('--inactive', 'record it without applying it yet')
    .action(async (target: string, pkg: string, o: { reason: string; expires?: string; inactive?: boolean }) => {
      const e = await deps.api().post<PackageException>('/exceptions', {
        target,
        package: pkg,
        reason: o.reason,
        ...expiry(o.expires),
        active: !o.inactive,
      });
      deps.print(e, () => one(e, 'added'));
    });
  cmd
    .command('set')
    .argument('<id>')
    .option('--package <name>', 'another package name or glob')
    .option('--reason <text>')
    .option('--expires <time>', "ISO date or time, or 'never'")
    .option('--active', 'apply it')
    .option('--inactive', 'keep it but stop applying it')
    .action(
      async (
        id: string,
        o: { package?: string; reason?: string; expires?: string; active?: boolean; inactive?: boolean },
      ) => {
        const e = await deps.api().put<PackageException>(`/exceptions/${encodeURIComponent(id)}`, {
          ...(o.package !== undefined ? { package: o.package } : {}),
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...expiry(o.expires),
          ...(o.active ? { active: true } : o.inactive ? { active: false } : {}),
        });
        deps.print(e, () => one(e, 'changed'));
      },
    );
  cmd
    .command('rm')
    .argument('<id>')
    .description('delete an exception')
    .action(async (id: string) => {
      const e = await deps.api().delete<PackageException>(`/exceptions/${encodeURIComponent(id)}`);
      deps.print(e, () => one(e, 'deleted'));
    });
  return cmd;
}
