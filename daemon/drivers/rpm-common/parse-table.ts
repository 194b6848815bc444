/**
 * Column output that dnf and yum share. Both format rows with the same `fmtColumns` rule: a value
 * wider than its column ends the line, and the rest of the row continues on the next line,
 * indented. Rows are therefore rebuilt from a line and its indented continuations before they are
 * split into fields.
 */
import { isValidPackageName } from '../../core/validate.js';
import { isEvr } from './parse.js';

export type TableAction = 'install' | 'upgrade' | 'downgrade' | 'reinstall' | 'remove' | 'skip';

export interface TableEntry {
  action: TableAction;
  name: string;
  arch: string;
  /** `[E:]V-R` of the package the action installs (or, for removals, the one it removes). */
  evr: string;
  repository: string;
}

const ARCH = /^[A-Za-z0-9_]+$/;
const EVR = { test: isEvr };

/** dnf (`Upgrading:`, `Installing dependencies:`…) and yum (`Updating:`, `Installing for dependencies:`…). */
function sectionAction(header: string): TableAction | null {
  if (/module|group|environment/i.test(header)) return null;
  if (/^Install/.test(header)) return 'install';
  if (/^(Upgrad|Updat)/.test(header)) return 'upgrade';
  if (/^Downgrad/.test(header)) return 'downgrade';
  if (/^Reinstall/.test(header)) return 'reinstall';
  if (/^(Remov|Eras)/.test(header)) return 'remove';
  if (/^(Skipp|Not installed|Not available)/.test(header)) return 'skip';
  return null;
}

/**
 * Parses the transaction table that `dnf upgrade` / `yum update` print before they ask (also with
 * `--assumeno`). Obsoleted packages (`replacing  name.arch evr` lines) become removals. Rows that
 * do not parse are returned in `unparsed`, never guessed at.
 */
export function parseTransactionTable(output: string): { entries: TableEntry[]; unparsed: string[] } {
  const entries: TableEntry[] = [];
  const unparsed: string[] = [];
  let action: TableAction | null = null;
  let row: string | null = null;
  const flush = () => {
    if (row !== null && action !== null) {
      const entry = tableRow(action, row);
      if (entry) entries.push(entry);
      else unparsed.push(row.trim());
    }
    row = null;
  };
  for (const line of output.split('\n')) {
    const replacing = /^\s+replacing\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (action !== null && replacing) {
      flush();
      const obsoleted = nameArch(replacing[1] ?? '');
      if (obsoleted) entries.push({ action: 'remove', ...obsoleted, evr: replacing[2] ?? '', repository: '' });
      continue;
    }
    if (/^ \S/.test(line)) {
      flush();
      row = line;
    } else if (/^ {2,}\S/.test(line) && row !== null) {
      row += ` ${line.trim()}`;
    } else {
      flush();
      const header = /^(\S[^:]*):\s*$/.exec(line)?.[1];
      action = header === undefined ? null : sectionAction(header);
    }
  }
  flush();
  return { entries, unparsed };
}

function tableRow(action: TableAction, row: string): TableEntry | null {
  const [name, arch, evr, repository] = row.trim().split(/\s+/);
  if (!name || !arch || !evr || !isValidPackageName(name) || !ARCH.test(arch) || !EVR.test(evr)) return null;
  return { action, name, arch, evr, repository: repository ?? '' };
}

/** `name.arch` → parts, or null. */
export function nameArch(text: string): { name: string; arch: string } | null {
  const dot = text.lastIndexOf('.');
  const name = text.slice(0, dot);
  const arch = text.slice(dot + 1);
  return dot > 0 && isValidPackageName(name) && ARCH.test(arch) ? { name, arch } : null;
}

export interface ListedPackage {
  name: string;
  arch: string;
  evr: string;
  repository: string;
}

/**
 * `name.arch  evr  repo` rows as `yum check-update` / `dnf check-update` print them, up to the
 * `Obsoleting Packages` section. Headers, plugin chatter and `Security:` notes are skipped: a row
 * must have exactly three fields of the right shape.
 */
export function parsePackageColumns(stdout: string): ListedPackage[] {
  const rows: string[] = [];
  for (const line of stdout.split('\n')) {
    if (/^Obsoleting Packages/.test(line)) break;
    if (/^\s+\S/.test(line) && rows.length > 0) rows[rows.length - 1] += ` ${line.trim()}`;
    else rows.push(line);
  }
  const list: ListedPackage[] = [];
  for (const row of rows) {
    const fields = row.trim().split(/\s+/);
    const na = fields.length === 3 ? nameArch(fields[0] ?? '') : null;
    const evr = fields[1] ?? '';
    if (na && EVR.test(evr) && fields[2]) list.push({ ...na, evr, repository: fields[2] });
  }
  return list;
}
