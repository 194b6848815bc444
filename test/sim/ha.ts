import { createHash } from 'node:crypto';
import { die } from './errors.js';
import type { Handler } from './router.js';
import { bootGuest, type GuestState, type SimState } from './state.js';
import type { SimHaResource } from './types.js';
import { requirePriv } from './ui-handlers.js';

/**
 * The HA manager as the API shows it (pve-ha-manager b71218f): `resources.cfg` (what `sim.setHaResource`
 * sets) and the CRM's service states of `manager_status`, read by `GET /cluster/ha/resources[/{sid}]`,
 * `GET /cluster/ha/status/current`, the `ha` of `status/current` and the `hastate` of `/cluster/resources`.
 * And what a guest's own power calls do with HA: `status/reboot` is not forwarded to HA, but the start
 * that follows a VM's reboot (`qm cleanup` → `vm_start`) and the `start=1` of a rollback are (a `hastart`
 * task running `ha-manager set <sid> --state started`). The CRM/LRM loops themselves (restarting a guest
 * stopped behind their back, relocation, fencing) are not simulated.
 */

/** One configured resource: its `resources.cfg` section and the CRM's state of it. */
export interface HaResourceState extends SimHaResource {
  sid: string;
  type: 'vm' | 'ct';
  vmid: number;
}

const SID = /^(vm|ct):([1-9][0-9]{2,8})$/;

/** The CRM's state for a request state, as a steady cluster shows it (`Manager.pm` `next_state_*`). */
function steadyCrmState(state: SimHaResource['state']): string | undefined {
  if (state === 'ignored') return undefined; // removed from the manager status
  return state === 'stopped' || state === 'disabled' ? 'stopped' : 'started';
}

/** `sim.setHaResource`: adds or replaces a resource (`ha-manager add`/`set` without the CRM's delay). */
export function setHaResource(state: SimState, sid: string, r: SimHaResource): void {
  const m = SID.exec(sid);
  if (!m) throw new Error(`sim: invalid HA resource id '${sid}' (vm:<vmid> or ct:<vmid>)`);
  const vmid = Number(m[2]);
  const g = state.guests.get(vmid);
  if (g && (g.type === 'qemu') !== (m[1] === 'vm'))
    throw new Error(`sim: resource '${sid}' - guest with ID ${vmid} is not a ${m[1] === 'vm' ? 'VM' : 'CT'}`);
  const crm = 'crm_state' in r ? r.crm_state : steadyCrmState(r.state);
  state.ha.set(sid, { ...r, crm_state: crm, sid, type: m[1] as 'vm' | 'ct', vmid });
}

/** `PVE::HA::Tools::get_ha_resource_type` of a guest. */
export const haSid = (g: Pick<GuestState, 'type' | 'vmid'>) => `${g.type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`;

/** The request state with `read_and_check_resources_config`'s defaults (`enabled` is `started`). */
const requestState = (r: SimHaResource) => (!r.state || r.state === 'enabled' ? 'started' : r.state);

/**
 * `HA/Config.pm` `$service_check_ha_state` without a state (as `vm_is_ha_managed` and
 * `get_service_status` ask): configured and not `ignored` (a cluster-wide disarm is not simulated).
 */
export function haManaged(state: SimState, g: Pick<GuestState, 'type' | 'vmid'>): HaResourceState | undefined {
  const r = state.ha.get(haSid(g));
  return r && r.state !== 'ignored' ? r : undefined;
}

/** `HA/Config.pm` `get_service_status`: the `ha` of `status/current` (qemu asks `vm:`, lxc `ct:`). */
export function haServiceStatus(state: SimState, g: GuestState): Record<string, unknown> {
  const r = haManaged(state, g);
  if (!r) return { managed: 0 };
  return r.crm_state == null ? { managed: 1 } : { managed: 1, state: r.crm_state };
}

/** pve-manager `API2/Cluster.pm` `resources`: the CRM's state, else the configured one. */
export function haResourceState(state: SimState, g: GuestState): string | undefined {
  const r = state.ha.get(haSid(g));
  if (!r) return undefined;
  return r.crm_state ?? r.state;
}

/** `resources.cfg` as `SectionConfig::write_config` writes it, for the digest (`cfs_read_file`: SHA-1 of it). */
function renderConfig(state: SimState): string {
  let out = '';
  for (const r of [...state.ha.values()].sort((a, b) => a.sid.localeCompare(b.sid))) {
    out += `${r.type}: ${r.vmid}\n`;
    for (const key of ['comment', 'failback', 'group', 'max_relocate', 'max_restart', 'state'] as const) {
      const v = r[key];
      if (v !== undefined) out += `\t${key} ${typeof v === 'boolean' ? (v ? 1 : 0) : v}\n`;
    }
    out += '\n';
  }
  return out;
}

const digest = (state: SimState) => createHash('sha1').update(renderConfig(state)).digest('hex');

/** `API2/HA/Resources.pm` `$api_copy_config`: the section's keys as written, with `sid`, `type`, `digest`. */
function configEntry(r: HaResourceState, dig: string): Record<string, unknown> {
  const out: Record<string, unknown> = { sid: r.sid, type: r.type, digest: dig };
  if (r.state !== undefined) out.state = r.state;
  if (r.group !== undefined) out.group = r.group;
  if (r.comment !== undefined) out.comment = r.comment;
  if (r.max_restart !== undefined) out.max_restart = r.max_restart;
  if (r.max_relocate !== undefined) out.max_relocate = r.max_relocate;
  if (r.failback !== undefined) out.failback = r.failback ? 1 : 0;
  return out;
}

/** `GET /cluster/ha/resources` (`API2/HA/Resources.pm` `index`): Sys.Audit on `/`; sorted by sid here. */
export const haResources: Handler = (ctx) => {
  requirePriv(ctx, '/', ['Sys.Audit']);
  const dig = digest(ctx.state);
  return [...ctx.state.ha.values()]
    .filter((r) => !ctx.params.type || r.type === ctx.params.type)
    .sort((a, b) => a.sid.localeCompare(b.sid))
    .map((r) => configEntry(r, dig));
};

/** `GET /cluster/ha/resources/{sid}` (`read`): a bare VMID is looked up (`HA/Config.pm` `parse_sid`). */
export const haResource: Handler = (ctx) => {
  requirePriv(ctx, '/', ['Sys.Audit']);
  let sid = ctx.params.sid!;
  if (/^\d+$/.test(sid)) {
    const g = ctx.state.guests.get(Number(sid));
    if (!g) die(`unable to detect SID from VMID - VM/CT ${sid} does not exist`);
    sid = haSid(g);
  } else if (!/^\S+:\S+$/.test(sid)) die(`unable to parse service id '${sid}'`);
  const r = ctx.state.ha.get(sid);
  if (!r) die(`no such resource '${sid}'`);
  return configEntry(r, digest(ctx.state));
};

/** `HA/Tools.pm` `get_verbose_service_state`; `running` (the CRM's flag of a successful start) is the guest's status. */
function verboseState(r: HaResourceState, g: GuestState | undefined): string {
  const req = requestState(r);
  if (req === 'ignored') return 'ignored';
  if (!g) return 'not found';
  const cur = r.crm_state;
  if (cur == null) return 'queued';
  if (cur === 'stopped') return req === 'started' ? 'starting' : req === 'disabled' ? 'disabled' : cur;
  if (cur === 'started') return g.status !== 'running' ? 'starting' : req !== 'started' ? 'stopping' : cur;
  if (cur === 'error' && req === 'disabled') return 'clearing error flag';
  return cur;
}

/** Perl's scalar `localtime` (`Mon Dec  7 08:22:08 2026`), in the process' time zone. */
function perlLocaltime(epoch: number): string {
  const d = new Date(epoch * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

/**
 * `GET /cluster/ha/status/current` (`API2/HA/Status.pm` `status`): Sys.Audit on `/`. A cluster whose CRM
 * never ran (no resource configured) shows only `quorum` and `fencing` (standby); otherwise the first node
 * is the active master, every LRM is `active` (with services) or `idle`, and each resource gets a `service`
 * entry: those of the manager status first, then the ones only configured (`ignored`), each sorted by sid.
 */
export const haStatusCurrent: Handler = (ctx) => {
  requirePriv(ctx, '/', ['Sys.Audit']);
  const { state } = ctx;
  const local = state.nodes[0]!;
  const now = Math.floor(Date.now() / 1000);
  const out: Record<string, unknown>[] = [
    {
      id: 'quorum',
      type: 'quorum',
      node: local,
      status: ctx.state.quorate ? 'OK' : 'No quorum on node',
      quorate: ctx.state.quorate ? 1 : 0,
    },
  ];
  const resources = [...state.ha.values()].sort((a, b) => a.sid.localeCompare(b.sid));
  const crmRan = resources.length > 0;
  if (crmRan) {
    out.push({
      id: 'master',
      type: 'master',
      node: local,
      status: `${local} (active, ${perlLocaltime(now)})`,
      timestamp: now,
    });
  }
  const armed = crmRan ? 'armed' : 'standby';
  out.push({
    id: 'fencing',
    type: 'fencing',
    node: local,
    status: `${armed} (CRM watchdog ${crmRan ? 'active' : 'standby'})`,
    'armed-state': armed,
  });
  if (crmRan) {
    for (const node of [...state.nodes].sort()) {
      // `count_active_services`: the node's services not stopped, ignored or in error
      const active = resources.some(
        (r) =>
          state.guests.get(r.vmid)?.node === node && r.crm_state != null && !['stopped', 'error'].includes(r.crm_state),
      );
      const lrm = active ? 'active, watchdog active' : 'idle, watchdog standby';
      out.push({
        id: `lrm:${node}`,
        type: 'lrm',
        node,
        status: `${node} (${lrm}, ${perlLocaltime(now)})`,
        timestamp: now,
      });
    }
  }
  const inStatus = resources.filter((r) => r.crm_state != null);
  const onlyConfig = resources.filter((r) => r.crm_state == null);
  for (const r of [...inStatus, ...onlyConfig]) {
    const g = state.guests.get(r.vmid);
    const entry: Record<string, unknown> = { id: `service:${r.sid}`, type: 'service', sid: r.sid };
    if (g) entry.node = g.node;
    if (r.crm_state != null) entry.crm_state = r.crm_state;
    entry.state = verboseState(r, g);
    entry.status = `${r.sid} (${g?.node ?? '---'}, ${entry.state})`;
    entry.request_state = requestState(r);
    if (r.group !== undefined) entry.group = r.group;
    entry.max_restart = r.max_restart ?? 1;
    entry.max_relocate = r.max_relocate ?? 1;
    entry.failback = (r.failback ?? true) ? 1 : 0;
    if (r.comment !== undefined) entry.comment = r.comment;
    out.push(entry);
  }
  return out;
};

/**
 * A start API call (`vm_start` of `API2/Qemu.pm`, `API2/LXC/Status.pm`) for an HA-managed guest, as `qm
 * cleanup` makes after a VM's reboot and a rollback with `start=1`: a `hastart` task (root@pam for `qm
 * cleanup`) runs `ha-manager set <sid> --state started`, which `API2/HA/Resources.pm` `check_service_state`
 * refuses for a resource in `error`. The LRM then starts the guest, except while the CRM has it frozen.
 * Returns false when the guest was not HA-managed (the caller starts it itself). `boot: false`: the caller
 * boots it (a reboot through the power backend) unless `haHoldsDown` says HA will not.
 */
export function haStart(state: SimState, g: GuestState, user: string, opts: { boot?: boolean } = {}): boolean {
  const r = haManaged(state, g);
  if (!r) return false;
  const what = g.type === 'qemu' ? 'VM' : 'CT';
  state.tasks.runWorker({ node: g.node, type: 'hastart', id: String(g.vmid), user }, async (t) => {
    t.log(`Requesting HA start for ${what} ${g.vmid}`);
    if (r.crm_state === 'error') die(`service '${r.sid}' in error state, must be disabled and fixed first`);
    r.state = 'started';
    if (r.crm_state === 'freeze') return; // the LRM does not touch frozen services
    r.crm_state = 'started';
    if (opts.boot === false) return; // the caller's power backend brings it up
    await state.sleep(state.taskDelayMs); // the LRM's next round
    if (!state.closed && g.status === 'stopped') bootGuest(g);
  });
  return true;
}

/** Whether HA leaves a managed guest down after its start was handed to it (error: refused; freeze: LRM idle). */
export function haHoldsDown(state: SimState, g: GuestState): boolean {
  const r = haManaged(state, g);
  return r !== undefined && (r.crm_state === 'error' || r.crm_state === 'freeze');
}
