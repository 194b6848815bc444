import { PvepatchError } from '../core/errors.js';
import {
  checkFileSafety,
  configFromEnv,
  configPathOf,
  type LoadOptions,
  parseConfigText,
  schemaProblems,
} from './load.js';
import {
  CONFIG_KEYS,
  type Config,
  type ConfigKey,
  ConfigSchema,
  envName,
  FILE_ONLY_KEYS,
  RESTART_KEYS,
  SECRET_KEYS,
} from './schema.js';
import { type ConfigEdit, readConfigText, rewriteConfigText, writeConfigFile } from './write.js';

/** Where a key's value comes from; the environment wins over the file, the file over the default. */
export type SettingSource = 'default' | 'file' | 'env';

/** One config key as the settings API shows it. */
export interface Setting {
  key: ConfigKey;
  /** The value the daemon runs with; for a secret only "(set)" or null. */
  value: unknown;
  source: SettingSource;
  /** A change only takes effect when the daemon restarts. */
  need_restart: boolean;
  /** Set only by root in the config file (a secret, or what the root daemon runs, reads or trusts). */
  file_only: boolean;
  /** The value the file and environment say now, when it differs from the running one (not for secrets). */
  pending?: unknown;
}

/** A change as the API takes it: values as they would be written in the file. */
export interface SettingsChange {
  set: Record<string, string | number | boolean>;
  delete: string[];
}

export interface SettingsResult {
  /** Keys the daemon now runs with. */
  applied: string[];
  /** Keys written to the file that take effect at the next restart (this change's and earlier ones). */
  need_restart: string[];
}

export interface ConfigSettingsDeps {
  /** How the daemon read its config: the file and the environment it will read again. */
  source: LoadOptions;
  /** The config the daemon runs with now. */
  current: () => Config;
  /** Applies a new config at runtime (the daemon's reload). */
  apply: (next: Config) => { applied: string[]; needRestart: string[] };
}

const MAX_VALUE = 4096;

/** Control characters would break the one-line format (a newline could add a key). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function shown(key: ConfigKey, value: unknown): unknown {
  if (SECRET_KEYS.has(key)) return value === undefined || value === '' ? null : '(set)';
  return value ?? null;
}

/**
 * The daemon's settings: every key with its value and source, and changes written to the config
 * file (atomically, keeping its comments and order) and applied through the daemon's reload.
 * Changes are serialised; a secret or file-only key, or one the environment sets, is refused.
 */
export class ConfigSettings {
  private readonly deps: ConfigSettingsDeps;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(deps: ConfigSettingsDeps) {
    this.deps = deps;
  }

  get path(): string {
    return configPathOf(this.deps.source);
  }

  private get env(): NodeJS.ProcessEnv {
    return this.deps.source.env ?? process.env;
  }

  async get(): Promise<Setting[]> {
    const text = await readConfigText(this.path);
    const fromFile = parseConfigText(text, this.path);
    const fromEnv = configFromEnv(this.env);
    const wanted = ConfigSchema.safeParse({ ...fromFile, ...fromEnv });
    const running = this.deps.current();
    return CONFIG_KEYS.map((key) => {
      const source: SettingSource = key in fromEnv ? 'env' : key in fromFile ? 'file' : 'default';
      const row: Setting = {
        key,
        value: shown(key, running[key]),
        source,
        need_restart: RESTART_KEYS.has(key),
        file_only: FILE_ONLY_KEYS.has(key),
      };
      const next = wanted.success ? wanted.data[key] : undefined;
      if (wanted.success && !SECRET_KEYS.has(key) && JSON.stringify(next) !== JSON.stringify(running[key]))
        row.pending = next ?? null;
      return row;
    });
  }

  /** Writes `change` to the config file and applies it; refused as a whole when any part is invalid. */
  set(change: SettingsChange): Promise<SettingsResult> {
    const next = this.queue.then(() => this.write(change));
    this.queue = next.catch(() => {});
    return next;
  }

  private async write(change: SettingsChange): Promise<SettingsResult> {
    const edit = this.check(change);
    const path = this.path;
    const text = await readConfigText(path);
    if (text !== '') checkFileSafety(path);
    const newText = rewriteConfigText(text, edit);
    const parsed = ConfigSchema.safeParse({ ...parseConfigText(newText, path), ...configFromEnv(this.env) });
    if (!parsed.success)
      throw new PvepatchError('input-invalid', `unable to change settings - ${schemaProblems(parsed.error)}`);
    await writeConfigFile(path, newText);
    const { applied, needRestart } = this.deps.apply(parsed.data);
    return { applied, need_restart: needRestart };
  }

  /** The change as a file edit, or an error naming the first key that cannot be changed and why. */
  private check(change: SettingsChange): ConfigEdit {
    const keys = [...Object.keys(change.set), ...change.delete];
    if (keys.length === 0) throw new PvepatchError('input-invalid', 'unable to change settings - nothing to change');
    const env = configFromEnv(this.env);
    const seen = new Set<string>();
    for (const key of keys) {
      if (!(CONFIG_KEYS as string[]).includes(key))
        throw new PvepatchError(
          'input-invalid',
          `unable to change '${key}' - unknown key (known: ${CONFIG_KEYS.join(', ')})`,
        );
      if (seen.has(key))
        throw new PvepatchError('input-invalid', `unable to change '${key}' - it is both set and deleted`);
      seen.add(key);
      const k = key as ConfigKey;
      if (FILE_ONLY_KEYS.has(k)) {
        const why = SECRET_KEYS.has(k) ? 'it holds a secret' : 'it decides what the root daemon runs, reads or trusts';
        throw new PvepatchError(
          'forbidden',
          `unable to change '${key}' through the API - ${why}; edit ${this.path} as root, then run 'systemctl ${RESTART_KEYS.has(k) ? 'restart' : 'reload'} pvepatchd'`,
        );
      }
      if (key in env)
        throw new PvepatchError(
          'input-invalid',
          `unable to change '${key}' - the daemon's environment sets it (${envName(k)}), which wins over the file; change or remove it there (systemctl edit pvepatchd)`,
        );
    }
    const set: Record<string, string> = {};
    for (const [key, raw] of Object.entries(change.set)) {
      const value = String(raw).trim();
      if (value.length > MAX_VALUE || hasControl(value))
        throw new PvepatchError(
          'input-invalid',
          `unable to change '${key}' - the value must be one line of at most ${MAX_VALUE} characters without control characters`,
        );
      set[key] = value;
    }
    return { set, delete: change.delete };
  }
}
