/**
 * Exclusions on apk are world pins. /etc/apk/world lists the constraints every apk run must
 * satisfy (`name`, `name@tag`, `name=1.2-r0`, `name<2`, `!name`…); a `name=<installed version>`
 * entry is a hard constraint, so `apk upgrade` keeps that package and holds back whatever would
 * need a newer one. (`apk upgrade --ignore` was not used: in the solver it is only a preference
 * for the installed version, which a dependency can override.)
 *
 * Sequence: record the holds → `cp -p` the world to /etc/apk/world.pvepatch → write the pinned
 * world beside it and rename it over the world → upgrade → rename the backup back (the exact
 * original bytes, mode and owner) → clear the record. The backup is its own crash marker: it is
 * restored before every upgrade and by `releaseHolds`.
 */

/** World entries, one per whitespace-separated token (apk 2.14 writes one a line, older ones one line). */
export function parseWorld(text: string): string[] {
  return text.split(/\s+/).filter((t) => t.length > 0);
}

/** The package name an entry constrains, its `@tag` and whether it is a conflict (`!name`). */
export function worldEntry(token: string): { name: string; tag: string; conflict: boolean } {
  const conflict = token.startsWith('!');
  const m = /^([^@<>=~]+)(@[^<>=~]+)?/.exec(conflict ? token.slice(1) : token);
  return { name: m?.[1] ?? '', tag: m?.[2] ?? '', conflict };
}

/** The admin's holds: entries that constrain a version (`=`, `<`, `>`, `~`, checksum pins). */
export function adminHolds(world: string[]): string[] {
  return world.filter((t) => !t.startsWith('!') && /[<>=~]/.test(t));
}

/**
 * The world with each pinned name constrained to exactly its installed version: existing entries
 * for that name are replaced (their `@tag` kept), conflicts (`!name`) left alone, and a name
 * that was only a dependency is added. One entry a line, as apk writes it.
 */
export function pinWorld(world: string[], pins: ReadonlyMap<string, string>): string {
  const tokens: string[] = [];
  const done = new Set<string>();
  for (const token of world) {
    const entry = worldEntry(token);
    const version = pins.get(entry.name);
    if (entry.conflict || version === undefined) tokens.push(token);
    else if (!done.has(entry.name)) {
      tokens.push(`${entry.name}${entry.tag}=${version}`);
      done.add(entry.name);
    }
  }
  for (const [name, version] of pins) if (!done.has(name)) tokens.push(`${name}=${version}`);
  return `${tokens.join('\n')}\n`;
}
