import { z } from 'zod';

const seconds = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);
const bool = z
  .union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])])
  .transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');

/**
 * Every setting pvepatch reads. Each key can be written in the config file (`key: value`) or as
 * the environment variable PVEPATCH_<KEY in upper case>; the environment wins.
 */
export const ConfigSchema = z.strictObject({
  pve_url: z.string().default('https://127.0.0.1:8006'),
  pve_token: z.string().optional(),
  pve_fingerprint: z.string().optional(),
  /** Path of a PEM CA file; the default is the cluster CA that pveproxy's certificate chains to. */
  pve_ca: z.string().optional(),
  node: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/)
    .optional(),
  pct: z.string().default('/usr/sbin/pct'),
  state_dir: z.string().default('/var/lib/pvepatch'),
  log_dir: z.string().default('/var/log/pvepatch'),
  socket: z.string().default('/run/pvepatch/api.sock'),
  /**
   * The cluster filesystem (pmxcfs) pvepatch shares its definitions, node status and leader lock
   * in. Cluster mode is on when this directory exists (every PVE node has /etc/pve; a PBS host has not).
   */
  cluster_dir: z.string().default('/etc/pve'),
  /** Seconds between leader-lock refreshes, node-status heartbeats and quorum checks (HA manager: 10). */
  cluster_refresh: z.coerce.number().int().min(1).max(30).default(10),
  /**
   * The lifetime of a pmxcfs lock without refresh (pmxcfs hard-codes 120 s); a node's status older
   * than this counts as a node without a running daemon. Shorter only against a test's shared directory.
   */
  cluster_lock_expiry: z.coerce.number().int().min(2).max(120).default(120),
  /** Seconds a rollout waits for a node without a running pvepatch daemon before refusing its guests. */
  cluster_node_wait: seconds(600, 86_400),
  /**
   * Containers on a node whose pvepatch daemon is not running are patched from this node through
   * the cluster's own SSH (root's key, `<cluster_dir>/priv/known_hosts`, as PVE's migrations do).
   */
  cluster_ssh: bool.default(false),
  /** The pct that cluster_ssh runs on the other node. */
  cluster_ssh_pct: z.string().default('/usr/sbin/pct'),
  /** Guests upgraded at once (guest CPU work); planning runs ahead with the same width. */
  concurrency: z.coerce.number().int().min(1).max(64).default(2),
  /** Snapshots taken at once (storage work), separately from the upgrades. */
  snapshot_concurrency: z.coerce.number().int().min(1).max(64).default(2),
  snapshot_keep: z.coerce.number().int().min(1).max(100).default(3),
  protection: z.enum(['snapshot', 'none']).default('snapshot'),
  min_free_mb: z.coerce.number().int().min(0).default(500),
  fix_broken: bool.default(false),
  api_timeout: seconds(30, 3600),
  task_timeout: seconds(600, 86_400),
  lock_timeout: seconds(60, 3600),
  upgrade_timeout: seconds(900, 86_400),
  exec_timeout: seconds(300, 86_400),
  /** All commands of one guest in one run together; no command starts after it. */
  guest_timeout: seconds(7200, 7 * 86_400),
  /** Seconds between background attempts to release holds and settle snapshot records left by a crash. */
  recovery_retry: seconds(300, 86_400),
  /** SIGTERM waits this long for each guest to finish its current step (fits TimeoutStopSec). */
  stop_timeout: seconds(300, 86_400),
  /** Default reboot policy where the policy file and the run say nothing; `never` reboots nothing by surprise. */
  reboot: z.enum(['never', 'if-required', 'always']).default('never'),
  /** Reboots are sent only inside this daily window (`HH:MM-HH:MM`, node time); empty: any time. */
  reboot_window: z
    .string()
    .regex(/^$|^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM-HH:MM, e.g. 02:00-05:00')
    .default(''),
  /** Per-guest and per-tag policy (section config: transport, reboot, on-failure, checks, ssh, role). */
  policy_file: z.string().default('/etc/pvepatch/guests.conf'),
  /** Host keys of SSH guests recorded on first use (mode 0600). */
  known_hosts: z.string().optional(),
  /**
   * HTTPS API port (0: off). 8016 is free on PVE and PBS hosts: PVE uses 8006 (pveproxy), 3128
   * (spiceproxy), 85 (pvedaemon, local), 5900-5999 (VNC), 5405-5412 (corosync), 60000-60050
   * (migration); PBS uses 8007 and 82 (local).
   */
  api_port: z.coerce.number().int().min(0).max(65_535).default(8016),
  /** Address the HTTPS API listens on; the default is every address, like pveproxy. */
  api_host: z.string().default('::'),
  /** PEM certificate (chain) and key; default: the node's own (pveproxy-ssl, pve-ssl, or the PBS proxy's). */
  api_cert: z.string().optional(),
  api_key: z.string().optional(),
  /** More browser origins allowed to call the API besides https://<each node>:8006 (comma-separated). */
  api_origins: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  /** The cluster's CSRF key: pvepatch checks the CSRFPreventionToken of ticket callers with it. */
  pve_www_key: z.string().default('/etc/pve/pve-www.key'),
  /** GET /api/v1/metrics over HTTPS from a loopback address (127.0.0.0/8, ::1) without credentials. */
  metrics_localhost: bool.default(false),
  /** How long a caller's privileges, as pveproxy answered them, are reused. */
  auth_cache_seconds: z.coerce.number().int().min(0).max(3600).default(30),
  /** Size of <log_dir>/audit.log past which it is rotated to audit.log.1 … audit.log.<audit_keep>. */
  audit_max_mb: z.coerce.number().int().min(1).max(1024).default(10),
  /** Rotated audit logs kept. */
  audit_keep: z.coerce.number().int().min(1).max(100).default(5),
  /** Output kept per guest command (head and tail); more is an error. */
  exec_output_max_mb: z.coerce.number().int().min(1).max(1024).default(16),
  /** Characters of one streamed output line kept in the run log. */
  log_line_max: z.coerce.number().int().min(80).max(1_048_576).default(8192),
  /** Runs kept (summary, log and report); the oldest past it are deleted as new ones are written. */
  runs_keep: z.coerce.number().int().min(10).max(1_000_000).default(10_000),
  /** Size of one run's log; past it only outcomes and the final state are written. */
  run_log_max_mb: z.coerce.number().int().min(1).max(10_240).default(64),
  /**
   * Notification channels (Proxmox section config: proxmox, sendmail, webhook, smtp); without the
   * file, the host's own notification system (PVE::Notify, the PBS queue) or else mail to root.
   */
  notify_file: z.string().default('/etc/pvepatch/notifications.conf'),
  /** Hook scripts: executables in `<hooks_dir>/<phase>.d/`, root-owned and not group/world-writable. */
  hooks_dir: z.string().default('/etc/pvepatch/hooks.d'),
  /** Proxmox Backup Server API (`https://HOST[:8007]`) that `fallback backup` asks for a guest's backups; empty: none. */
  pbs_url: z.string().default(''),
  /** PBS API token, `USER@REALM!TOKENNAME:SECRET` (PBS separates the secret with ':'); needs Datastore.Audit. */
  pbs_token: z
    .string()
    .regex(
      /^[^\s:@!]+@[A-Za-z0-9_][A-Za-z0-9._-]*![A-Za-z0-9_][A-Za-z0-9._-]*:[!-~]+$/,
      'expected USER@REALM!TOKENNAME:SECRET',
    )
    .optional(),
  /** SHA-256 fingerprint of the PBS certificate (`proxmox-backup-manager cert info`). */
  pbs_fingerprint: z.string().optional(),
  /** The PBS datastore holding this cluster's guest backups. */
  pbs_datastore: z
    .string()
    .regex(/^$|^[A-Za-z0-9_][A-Za-z0-9._-]*$/, 'expected a PBS datastore name')
    .default(''),
  /** The namespace inside it (`a/b`, at most 8 levels); empty: the root namespace. */
  pbs_namespace: z
    .string()
    .regex(
      /^$|^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*){0,7}$/,
      'expected a PBS namespace, e.g. site1/pve',
    )
    .default(''),
  /** Seconds one hook may run before it (and its children) is killed. */
  hook_timeout: seconds(300, 86_400),
  /** Per-phase timeouts in seconds over `hook_timeout`, e.g. `pre-guest=900,post-run=60`. */
  hook_timeouts: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const out: Partial<Record<HookPhaseName, number>> = {};
      for (const item of v.split(',').map((x) => x.trim())) {
        if (item === '') continue;
        const [phase = '', secs = ''] = item.split('=', 2).map((x) => x.trim());
        if (!(HOOK_PHASE_NAMES as readonly string[]).includes(phase) || !/^\d{1,6}$/.test(secs) || Number(secs) < 1) {
          ctx.addIssue({
            code: 'custom',
            message: `invalid entry '${item}' - expected <phase>=<seconds> with a phase of ${HOOK_PHASE_NAMES.join(', ')}`,
          });
          return z.NEVER;
        }
        out[phase as HookPhaseName] = Number(secs);
      }
      return out;
    }),
});

/** The hook phases (daemon/hooks has the runner); listed here so the config needs nothing else. */
export const HOOK_PHASE_NAMES = [
  'pre-run',
  'pre-guest',
  'post-patch',
  'post-reboot',
  'post-guest',
  'post-run',
] as const;
export type HookPhaseName = (typeof HOOK_PHASE_NAMES)[number];

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigKey = keyof Config;
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as ConfigKey[];

/** Keys whose value is a secret: never shown by the settings API (only whether it is set). */
export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(['pve_token', 'pbs_token']);

/**
 * Keys set only by root in the config file, never through the settings API: the secret, and what
 * decides which programs the root daemon runs, which files it reads and writes, and where it sends
 * its token and whom it trusts - through the API they would turn Sys.Modify into root on the node.
 */
export const FILE_ONLY_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  ...SECRET_KEYS,
  'pve_url',
  'pve_fingerprint',
  'pve_ca',
  'pct',
  'cluster_ssh_pct',
  'state_dir',
  'log_dir',
  'socket',
  'policy_file',
  'known_hosts',
  'api_cert',
  'api_key',
  'pve_www_key',
  'hooks_dir',
  'notify_file',
  'pbs_url',
  'pbs_fingerprint',
  'cluster_dir',
]);

/** Keys whose value is bound when the daemon starts (files, listeners, the API client): a change needs a restart. */
export const RESTART_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  'pve_url',
  'pve_token',
  'pve_fingerprint',
  'pve_ca',
  'node',
  'state_dir',
  'log_dir',
  'socket',
  'api_timeout',
  'api_port',
  'api_host',
  'api_cert',
  'api_key',
  'pve_www_key',
  'auth_cache_seconds',
  'audit_max_mb',
  'audit_keep',
  'recovery_retry',
  'cluster_dir',
  'cluster_refresh',
  'cluster_lock_expiry',
]);

/** The environment variable that overrides a key (and wins over the file). */
export function envName(key: ConfigKey): string {
  return `PVEPATCH_${key.toUpperCase()}`;
}
