import { readFileSync } from 'node:fs';
import { checkFileSafety } from '../config/load.js';
import { PvepatchError } from '../core/errors.js';
import { normaliseFingerprint, type TlsTrust } from '../proxmox/tls.js';
import { parseVmid } from './answer.js';
import { type ConfigLine, configLines, hasControl, pathValue, secondsValue } from './config-text.js';

/** The PBS Plus scripts' settings, on the PBS server (mode 0600: it holds an API token). */
export const PBSPLUS_CONFIG = '/etc/pvepatch/pbsplus.conf';

export interface PbsPlusConfig {
  /** The pvepatch HTTPS API on a PVE node, e.g. https://pve1:8016. */
  url: URL;
  /** `USER@REALM!TOKENID=SECRET`, sent as `Authorization: PVEAPIToken=…`. */
  token: string;
  trust: TlsTrust;
  /** Emitted as `PBS_PLUS__NAMESPACE` by an allowed PreScript. */
  namespace?: string;
  /** PBS Plus target name → vmid (`target-map <name> <vmid>`; names may hold spaces). */
  targets: Map<string, number>;
  /** PBS Plus job id → vmid (`job-map <id> <vmid>`), checked before the targets. */
  jobs: Map<string, number>;
  timeoutMs: number;
}

const KNOWN = ['url', 'token', 'fingerprint', 'ca', 'namespace-before-patch', 'target-map', 'job-map', 'timeout'];
const SINGLE = new Set(KNOWN.filter((k) => !k.endsWith('-map')));

/** Parses `key value` lines; errors name the line and key, never a value (the token). */
export function parsePbsPlusConfig(text: string, source: string, readCa = readCaFile): PbsPlusConfig {
  const seen = new Set<string>();
  const raw: Record<string, ConfigLine> = {};
  const targets = new Map<string, number>();
  const jobs = new Map<string, number>();
  const bad = (l: ConfigLine, what: string) => new PvepatchError('config-invalid', `${source} line ${l.line}: ${what}`);
  for (const l of configLines(text, source, ' ')) {
    if (!KNOWN.includes(l.key)) throw bad(l, `unknown key '${l.key}' (known: ${KNOWN.join(', ')})`);
    if (SINGLE.has(l.key)) {
      if (seen.has(l.key)) throw bad(l, `${l.key} is set twice`);
      seen.add(l.key);
      raw[l.key] = l;
      continue;
    }
    const [name, vmid] = splitMap(l.value);
    if (name === undefined || vmid === undefined) throw bad(l, `expected '${l.key} <name> <vmid>'`);
    const map = l.key === 'job-map' ? jobs : targets;
    if (map.has(name)) throw bad(l, `${l.key} names the same ${l.key === 'job-map' ? 'job' : 'target'} twice`);
    map.set(name, vmid);
  }
  const url = httpsUrl(raw.url, source);
  const token = tokenValue(raw.token, source);
  if (raw.fingerprint && raw.ca) throw bad(raw.ca, 'set fingerprint or ca, not both');
  let trust: TlsTrust;
  if (raw.fingerprint) trust = { fingerprint: normaliseFingerprint(raw.fingerprint.value) };
  else if (raw.ca) trust = { caPem: readCa(pathValue(raw.ca, source)) };
  else throw new PvepatchError('config-invalid', `${source}: no TLS trust - set 'fingerprint <sha256>' or 'ca <file>'`);
  const ns = raw['namespace-before-patch'];
  if (ns && !isNamespace(ns.value)) {
    throw bad(ns, "namespace-before-patch must be a PBS namespace ('a/b', up to 7 levels of [A-Za-z0-9_.-])");
  }
  return {
    url,
    token,
    trust,
    ...(ns ? { namespace: ns.value } : {}),
    targets,
    jobs,
    timeoutMs: raw.timeout ? secondsValue(raw.timeout, source, 1, 60) * 1000 : 5000,
  };
}

/** `<name with spaces> <vmid>`: the last word is the vmid. */
function splitMap(value: string): [string | undefined, number | undefined] {
  const at = Math.max(value.lastIndexOf(' '), value.lastIndexOf('\t'));
  if (at <= 0) return [undefined, undefined];
  const name = value.slice(0, at).trim();
  const ok = name !== '' && name.length <= 256 && !hasControl(name);
  return [ok ? name : undefined, parseVmid(value.slice(at + 1))];
}

function httpsUrl(l: ConfigLine | undefined, source: string): URL {
  if (!l) throw new PvepatchError('config-invalid', `${source}: no 'url https://<pve-node>:8016'`);
  let url: URL;
  try {
    url = new URL(l.value);
  } catch {
    throw new PvepatchError('config-invalid', `${source} line ${l.line}: url is not a URL`);
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) {
    throw new PvepatchError('config-invalid', `${source} line ${l.line}: url must be https://<host>:<port>`);
  }
  return url;
}

/** `USER@REALM!TOKENID=SECRET`, checked by its structure (the message never shows it). */
function tokenValue(l: ConfigLine | undefined, source: string): string {
  if (!l) throw new PvepatchError('config-invalid', `${source}: no 'token USER@REALM!TOKENID=SECRET'`);
  const v = l.value;
  const at = v.indexOf('@');
  const bang = v.indexOf('!');
  const eq = v.indexOf('=');
  const blank = v.includes(' ') || v.includes('\t') || hasControl(v);
  if (at < 1 || bang < at + 2 || eq < bang + 2 || eq === v.length - 1 || blank || v.length > 512) {
    throw new PvepatchError(
      'config-invalid',
      `${source} line ${l.line}: token must be USER@REALM!TOKENID=SECRET (the value is not shown)`,
    );
  }
  return v;
}

/** A PBS namespace: up to 7 levels, each [A-Za-z0-9_][A-Za-z0-9_.-]{0,31}. */
export function isNamespace(ns: string): boolean {
  const parts = ns.split('/');
  if (parts.length > 7) return false;
  return parts.every((p) => {
    if (p.length === 0 || p.length > 32 || p[0] === '.' || p[0] === '-') return false;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      const ok =
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
      if (!ok) return false;
    }
    return true;
  });
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PvepatchError('config-invalid', `unable to read CA file '${path}' - ${(err as Error).message}`);
  }
}

/** Reads the file, which holds the token: root's (or the caller's) and mode 0600, as pvepatch.conf. */
export function loadPbsPlusConfig(path = PBSPLUS_CONFIG): PbsPlusConfig {
  let text: string;
  try {
    checkFileSafety(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PvepatchError('config-invalid', `unable to read ${path} - it does not exist`);
    }
    throw err;
  }
  return parsePbsPlusConfig(text, path);
}
