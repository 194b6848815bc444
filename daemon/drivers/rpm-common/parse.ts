/**
 * Pure parsers for what dnf, yum and rpm print that both drivers read (C locale): installed
 * packages, NEVRA strings, updateinfo lists, `check`, needs-restarting, rpm's transaction lock and
 * failure causes. Linear in their input; names are checked with the package-name rule; a line
 * that does not parse is skipped, never guessed at.
 */
import { isValidPackageName } from '../../core/validate.js';
import { isDigits } from '../shared/parse.js';

export interface InstalledRpm {
  name: string;
  arch: string;
  /** `[E:]V-R`, the epoch only when it is set (as dnf and yum print versions). */
  evr: string;
}

/** Parses `installedCommand` output; gpg-pubkey pseudo-packages and invalid names are left out. */
export function parseInstalled(stdout: string): InstalledRpm[] {
  const list: InstalledRpm[] = [];
  for (const line of stdout.split('\n')) {
    const [name, arch, evr] = line.split('\t', 3);
    if (!name || !arch || !evr || name === 'gpg-pubkey' || !isValidPackageName(name)) continue;
    list.push({ name, arch, evr });
  }
  return list;
}

export interface Nevra {
  name: string;
  evr: string;
  arch: string;
}

function isArch(text: string): boolean {
  return text.length > 0 && text.length <= 32 && /^[A-Za-z0-9_]+$/.test(text);
}

/** `[E:]V-R` with no dash or colon inside V and R (E numeric). */
export function isEvr(text: string): boolean {
  if (text.length === 0 || text.length > 256 || text.includes(' ')) return false;
  const colon = text.indexOf(':');
  if (colon >= 0 && !isDigits(text.slice(0, colon))) return false;
  const vr = text.slice(colon + 1);
  const dash = vr.indexOf('-');
  return dash > 0 && dash < vr.length - 1 && !vr.includes('-', dash + 1) && !vr.includes(':');
}

/** `name-[E:]V-R.arch` as dnf and yum print packages (updateinfo lists, check output). */
export function parseNevra(text: string): Nevra | null {
  if (text.length > 400) return null;
  const dot = text.lastIndexOf('.');
  const relDash = text.lastIndexOf('-', dot);
  const verDash = relDash > 0 ? text.lastIndexOf('-', relDash - 1) : -1;
  if (dot < 0 || verDash <= 0) return null;
  const name = text.slice(0, verDash);
  const evr = text.slice(verDash + 1, dot);
  const arch = text.slice(dot + 1);
  if (!isValidPackageName(name) || !isEvr(evr) || !isArch(arch)) return null;
  return { name, evr, arch };
}

const ADVISORY_ID = /^[A-Za-z0-9][\w.:-]{0,127}$/;
/** `Important/Sec.`, `security`, `bugfix`, `enhancement`, `newpackage`, `unknown`. */
const ADVISORY_TYPE = /^(?:[A-Za-z]{1,32}\/Sec\.|[a-z]{1,32})$/;

export interface Advisory {
  id: string;
  /** `Important/Sec.`, `security`, `bugfix`, `enhancement`… */
  type: string;
  security: boolean;
  name: string;
  evr: string;
}

/**
 * `updateinfo list` lines, `ID TYPE NEVRA` (dnf 4 and yum 3.4.3 share the format; `--all`/`all`
 * adds an `i ` mark, `-v` a date). A security advisory's type is `<Severity>/Sec.` or, without a
 * severity, `security` (yum) / `Unknown/Sec.` (dnf).
 */
export function parseUpdateinfoList(stdout: string): Advisory[] {
  const list: Advisory[] = [];
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'i' && fields.length >= 4) fields.shift();
    const [id, type, nevra] = fields;
    const pkg = nevra ? parseNevra(nevra) : null;
    if (!id || !type || !pkg || !ADVISORY_ID.test(id) || !ADVISORY_TYPE.test(type)) continue;
    list.push({ id, type, security: type.endsWith('/Sec.') || type === 'security', name: pkg.name, evr: pkg.evr });
  }
  return list;
}

/**
 * `dnf check` / `yum check`: one problem per line on stdout ("demo-app-1.0-1.noarch has missing
 * requires of demo-lib >= 1.0"); the closing "Error: Check discovered N problem(s)" is stderr.
 */
export function parseCheck(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export interface RebootHint {
  required: boolean;
  /** The core packages it names (`  * kernel` in dnf, `  kernel -> 3.10.0-…` in yum-utils). */
  packages: string[];
}

/**
 * `needs-restarting -r` (dnf-plugins-core and yum-utils): "Reboot is required…" with the packages
 * indented below, or "Reboot should not be necessary." / "Reboot is probably not necessary.".
 * Anything else (no such command, an old version without -r, a lock) is null: no answer.
 */
export function parseRebootHint(stdout: string): RebootHint | null {
  if (stdout.includes('Reboot should not be necessary') || stdout.includes('Reboot is probably not necessary')) {
    return { required: false, packages: [] };
  }
  if (!stdout.includes('Reboot is required')) return null;
  const packages = new Set<string>();
  for (const raw of stdout.split('\n')) {
    if (!raw.startsWith(' ') && !raw.startsWith('\t')) continue;
    const words = raw.trim().split(/\s+/);
    const name = words[0] === '*' ? words[1] : words[0];
    if (name && isValidPackageName(name)) packages.add(name);
  }
  return { required: true, packages: [...packages] };
}

const SERVICE = /^[A-Za-z0-9:_.@\\-]{1,200}\.service$/;

/** systemd unit names as `needs-restarting -s` prints them, one per line. */
export function parseServices(stdout: string): string[] {
  const units = new Set<string>();
  for (const line of stdout.split('\n')) {
    const unit = line.trim();
    if (SERVICE.test(unit)) units.add(unit);
  }
  return [...units].sort();
}

const RPM_LOCK = "can't create transaction lock on ";

/** rpm's "can't create transaction lock on FILE (reason)"; null when absent. */
export function parseRpmLock(output: string): string | null {
  const at = output.indexOf(RPM_LOCK);
  if (at < 0) return null;
  const start = at + RPM_LOCK.length;
  let end = start;
  while (end < output.length && end - start < 4096 && !' \t\n'.includes(output[end]!)) end++;
  return end > start ? output.slice(start, end) : null;
}

const EARLIER_ERRORS = ['Error in ', 'error: ', 'RPM: error: '];

/**
 * dnf's and yum's final word on a failure: the text after the first `Error:` (continued by the
 * next line when it ends in `:`), with an earlier scriptlet or rpm error in parentheses; else the
 * first line on stderr; null when neither printed anything.
 */
export function failureCause(stdout: string, stderr = ''): string | null {
  const lines = `${stdout}\n${stderr}`.split('\n').map((l) => l.trim());
  const at = lines.findIndex((l) => l.startsWith('Error:'));
  if (at >= 0) {
    let text = lines[at]!.slice('Error:'.length).trim();
    const next = lines.slice(at + 1, at + 50).find((l) => l.length > 0);
    if ((text === '' || text.endsWith(':')) && next) text = text ? `${text} ${next}` : next;
    const earlier = lines.slice(0, at).find((l) => EARLIER_ERRORS.some((p) => l.startsWith(p)));
    if (text) return earlier ? `${text} (${earlier})` : text;
  }
  return (
    stderr
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? null
  );
}
