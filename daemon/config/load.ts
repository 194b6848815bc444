import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { z } from 'zod';
import { PvepatchError } from '../core/errors.js';
import { CONFIG_KEYS, type Config, ConfigSchema, envName } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/pvepatch/pvepatch.conf';
const DEFAULT_PVE_CA = '/etc/pve/pve-root-ca.pem';

/**
 * Parses `key: value` lines (as /etc/vzdump.conf); '#' starts a comment. Errors name the line and
 * the key, never a value: the file holds the API token.
 */
export function parseConfigText(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[a-z_]{1,64}$/.test(key)) {
      throw new PvepatchError(
        'config-invalid',
        `${source} line ${i + 1}: expected 'key: value' (the line is not shown, it may hold a secret)`,
      );
    }
    if (!(CONFIG_KEYS as string[]).includes(key)) {
      throw new PvepatchError(
        'config-invalid',
        `${source} line ${i + 1}: unknown key '${key}' (known: ${CONFIG_KEYS.join(', ')})`,
      );
    }
    out[key] = line.slice(colon + 1).trim();
  }
  return out;
}

export interface LoadOptions {
  /** Explicit path (--config); a missing explicit file is an error, a missing default file is not. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

/** The config file `loadConfig` reads: --config, else PVEPATCH_CONFIG, else the default path. */
export function configPathOf(opts: LoadOptions = {}): string {
  return opts.path ?? (opts.env ?? process.env).PVEPATCH_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** The keys the environment sets (PVEPATCH_<KEY>, non-empty), which win over the file. */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const fromEnv: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[envName(key)];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  return fromEnv;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? env.PVEPATCH_CONFIG;
  const path = configPathOf(opts);
  let fromFile: Record<string, string> = {};
  if (existsSync(path)) {
    checkFileSafety(path);
    fromFile = parseConfigText(readFileSync(path, 'utf8'), path);
  } else if (explicit)
    throw new PvepatchError('config-invalid', `unable to read config file '${path}' - it does not exist`);
  const parsed = ConfigSchema.safeParse({ ...fromFile, ...configFromEnv(env) });
  if (!parsed.success) {
    const problems = schemaProblems(parsed.error);
    throw new PvepatchError('config-invalid', `invalid configuration (${path} and PVEPATCH_* variables) - ${problems}`);
  }
  return parsed.data;
}

/** A schema error as `key: message; …` - zod's messages name the rule, never the value. */
export function schemaProblems(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
}

/**
 * The config file holds the API token and decides what the root daemon runs: it must belong to
 * root (or, for a CLI run by another user, to that user) and be readable by its owner only.
 */
export function checkFileSafety(path: string, uid = process.getuid?.() ?? 0): void {
  const st = statSync(path);
  if (st.uid !== 0 && st.uid !== uid) {
    throw new PvepatchError(
      'config-invalid',
      `unable to use config file '${path}' - it belongs to uid ${st.uid}, not root; run: chown root:root ${path}`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new PvepatchError(
      'config-invalid',
      `unable to use config file '${path}' - group or others may access it (mode ${mode}) and it holds the API token; run: chmod 600 ${path}`,
    );
  }
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
  if (cfg.pve_fingerprint && cfg.pve_ca) {
    throw new PvepatchError(
      'config-invalid',
      'both pve_ca and pve_fingerprint are set - pin the certificate (pve_fingerprint) or trust a CA (pve_ca), not both',
    );
  }
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
