/**
 * `pvepatch ui install|remove|status` on the files: pve-manager's index.html.tpl gets (or loses) the
 * panel's `<script>` line, written to a temporary file beside it and renamed over it with the
 * original's mode and owner; nothing is written when nothing changes. pveproxy renders the template
 * afresh for every request (PVE/Service/pveproxy.pm `get_index` makes a new Template object each
 * time), so no reload is needed. A host without the template (a Proxmox Backup Server) is not an
 * error: there is nothing to do.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../core/errors.js';
import { replaceFile } from '../core/replace-file.js';
import { type PanelLine, scriptElement, scriptState, withoutScript, withScript } from './template.js';

export const DEFAULT_TEMPLATE = '/usr/share/pve-manager/index.html.tpl';
export const DEFAULT_JS_DIR = '/usr/share/pve-manager/js';
export const UI_FILE = 'pvepatch-ui.js';

export interface UiPaths {
  template: string;
  jsDir: string;
}

/** --template/--js-dir, else PVEPATCH_UI_TEMPLATE/PVEPATCH_UI_JS_DIR, else pve-manager's paths. */
export function uiPaths(opts: Partial<UiPaths> = {}, env: NodeJS.ProcessEnv = process.env): UiPaths {
  return {
    template: opts.template ?? (env.PVEPATCH_UI_TEMPLATE || DEFAULT_TEMPLATE),
    jsDir: opts.jsDir ?? (env.PVEPATCH_UI_JS_DIR || DEFAULT_JS_DIR),
  };
}

export interface UiResult {
  action: 'added' | 'updated' | 'unchanged' | 'removed' | 'no-template' | 'no-anchor';
  template: string;
  /** What to print: one line each. */
  messages: string[];
  /** Set for 'no-anchor': the template cannot take the line (printed on stderr, exit 0). */
  warning?: string;
}

const notPve = (template: string) =>
  `${template} does not exist - not a Proxmox VE host (pve-manager is not installed), nothing to do`;

export function installUi(paths: UiPaths, version: string, port: number): UiResult {
  const { template } = paths;
  if (!existsSync(template)) return { action: 'no-template', template, messages: [notPve(template)] };
  const js = join(paths.jsDir, UI_FILE);
  if (!existsSync(js)) {
    throw new PvepatchError(
      'not-found',
      `unable to install the web UI panel - ${js} is missing; reinstall the package (apt install --reinstall pvepatch)`,
    );
  }
  const text = readTemplate(template);
  const before = scriptState(text).lines;
  const res = withScript(text, scriptElement(version, port), template);
  if ('warning' in res) return { action: 'no-anchor', template, messages: [], warning: res.warning };
  const what = `ver ${version}, port ${port}`;
  if (!res.changed)
    return { action: 'unchanged', template, messages: [`${template}: panel script line present (${what})`] };
  writeAtomic(template, res.text);
  const action = before.length === 0 ? 'added' : 'updated';
  return { action, template, messages: [`${template}: panel script line ${action} (${what})`] };
}

export function removeUi(paths: UiPaths): UiResult {
  const { template } = paths;
  if (!existsSync(template)) return { action: 'no-template', template, messages: [notPve(template)] };
  const res = withoutScript(readTemplate(template));
  if (!res.changed) return { action: 'unchanged', template, messages: [`${template}: no panel script line`] };
  writeAtomic(template, res.text);
  return { action: 'removed', template, messages: [`${template}: panel script line removed`] };
}

export interface UiStatus {
  template: string;
  /** False on a host without pve-manager: then nothing else is looked at. */
  pve: boolean;
  anchor: boolean;
  /** The panel lines found (normally none or one). */
  lines: PanelLine[];
  /** One line, right after the anchor, with this version and port. */
  current: boolean;
  expected: { ver: string; port: string };
  js: { path: string; present: boolean };
}

export function uiStatus(paths: UiPaths, version: string, port: number): UiStatus {
  const js = join(paths.jsDir, UI_FILE);
  const expected = { ver: version, port: String(port) };
  const base = { template: paths.template, expected, js: { path: js, present: existsSync(js) } };
  if (!existsSync(paths.template)) return { ...base, pve: false, anchor: false, lines: [], current: false };
  const state = scriptState(readTemplate(paths.template));
  const [only, ...more] = state.lines;
  const current =
    only !== undefined && more.length === 0 && only.afterAnchor && only.ver === version && only.port === expected.port;
  return { ...base, pve: true, anchor: state.anchorLine !== undefined, lines: state.lines, current };
}

export function statusText(s: UiStatus): string {
  if (!s.pve) return notPve(s.template);
  const out = [`template:    ${s.template}`];
  if (s.lines.length === 0) out.push('script line: absent');
  for (const l of s.lines) {
    const where = l.afterAnchor ? '' : ', not after the pvemanagerlib.js line';
    out.push(`script line: present (line ${l.line}, ver ${l.ver ?? '-'}, port ${l.port ?? '-'}${where})`);
  }
  if (!s.anchor) out.push('anchor:      no line loads pvemanagerlib.js - the panel cannot be installed here');
  out.push(
    s.current
      ? `current:     yes (ver ${s.expected.ver}, port ${s.expected.port})`
      : `current:     no - expected ver ${s.expected.ver}, port ${s.expected.port}; run 'pvepatch ui install'`,
  );
  out.push(`panel file:  ${s.js.path} ${s.js.present ? 'present' : 'missing'}`);
  return out.join('\n');
}

function readTemplate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PvepatchError('not-found', `unable to read ${path} - ${(err as Error).message}`);
  }
}

/** A temporary file beside the template, with its mode and owner, renamed over it: pveproxy never reads half a file. */
function writeAtomic(path: string, text: string): void {
  try {
    replaceFile(path, text);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EACCES' || e.code === 'EPERM')
      throw new PvepatchError('forbidden', `unable to write ${path} - permission denied; run it as root`);
    throw new PvepatchError('internal', `unable to write ${path} - ${e.message}`);
  }
}
