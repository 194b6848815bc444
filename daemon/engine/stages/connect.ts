import { PvepatchError } from '../../core/errors.js';
import { GuestExec } from '../../drivers/shared/guest-exec.js';
import { agentEnabled, guestConfig } from '../../proxmox/inventory.js';
import { createTransport } from '../../transports/index.js';
import { AgentApi } from '../../transports/qga/agent-api.js';
import type { TransportEnv } from '../../transports/types.js';
import { done, type GuestContext, type Stage } from '../context.js';
import { sshOf } from '../run-policy.js';

/** What creating a transport may use, for this guest. */
export function transportEnv(ctx: Pick<GuestContext, 'svc' | 'policy'>): TransportEnv {
  const { svc, policy } = ctx;
  const ssh = sshOf(policy);
  return { config: svc.config, node: svc.node, client: svc.client, ...(ssh ? { ssh } : {}) };
}

/** The one exec layer for this guest: its deadline, output caps and log. */
export function guestExec(ctx: GuestContext, transport: string): GuestExec {
  const { svc, target } = ctx;
  return new GuestExec(createTransport(transport, target.guest, transportEnv(ctx)), {
    log: ctx.log,
    output: ctx.output,
    ...(ctx.outputOpen ? { outputOpen: ctx.outputOpen } : {}),
    deadline: ctx.deadline,
    maxOutputBytes: svc.config.exec_output_max_mb * 1024 * 1024,
    maxLineLength: svc.config.log_line_max,
  });
}

/**
 * Picks how the guest is reached and makes sure it can be, before anything in it changes. A VM
 * that may be rebooted, or is reached through the agent, needs the agent enabled in its config and
 * answering `agent/ping` (PVE's reboot shuts a VM down through it); a VM without the agent is
 * reached over SSH when its policy says how, and otherwise refused.
 */
export const connect: Stage = {
  name: 'connect',
  async run(ctx) {
    const { svc, target, policy } = ctx;
    const g = target.guest;
    let name = target.transport!;
    if (g.type === 'qemu') {
      ctx.guestConfig ??= await guestConfig(svc.client, g);
      const enabled = agentEnabled(ctx.guestConfig.agent as string | number | undefined);
      if (!enabled && name === 'qga' && sshOf(policy)) {
        ctx.log('no QEMU guest agent configured; reaching the VM over SSH (its policy has ssh settings)');
        name = 'ssh';
      }
      const needsAgent = name === 'qga' || policy.reboot !== 'never';
      if (needsAgent && !enabled) {
        throw new PvepatchError(
          'precheck-failed',
          `unable to patch VM ${g.vmid} - No QEMU guest agent configured; ${name === 'qga' ? 'it is reached through the agent' : `reboot policy '${policy.reboot}' reboots it through the agent`}. Enable it ('pvepatch agent ensure ${g.vmid}', effective after the VM's next cold start) or use transport ssh with reboot never`,
        );
      }
      if (needsAgent) await new AgentApi(svc.client, g).ping();
    }
    ctx.exec = guestExec(ctx, name);
    ctx.result.transport = name;
    return done;
  },
};
