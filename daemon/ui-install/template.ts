/**
 * The one `<script>` line that loads the Patching panel into the Proxmox VE web UI, as pure
 * functions on the text of pve-manager's index.html.tpl. The line goes right after the line that
 * loads pvemanagerlib.js (the panel overrides its classes), with that line's indentation and line
 * ending. Lines are told apart by splitting and plain string tests, never by a regular expression.
 */

/** The URL path pveproxy serves /usr/share/pve-manager/js/pvepatch-ui.js at. */
export const UI_SCRIPT_PATH = '/pve2/js/pvepatch-ui.js';
/** What the anchor line contains. */
export const ANCHOR = 'pvemanagerlib.js';

/** The script element (without indentation): `?ver=` changes with the version, `port` is the daemon's HTTPS port. */
export function scriptElement(version: string, port: number): string {
  const query = `ver=${encodeURIComponent(version)}&port=${encodeURIComponent(String(port))}`;
  return `<script type="text/javascript" src="${UI_SCRIPT_PATH}?${query}"></script>`;
}

/** A line of ours: one script element (any attribute order or quotes) loading the panel. */
export function isPanelLine(line: string): boolean {
  const t = line.trim();
  return (
    t.startsWith('<script') &&
    t.endsWith('</script>') &&
    t.indexOf('<script', 1) < 0 &&
    (t.includes(`"${UI_SCRIPT_PATH}`) || t.includes(`'${UI_SCRIPT_PATH}`))
  );
}

function isAnchor(line: string): boolean {
  return line.includes(ANCHOR) && line.includes('<script') && !isPanelLine(line);
}

function indentOf(line: string): string {
  let n = 0;
  while (n < line.length && (line[n] === ' ' || line[n] === '\t')) n++;
  return line.slice(0, n);
}

export type WithScript = { text: string; changed: boolean } | { warning: string };

/**
 * The template with exactly one panel line, right after the anchor: added, or replacing one with
 * another version or port, or moved there from elsewhere (extra copies go). Without an anchor the
 * text is not touched: a warning naming `source` instead.
 */
export function withScript(text: string, element: string, source = 'the template'): WithScript {
  const lines = text.split('\n');
  const kept = lines.filter((l) => !isPanelLine(l));
  const at = kept.findIndex(isAnchor);
  if (at < 0) {
    return {
      warning: `${source} has no line loading ${ANCHOR} - the web UI panel is not installed (the template is left as it is)`,
    };
  }
  const anchor = kept[at]!;
  const eol = anchor.endsWith('\r') ? '\r' : '';
  kept.splice(at + 1, 0, `${indentOf(anchor)}${element}${eol}`);
  const out = kept.join('\n');
  return { text: out, changed: out !== text };
}

/** The template without any panel line (byte-identical to the text before `withScript` added one). */
export function withoutScript(text: string): { text: string; changed: boolean } {
  const lines = text.split('\n');
  const kept = lines.filter((l) => !isPanelLine(l));
  return kept.length === lines.length ? { text, changed: false } : { text: kept.join('\n'), changed: true };
}

export interface PanelLine {
  /** 1-based line number. */
  line: number;
  ver?: string;
  port?: string;
  /** Right after the anchor line. */
  afterAnchor: boolean;
}

export interface ScriptState {
  /** 1-based line number of the anchor, if there is one. */
  anchorLine?: number;
  lines: PanelLine[];
}

export function scriptState(text: string): ScriptState {
  const lines = text.split('\n');
  const anchor = lines.findIndex(isAnchor);
  const found: PanelLine[] = [];
  lines.forEach((l, i) => {
    if (!isPanelLine(l)) return;
    found.push({ line: i + 1, ...queryOf(l), afterAnchor: anchor >= 0 && i === anchor + 1 });
  });
  return { ...(anchor >= 0 ? { anchorLine: anchor + 1 } : {}), lines: found };
}

/** `ver` and `port` from the query of the panel URL in a panel line. */
function queryOf(line: string): { ver?: string; port?: string } {
  const start = line.indexOf(UI_SCRIPT_PATH) + UI_SCRIPT_PATH.length;
  if (line[start] !== '?') return {};
  const rest = line.slice(start + 1);
  let end = 0;
  while (end < rest.length && rest[end] !== '"' && rest[end] !== "'") end++;
  const out: { ver?: string; port?: string } = {};
  for (const pair of rest.slice(0, end).replaceAll('&amp;', '&').split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // shown as written
    }
    if (key === 'ver' || key === 'port') out[key] = value;
  }
  return out;
}
