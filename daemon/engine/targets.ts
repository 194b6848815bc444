import { exceptionsFor } from '../exceptions/match.js';
import { loadPolicy } from '../policy/load.js';
import { type RunOverrides, resolvePolicy, withOverrides } from '../policy/resolve.js';
import { type Guest, listGuests } from '../proxmox/inventory.js';
import { parseSelector, selectGuests } from '../proxmox/selectors.js';
import { transportFor } from '../transports/index.js';
import { sshOf } from './run-policy.js';
import type { EngineServices, PlanRequest, Target } from './types.js';

/**
 * Resolves a selector to guests, each with its policy (the policy file, then the run's options)
 * and the transport that reaches it, or why none does. An invalid policy file fails the request.
 */
export async function resolveTargets(
  svc: EngineServices,
  selector: string[],
  req: Pick<PlanRequest, 'reboot' | 'on_failure'> = {},
  inventory: (client: EngineServices['client']) => Promise<Guest[]> = listGuests,
  /** Cluster mode: judge each guest as its own node's daemon would (a rollout hands it to that node). */
  opts: { anyNode?: boolean } = {},
): Promise<Target[]> {
  const sel = parseSelector(selector);
  const file = loadPolicy(svc.config.policy_file);
  const guests = selectGuests(sel, await inventory(svc.client));
  const overrides: RunOverrides = {
    ...(req.reboot ? { reboot: req.reboot } : {}),
    ...(req.on_failure ? { onFailure: req.on_failure } : {}),
  };
  const now = svc.now?.() ?? new Date();
  const exceptions = svc.exceptions?.all() ?? [];
  return guests.map((guest) => {
    const policy = withOverrides(resolvePolicy(file, guest, { reboot: svc.config.reboot }), overrides, 'this run');
    const base = { guest, policy, exceptions: exceptionsFor(exceptions, guest, now) };
    if (guest.template)
      return { ...base, transport: null, skip_reason: 'guest is a template (templates are never patched)' };
    if (guest.status !== 'running')
      return { ...base, transport: null, skip_reason: `guest is ${guest.status} (only running guests are patched)` };
    const ssh = sshOf(policy);
    const node = opts.anyNode ? guest.node : svc.node;
    const env = { config: svc.config, node, client: svc.client, ...(ssh ? { ssh } : {}) };
    // the built-in default is the type's, which transportFor knows (and may replace: cluster_ssh)
    const preferred = policy.origins.transport.from === 'built-in' ? undefined : policy.transport;
    const t = transportFor(guest, env, preferred);
    if ('skip' in t) return { ...base, transport: null, skip_reason: t.skip };
    return { ...base, transport: t.name, skip_reason: null };
  });
}
