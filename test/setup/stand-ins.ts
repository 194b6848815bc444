/**
 * Stand-ins for pveum, proxmox-backup-manager and dpkg-query: real executables (node scripts) in a temp
 * dir sharing one JSON state file, each appending its argv to `<state>.log`. They answer like the real
 * tools for the commands `pvepatch setup` uses (see stand-in-script.mjs; output shapes as in daemon/setup/readme.md).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_PRIVILEGES } from '../sim/access.js';

const SCRIPT = readFileSync(new URL('./stand-in-script.mjs', import.meta.url), 'utf8');
const PVE_BUILTIN = ['Administrator', 'NoAccess', 'PVEAuditor', 'PVEDatastoreUser', 'PVEVMAdmin', 'PVEVMUser'];
const PBS_BUILTIN = ['Admin', 'Audit', 'DatastoreAudit', 'DatastoreBackup', 'NoAccess'];

export interface StandInHost {
  dir: string;
  bins: { pveum: string; pbm: string; dpkgQuery: string };
  state(): StandInState;
  setState(patch: Partial<StandInState>): void;
  /** Every argv the stand-ins received, `[tool, ...args]`, in order. */
  log(): string[][];
  clearLog(): void;
  close(): void;
}

export interface StandInState {
  packages: Record<string, string>;
  validPrivs: string[];
  builtinRoles: string[];
  roles: Record<string, string[]>;
  users: Record<string, unknown>;
  acls: Record<string, unknown>[];
  /** Secrets the next created tokens get, in order (then random UUIDs). */
  secrets: string[];
}

/** PVE 9 privileges are the simulator's list; PVE 8 has VM.Monitor instead of the VM.GuestAgent.* ones. */
function privsFor(major: number): string[] {
  if (major >= 9) return [...ALL_PRIVILEGES];
  return [...ALL_PRIVILEGES.filter((p) => !p.startsWith('VM.GuestAgent.')), 'VM.Monitor'];
}

export function standInHost(opts: { pve?: string; pbs?: string; secrets?: string[] }): StandInHost {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-setup-'));
  const statePath = join(dir, 'state.json');
  const major = Number((opts.pve ?? '9').split('.')[0]);
  const state: StandInState = {
    packages: {
      ...(opts.pve ? { 'pve-manager': opts.pve } : {}),
      ...(opts.pbs ? { 'proxmox-backup-server': opts.pbs } : {}),
    },
    validPrivs: privsFor(major),
    builtinRoles: opts.pbs ? PBS_BUILTIN : PVE_BUILTIN,
    roles: {},
    users: opts.pbs ? { 'root@pam': { tokens: [] } } : { 'root@pam': { tokens: {} } },
    acls: [],
    secrets: opts.secrets ?? [],
  };
  writeFileSync(statePath, JSON.stringify(state));
  const write = (name: string, kind: string) => {
    const path = join(dir, name);
    const head = `#!${process.execPath}\nconst STATE = ${JSON.stringify(statePath)};\nconst KIND = ${JSON.stringify(kind)};\n`;
    writeFileSync(path, head + SCRIPT);
    chmodSync(path, 0o755);
    return path;
  };
  const bins = {
    pveum: write('pveum', 'pveum'),
    // only on a PBS host: its existence is how setup tells a PBS host
    pbm: opts.pbs ? write('proxmox-backup-manager', 'proxmox-backup-manager') : join(dir, 'no-proxmox-backup-manager'),
    dpkgQuery: write('dpkg-query', 'dpkg-query'),
  };
  const logPath = `${statePath}.log`;
  return {
    dir,
    bins,
    state: () => JSON.parse(readFileSync(statePath, 'utf8')) as StandInState,
    setState: (patch) => {
      const cur = JSON.parse(readFileSync(statePath, 'utf8')) as StandInState;
      writeFileSync(statePath, JSON.stringify({ ...cur, ...patch }));
    },
    log: () => {
      let text = '';
      try {
        text = readFileSync(logPath, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);
    },
    clearLog: () => rmSync(logPath, { force: true }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
