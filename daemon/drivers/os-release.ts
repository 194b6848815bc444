/** The os-release(5) fields pvepatch uses; absent fields are null (ID_LIKE: empty). */
export interface OsRelease {
  id: string | null;
  idLike: string[];
  prettyName: string | null;
  versionId: string | null;
}

/** A guest decides what its os-release says; pvepatch keeps at most this much of a field. */
const MAX_FIELD = 200;

/**
 * Parses os-release(5): `KEY=value` lines, values optionally in double quotes (with `\"`, `\\`,
 * `\$`, `` \` `` escapes) or single quotes; comments and malformed lines are ignored.
 */
export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    fields.set(m[1], unquote(m[2]));
  }
  const id = fields.get('ID')?.toLowerCase().slice(0, MAX_FIELD) || null;
  const idLike = (fields.get('ID_LIKE') ?? '')
    .toLowerCase()
    .slice(0, MAX_FIELD)
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .slice(0, 10);
  return {
    id,
    idLike,
    prettyName: (fields.get('PRETTY_NAME') || fields.get('NAME') || '').slice(0, MAX_FIELD) || null,
    versionId: fields.get('VERSION_ID')?.slice(0, MAX_FIELD) || null,
  };
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v;
}
