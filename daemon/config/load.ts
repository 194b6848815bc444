import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { PvepatchError } from '../core/errors.js';
import { CONFIG_KEYS, type Config, ConfigSchema } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/pvepatch/pvepatch.conf';
const DEFAULT_PVE_CA = '/etc/pve/pve-root-ca.pem';

/** Parses `key: value` lines (as /etc/vzdump.conf); '#' starts a comment. */
export function parseConfigText(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_]+)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new PvepatchError('config-invalid', `${source} line ${i + 1}: expected 'key: value', got '${line}'`);
    const key = m[1]!;
    if (!(CONFIG_KEYS as string[]).includes(key)) {
      throw new PvepatchError(
        'config-invalid',
        `${source} line ${i + 1}: unknown key '${key}' (known: ${CONFIG_KEYS.join(', ')})`,
      );
    }
    out[key] = m[2]!.trim();
  }
  return out;
}

export interface LoadOptions {
  /** Explicit path (--config); a missing explicit file is an error, a missing default file is not. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? env.PVEPATCH_CONFIG;
  const path = explicit ?? DEFAULT_CONFIG_PATH;
  let fromFile: Record<string, string> = {};
  if (existsSync(path)) fromFile = parseConfigText(readFileSync(path, 'utf8'), path);
  else if (explicit)
    throw new PvepatchError('config-invalid', `unable to read config file '${path}' - it does not exist`);
  const fromEnv: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[`PVEPATCH_${key.toUpperCase()}`];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const parsed = ConfigSchema.safeParse({ ...fromFile, ...fromEnv });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new PvepatchError('config-invalid', `invalid configuration (${path} and PVEPATCH_* variables) - ${problems}`);
  }
  return parsed.data;
}

export interface DaemonSettings {
  token: string;
  trust: { fingerprint?: string; caPem?: string };
  node: string;
}

/** What only the daemon needs: a token, a TLS trust anchor and the local node name. */
export function daemonSettings(cfg: Config): DaemonSettings {
  if (!cfg.pve_token) {
    throw new PvepatchError(
      'config-invalid',
      "no API token configured - set 'pve_token: USER@REALM!ID=SECRET' in the config file or PVEPATCH_PVE_TOKEN",
    );
  }
  const node = cfg.node ?? hostname().split('.')[0]!;
  if (cfg.pve_fingerprint) return { token: cfg.pve_token, trust: { fingerprint: cfg.pve_fingerprint }, node };
  const caPath = cfg.pve_ca ?? DEFAULT_PVE_CA;
  let caPem: string;
  try {
    caPem = readFileSync(caPath, 'utf8');
  } catch (err) {
    throw new PvepatchError(
      'config-invalid',
      `unable to read CA file '${caPath}' - ${(err as Error).message}; set pve_ca or pve_fingerprint`,
    );
  }
  return { token: cfg.pve_token, trust: { caPem }, node };
}
