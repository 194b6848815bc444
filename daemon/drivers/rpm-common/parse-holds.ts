/**
 * Holds an admin set before pvepatch came: `exclude=`/`excludepkgs=` in the [main] section of
 * dnf.conf / yum.conf, and the versionlock plugin's list. dnf and yum honour both by themselves;
 * pvepatch only reads them to report them, and never writes either file.
 */
import { isValidPackageName } from '../../core/validate.js';

/** A glob as dnf/yum accept it in excludes: package-name characters plus `*`, `?`, `[`, `]`. */
const EXCLUDE_GLOB = /^[A-Za-z0-9*?[\]][A-Za-z0-9+._@*?[\]-]{0,127}$/;

/**
 * The exclude globs of an INI config's [main] section (`exclude` is yum's name and dnf's alias of
 * `excludepkgs`); values are comma or space separated and may continue on indented lines.
 */
export function parseMainExcludes(conf: string): string[] {
  const globs: string[] = [];
  let section = '';
  let inExclude = false;
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*[#;]/.test(line) || line.trim() === '') continue;
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header?.[1]) {
      section = header[1].trim();
      inExclude = false;
      continue;
    }
    const continued: boolean = inExclude && (line.startsWith(' ') || line.startsWith('\t'));
    const kv: { key: string; value: string } | null = continued ? null : keyValue(line);
    if (!continued) inExclude = section === 'main' && ['exclude', 'excludepkgs'].includes(kv?.key.toLowerCase() ?? '');
    if (!inExclude) continue;
    const value = continued ? line : (kv?.value ?? '');
    for (const glob of value.split(/[\s,]+/)) if (EXCLUDE_GLOB.test(glob)) globs.push(glob);
  }
  return [...new Set(globs)];
}

/** `key = value` of an INI line (key: letters and `_`), or null. */
function keyValue(line: string): { key: string; value: string } | null {
  const eq = line.indexOf('=');
  if (eq < 0) return null;
  const key = line.slice(0, eq).trim();
  return /^[A-Za-z_]{1,64}$/.test(key) ? { key, value: line.slice(eq + 1).trim() } : null;
}

/**
 * Package names in a versionlock list: dnf writes `name-E:V-R.arch` (globs allowed), yum writes
 * `E:name-V-R.arch`; a leading `!` (dnf) marks an excluded version, which also holds the package.
 */
export function parseVersionlock(text: string): string[] {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const entry = raw.trim().replace(/^!/, '');
    if (entry === '' || entry.startsWith('#')) continue;
    const spec = entry.replace(/^\d+:/, '');
    const name = /^(.+)-[^-]+-[^-]+$/.exec(spec)?.[1];
    if (name && isValidPackageName(name)) names.add(name);
  }
  return [...names];
}
