import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A directory holding a stand-in `systemctl` (a real /bin/sh program) for hosts where systemd is
 * not running: `is-active -- UNIT` answers active (exit 0) for `ok.service`, `failed` (exit 3) for
 * `crashed.service`, `activating` (exit 3) for `slow.service` and `inactive` (exit 3) otherwise, as
 * systemd 252 does; `list-units` prints the file `failed.txt` next to it. `hang`: it never answers.
 */
export function stubSystemctl(
  failedListing: string,
  opts: { hang?: boolean } = {},
): { dir: string; path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-systemctl-'));
  writeFileSync(join(dir, 'failed.txt'), failedListing);
  const script = [
    '#!/bin/sh',
    ...(opts.hang ? ['exec sleep 60'] : []),
    'case "$1" in',
    '  is-active)',
    '    [ "$2" = "--" ] || { echo "stub: expected -- before the unit" >&2; exit 2; }',
    '    case "$3" in',
    '      ok.service) echo active; exit 0 ;;',
    '      crashed.service) echo failed; exit 3 ;;',
    '      slow.service) echo activating; exit 3 ;;',
    '      *) echo inactive; exit 3 ;;',
    '    esac ;;',
    `  list-units) cat '${join(dir, 'failed.txt')}'; exit 0 ;;`,
    'esac',
    'echo "stub: unknown verb $1" >&2',
    'exit 1',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'systemctl'), script);
  chmodSync(join(dir, 'systemctl'), 0o755);
  return { dir, path: `${dir}:/usr/bin:/bin`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
