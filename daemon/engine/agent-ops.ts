/**
 * `pvepatch agent check|ensure`: whether each selected VM can be reached and rebooted through the
 * QEMU guest agent, and installing the agent over SSH where it is missing.
 */
import { errorMessage, PvepatchError } from '../core/errors.js';
import { detectOs } from '../drivers/detect.js';
import { GuestExec } from '../drivers/shared/guest-exec.js';
import { agentEnabled, guestConfig } from '../proxmox/inventory.js';
import { createTransport } from '../transports/index.js';
import { AgentApi } from '../transports/qga/agent-api.js';
import { QgaTransport } from '../transports/qga/index.js';
import { sshOf } from './run-policy.js';
import type { EngineServices, Target } from './types.js';

export interface AgentCheck {
  vmid: number;
  name: string;
  node: string;
  /** `agent` enabled in the VM config. */
  configured: boolean;
  /** `agent/ping` answered. */
  responding: boolean;
  /** `agent/exec` ran a command (privileges, and qemu-ga not blocking guest-exec). */
  exec_allowed: boolean;
  detail: string;
}

export interface AgentEnsure extends AgentCheck {
  /** What was done, in order. */
  actions: string[];
}

/** Per VM: configured / responding / exec allowed, each step only when the one before held. */
export async function checkAgent(svc: EngineServices, t: Target): Promise<AgentCheck> {
  const g = t.guest;
  const out: AgentCheck = {
    vmid: g.vmid,
    name: g.name,
    node: g.node,
    configured: false,
    responding: false,
    exec_allowed: false,
    detail: '',
  };
  if (g.type !== 'qemu') return { ...out, detail: 'a container (entered with pct, no agent needed)' };
  if (g.status !== 'running') return { ...out, detail: `VM is ${g.status}` };
  try {
    const cfg = await guestConfig(svc.client, g);
    out.configured = agentEnabled(cfg.agent);
    if (!out.configured) {
      const pending = agentEnabled((await guestConfig(svc.client, g, { pending: true })).agent);
      const detail = pending
        ? "'agent: 1' is set but pending - effective after the VM's next cold start (shutdown and start)"
        : "no QEMU guest agent configured (set 'agent: 1')";
      return { ...out, detail };
    }
    await new AgentApi(svc.client, g).ping();
    out.responding = true;
    const qga = new QgaTransport(svc.client, g, { defaultTimeoutMs: 30_000 });
    const res = await qga.exec(['true'], { timeoutMs: 30_000 });
    out.exec_allowed = res.exitCode === 0;
    out.detail = out.exec_allowed ? 'ready' : `agent exec of 'true' exited ${res.exitCode}`;
  } catch (err) {
    out.detail = errorMessage(err);
  }
  return out;
}

/** The agent's package in each family's repositories. */
const INSTALL: Record<string, string[][]> = {
  apt: [
    ['apt-get', 'update'],
    ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', 'qemu-guest-agent'],
  ],
  dnf: [['dnf', '-y', 'install', 'qemu-guest-agent']],
  yum: [['yum', '-y', 'install', 'qemu-guest-agent']],
  zypper: [['zypper', '--non-interactive', 'install', 'qemu-guest-agent']],
  pacman: [['pacman', '-S', '--noconfirm', '--needed', 'qemu-guest-agent']],
  apk: [['apk', 'add', 'qemu-guest-agent']],
};

const START: Record<string, string[][]> = {
  apk: [
    ['rc-update', 'add', 'qemu-guest-agent'],
    ['rc-service', 'qemu-guest-agent', 'start'],
  ],
};
const SYSTEMD_START = [
  ['systemctl', 'enable', 'qemu-guest-agent'],
  ['systemctl', 'start', 'qemu-guest-agent'],
];

/**
 * For a VM whose agent is missing: installs and starts qemu-guest-agent over SSH (its policy must
 * say how to reach it), sets `agent: 1` through the API when it is off (effective after the VM's
 * next cold start — a reboot from inside is not enough) and checks again.
 */
export async function ensureAgent(svc: EngineServices, t: Target): Promise<AgentEnsure> {
  const before = await checkAgent(svc, t);
  const actions: string[] = [];
  const g = t.guest;
  if (g.type !== 'qemu' || g.status !== 'running' || before.exec_allowed) return { ...before, actions };
  try {
    if (!before.responding) {
      const ssh = sshOf(t.policy);
      if (!ssh) {
        throw new PvepatchError(
          'config-invalid',
          `VM ${g.vmid} has no SSH settings in the policy file ('address' and 'ssh-key'); pvepatch installs the agent over SSH`,
        );
      }
      const exec = new GuestExec(
        createTransport('ssh', g, { config: svc.config, node: svc.node, client: svc.client, ssh }),
        {
          deadline: Date.now() + svc.config.upgrade_timeout * 1000,
        },
      );
      try {
        const os = await detectOs(exec);
        if (!os.family) throw new PvepatchError('driver-unsupported', `unknown OS in VM ${g.vmid}: ${os.reason ?? ''}`);
        const steps = [...(INSTALL[os.family] ?? []), ...(START[os.family] ?? SYSTEMD_START)];
        for (const argv of steps) {
          const res = await exec.run(argv, { timeoutMs: svc.config.upgrade_timeout * 1000, changes: true });
          if (res.exitCode !== 0) {
            throw new PvepatchError(
              'patch-failed',
              `'${argv.join(' ')}' exited ${res.exitCode} in VM ${g.vmid}: ${(res.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`,
            );
          }
          actions.push(argv.join(' '));
        }
      } finally {
        await exec.transport.close?.();
      }
    }
    if (!before.configured) {
      await svc.client.request('PUT', `/nodes/${encodeURIComponent(g.node)}/qemu/${g.vmid}/config`, { agent: '1' });
      actions.push(
        "set 'agent: 1' in the VM config - effective after the VM's next cold start (shutdown and start, not a reboot)",
      );
    }
  } catch (err) {
    return { ...before, actions, detail: `unable to set up the agent - ${errorMessage(err)}` };
  }
  const after = await checkAgent(svc, t);
  return { ...after, actions };
}
