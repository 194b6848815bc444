import type { Command } from 'commander';
import type { Setting, SettingsResult } from '../config/settings.js';
import { PvepatchError } from '../core/errors.js';
import { table } from './format.js';

/** What the settings command needs from main.ts: the API client and its printer. */
export interface SettingsCommandDeps {
  api: () => {
    get<T>(path: string): Promise<T>;
    put<T>(path: string, body: unknown): Promise<T>;
  };
  print: (data: unknown, text: () => string) => void;
}

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length ? v.join(',') : '-';
  return String(v);
}

export function settingsText(rows: Setting[]): string {
  return table(
    ['KEY', 'VALUE', 'SOURCE', 'RESTART'],
    rows.map((r) => [
      r.key,
      r.pending === undefined ? valueText(r.value) : `${valueText(r.value)} (next: ${valueText(r.pending)})`,
      r.source,
      r.need_restart ? 'yes' : 'no',
    ]),
  );
}

export function settingsResultText(r: SettingsResult): string {
  const lines = [`applied: ${r.applied.length ? r.applied.join(', ') : 'nothing'}`];
  if (r.need_restart.length) lines.push(`need a restart (systemctl restart pvepatchd): ${r.need_restart.join(', ')}`);
  return lines.join('\n');
}

/** `key=value` words as a map; the value may itself contain '='. */
export function parseAssignments(words: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new PvepatchError('input-invalid', `expected key=value, not '${w}'`);
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Adds `pvepatch settings` and `pvepatch settings set key=value … [--unset key]`. */
export function addSettingsCommand(program: Command, deps: SettingsCommandDeps): Command {
  const settings = program
    .command('settings')
    .description("the daemon's configuration: each key's value, where it comes from, whether a change needs a restart")
    .action(async () => {
      const rows = await deps.api().get<Setting[]>('/settings');
      deps.print(rows, () => settingsText(rows));
    });
  settings
    .command('set')
    .argument('[assignments...]', 'key=value')
    .option('--unset <key>', 'remove a key from the config file (its default applies); repeatable', collect, [])
    .description('change keys in the config file and apply them (secrets and paths: edit the file as root)')
    .action(async (words: string[], o: { unset: string[] }) => {
      const set = parseAssignments(words);
      if (Object.keys(set).length === 0 && o.unset.length === 0)
        throw new PvepatchError('input-invalid', 'nothing to change - give key=value or --unset key');
      const result = await deps.api().put<SettingsResult>('/settings', { set, delete: o.unset });
      deps.print(result, () => settingsResultText(result));
    });
  return settings;
}
