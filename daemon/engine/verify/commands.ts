/**
 * The argv verification sends to a guest. systemd 252's systemctl(1): `--failed` is
 * `--state=failed`; `--plain` prints a list without the `●` bullets; `--no-legend` drops the
 * header and footer (still accepted next to the newer `--legend=no`, which systemd before 248
 * does not know, so `--no-legend` works on every systemd we meet: 219 on EL7 up); `--no-pager`
 * and `--full` keep the output whole even where a terminal is assumed.
 */

export function failedUnitsCommand(): string[] {
  return ['systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager', '--full'];
}

/** `--` ends the options: a unit such as `-.mount` is never read as one. */
export function serviceActiveCommand(unit: string): string[] {
  return ['systemctl', 'is-active', '--', unit];
}
