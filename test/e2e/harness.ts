import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliIo, main } from '../../daemon/cli/main.js';
import { loadConfig } from '../../daemon/config/load.js';
import { createLogger } from '../../daemon/core/logger.js';
import { Daemon } from '../../daemon/daemon.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { Lab, type LabGuestSpec } from '../guests/lab.js';
import { startSim } from '../sim/server.js';
import type { AgentBackend, PowerBackend, Sim, SimGuest, SimOptions } from '../sim/types.js';
import { DaemonProcess } from './daemon-process.js';

export const TOKEN_ID = 'pvepatch@pve!daemon';

/** The LXC `ostype` Proxmox would record for each lab flavour (a hint; os-release decides). */
export const OSTYPE: Record<string, string> = {
  debian: 'debian',
  fedora: 'fedora',
  opensuse: 'opensuse',
  arch: 'archlinux',
};

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** A lab of real guests, the PVE API simulator in front of them and a daemon talking to both. */
export interface Env {
  dir: string;
  lab: Lab;
  sim: Sim;
  token: string;
  configPath: string;
  daemonLog: string[];
  /** The daemon's process when started with `daemonProcess`. */
  proc?: DaemonProcess;
  stateDir: string;
  logDir: string;
  cli(...argv: string[]): Promise<CliResult>;
  /** Writes another config file (same lab/sim) with some keys changed; returns its path. */
  writeConfig(name: string, overrides: Record<string, string | undefined>): string;
  /** Writes the policy file the daemon reads (`policy_file`, in the env's directory, mode 0600). */
  writePolicy(text: string): void;
  /** Stops the daemon (in-process or its own process) and starts it again with these keys changed in its config file. */
  restartDaemon(overrides: Record<string, string | undefined>): Promise<void>;
  close(): Promise<void>;
}

/** A lab guest that the simulator shows as a qemu VM (`kind: 'vm'` is implied). */
export interface EnvVm extends LabGuestSpec {
  /** The VM's `agent` config value (default `1`); `false` leaves it out (agent not configured). */
  agent?: string | false;
}

export interface EnvOptions {
  /** Lab guests; those with `kind: 'vm'` become qemu VMs (agent `1`), the others containers. */
  guests: LabGuestSpec[];
  /** More lab guests shown as qemu VMs on pve1, reached through the QEMU guest agent. */
  vms?: EnvVm[];
  /** Simulator options on top of the harness's (e.g. `agentTimeoutMs`, `agentBootDelayMs`, `agentMaxOutput`). */
  sim?: Partial<Pick<SimOptions, 'agentTimeoutMs' | 'agentBootDelayMs' | 'agentMaxOutput' | 'taskDelayMs'>>;
  /** Guests the API knows that have no root in the lab (templates, VMs, stopped CTs). */
  apiOnlyGuests?: SimGuest[];
  config?: Record<string, string>;
  /** The policy file's text (`policy_file`, written in the env's directory before the daemon starts). */
  policy?: string;
  /** Runs after the lab and simulator exist and before the daemon starts (e.g. to leave crash debris). */
  beforeDaemon?: (ctx: { dir: string; lab: Lab; stateDir: string; logDir: string }) => Promise<void>;
  /** Run the daemon as its own process (signals, memory, a second daemon) instead of in this one. */
  daemonProcess?: boolean;
  /** With daemonProcess: more environment for it (e.g. NOTIFY_SOCKET, WATCHDOG_USEC). */
  daemonEnv?: Record<string, string>;
  /** With daemonProcess: run this built bundle instead of the sources. */
  bundle?: string;
}

export async function runCli(argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The backends of the lab for its own guests; API-only guests get a plain simulated power cycle. */
export function labBackends(lab: Lab, vmids: Set<number>): { agent: AgentBackend; power: PowerBackend } {
  const agent: AgentBackend = {
    exec: (vmid, argv, o) => {
      if (!vmids.has(vmid)) return Promise.reject(new Error(`VM ${vmid} has no lab guest to run it`));
      return lab.agentBackend.exec(vmid, argv, o);
    },
    alive: async (vmid) => !vmids.has(vmid) || lab.agentBackend.alive(vmid),
    restart: async (vmid) => (vmids.has(vmid) ? lab.agentBackend.restart(vmid) : undefined),
    osinfo: async (vmid) => (vmids.has(vmid) ? lab.agentBackend.osinfo(vmid) : {}),
  };
  const power: PowerBackend = {
    reboot: async (vmid, o) => {
      if (vmids.has(vmid)) return lab.powerBackend.reboot(vmid, o);
      return { started: o.noReturn ? new Promise<void>(() => {}) : Promise.resolve() };
    },
    uptime: async (vmid) => (vmids.has(vmid) ? lab.powerBackend.uptime(vmid) : undefined),
    running: async (vmid) => !vmids.has(vmid) || lab.powerBackend.running(vmid),
  };
  return { agent, power };
}

export async function startEnv(opts: EnvOptions): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-e2e-'));
  const vms: EnvVm[] = [...opts.guests.filter((g) => g.kind === 'vm'), ...(opts.vms ?? [])];
  const cts = opts.guests.filter((g) => g.kind !== 'vm');
  const labGuests: LabGuestSpec[] = [...cts, ...vms.map(({ agent: _agent, ...g }) => ({ ...g, kind: 'vm' as const }))];
  const lab = await Lab.create({ dir: join(dir, 'lab'), guests: labGuests, repo: 'v2' });
  const secret = randomUUID();
  const simGuests: SimGuest[] = [
    ...cts.map((g) => ({
      vmid: g.vmid,
      type: 'lxc' as const,
      node: 'pve1',
      name: g.hostname ?? `ct${g.vmid}`,
      status: g.status ?? ('running' as const),
      ostype: OSTYPE[g.flavour ?? 'debian'],
      tags: ['demo'],
    })),
    ...vms.map((g) => ({
      vmid: g.vmid,
      type: 'qemu' as const,
      node: 'pve1',
      name: g.hostname ?? `vm${g.vmid}`,
      status: g.status ?? ('running' as const),
      ostype: 'l26',
      tags: ['demo'],
      config: (g.agent === false ? {} : { agent: g.agent ?? '1' }) as Record<string, string | number>,
    })),
    ...(opts.apiOnlyGuests ?? []),
  ];
  const sim = await startSim({
    nodes: ['pve1', 'pve2'],
    guests: simGuests,
    tokens: [{ id: TOKEN_ID, secret }],
    backend: lab.snapshotBackend,
    ...labBackends(lab, new Set(labGuests.map((g) => g.vmid))),
    ...opts.sim,
  });
  const token = `${TOKEN_ID}=${secret}`;
  const base: Record<string, string | undefined> = {
    pve_url: sim.url,
    pve_token: token,
    pve_fingerprint: sim.fingerprint,
    node: 'pve1',
    pct: lab.pctPath,
    state_dir: join(dir, 'state'),
    log_dir: join(dir, 'log'),
    socket: join(dir, 'run', 'api.sock'),
    lock_timeout: '5',
    // proxmox-api keeps its request timer after a failed request; a short one lets test processes exit
    api_timeout: '5',
    // never the host's /etc/pvepatch/guests.conf; a test that wants a policy sets its own
    policy_file: join(dir, 'guests.conf'),
    // never the host's hooks or notification targets: a test that wants them puts its own there
    hooks_dir: join(dir, 'hooks.d'),
    notify_file: join(dir, 'notifications.conf'),
    // never the host's /etc/pve (cluster mode is on when cluster_dir exists); cluster tests use cluster-harness.ts
    cluster_dir: join(dir, 'no-cluster'),
    // the HTTPS API is turned on by the tests that use it (on a free port, with the sim's certificate)
    api_port: '0',
    ...opts.config,
  };
  const writeConfig = (name: string, overrides: Record<string, string | undefined>) => {
    const path = join(dir, name);
    const merged = { ...base, ...overrides };
    const text = Object.entries(merged)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join('');
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const configPath = writeConfig('pvepatch.conf', {});
  // an empty channel file: no notification leaves a test unless it writes its own channels here
  writeFileSync(base.notify_file!, '', { mode: 0o600 });
  if (opts.policy !== undefined) writeFileSync(base.policy_file!, opts.policy, { mode: 0o600 });
  await opts.beforeDaemon?.({ dir, lab, stateDir: base.state_dir!, logDir: base.log_dir! });
  let daemonLog: string[] = [];
  let proc: DaemonProcess | undefined;
  let daemon: Daemon | undefined;
  if (opts.daemonProcess) {
    proc = await DaemonProcess.start(configPath, {
      ...(opts.bundle ? { bundle: opts.bundle } : {}),
      ...(opts.daemonEnv ? { env: opts.daemonEnv } : {}),
    });
    daemonLog = proc.log;
  } else {
    daemon = new Daemon(
      loadConfig({ path: configPath, env: {} }),
      createLogger((l) => daemonLog.push(l)),
      { config: { path: configPath, env: {} } },
    );
    await daemon.start();
  }
  return {
    dir,
    lab,
    sim,
    token,
    configPath,
    daemonLog,
    ...(proc ? { proc } : {}),
    stateDir: base.state_dir!,
    logDir: base.log_dir!,
    cli: (...argv) => runCli(['--config', configPath, ...argv]),
    writeConfig,
    writePolicy: (text) => writeFileSync(base.policy_file!, text, { mode: 0o600 }),
    async restartDaemon(overrides) {
      await daemon?.stop();
      await proc?.stop();
      writeConfig('pvepatch.conf', overrides);
      if (proc) {
        proc = await DaemonProcess.start(configPath, {
          ...(opts.bundle ? { bundle: opts.bundle } : {}),
          ...(opts.daemonEnv ? { env: opts.daemonEnv } : {}),
        });
        return;
      }
      daemon = new Daemon(
        loadConfig({ path: configPath, env: {} }),
        createLogger((l) => daemonLog.push(l)),
        { config: { path: configPath, env: {} } },
      );
      await daemon.start();
    },
    async close() {
      await daemon?.stop();
      await proc?.stop();
      await sim.close();
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Versions of the demo packages inside a guest, read with dpkg in the guest. */
export async function versions(
  lab: Lab,
  vmid: number,
  pkgs: readonly string[],
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const p of pkgs) out[p] = await lab.dpkgVersion(vmid, p);
  return out;
}

/** Requests the simulator refused as invalid (unknown path 501, bad parameter 400). */
/** Every run the daemon wrote (its files under <state_dir>/runs/), as it wrote them. */
export function readRuns(env: { stateDir: string }): RunSummary[] {
  const dir = join(env.stateDir, 'runs');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as RunSummary);
}

export function invalidRequests(sim: Sim) {
  return sim.requests.filter((r) => r.status === 400 || r.status === 501);
}
