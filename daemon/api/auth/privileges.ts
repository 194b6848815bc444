/** `{path: {privilege: propagate}}` as `GET /access/permissions` returns it (1 = propagates to children). */
export type PermMap = Record<string, Record<string, number>>;

export type AuthAction = 'read' | 'plan' | 'run' | 'settings' | 'audit' | 'metrics';

/** What the engine knows about a guest when checking a caller against it. */
export interface GuestRef {
  vmid: number;
  pool?: string;
  /** The transport pvepatch reaches the guest through; 'qga' needs the agent exec privilege. */
  transport?: string;
}

export interface AuthCaller {
  userid: string;
  tokenid?: string;
  /** The whole map PVE returns without `path`: paths with an ACL, pool members, top-level paths - empty ones left out. */
  perms: PermMap;
  /**
   * Exact answers for paths (`GET /access/permissions?path=…`, cached); a path with no privilege comes
   * back as `{}`. Non-enumerable where the PermissionSource sets it.
   */
  resolve?: (paths: string[]) => Promise<PermMap>;
}

export interface Refusal {
  vmid: number;
  path: string;
  missing: string[];
  message: string;
}

function parents(path: string): string[] {
  const segs = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = segs.length - 1; i >= 1; i--) out.push(`/${segs.slice(0, i).join('/')}`);
  out.push('/');
  return out;
}

function has(perms: PermMap, path: string, priv: string, exact: boolean): boolean {
  const privs = Object.hasOwn(perms, path) ? perms[path] : undefined;
  if (!privs || !Object.hasOwn(privs, priv)) return false;
  return exact || Boolean(privs[priv]);
}

/**
 * Whether `perms` grants `priv` on `path`. A path PVE lists carries its effective privileges and is
 * final (an explicit NoAccess lists the path with nothing); an absent path inherits from the nearest
 * listed ancestor (`/vms/301` → `/vms` → `/`), and only privileges marked as propagating. A guest's
 * pool path `/pool/<pool>` (and its ancestors) grants for its members the same way.
 * PVE's whole map leaves out paths with no privilege (an explicit NoAccess too), so the walk-up is
 * only safe on maps that list the path exactly - use `checkGuests`, which asks for absent paths.
 */
export function hasPriv(perms: PermMap, path: string, priv: string, opts: { pool?: string } = {}): boolean {
  if (Object.hasOwn(perms, path)) return has(perms, path, priv, true);
  for (const p of parents(path)) {
    if (Object.hasOwn(perms, p)) {
      if (has(perms, p, priv, false)) return true;
      break;
    }
  }
  if (opts.pool) {
    const poolPath = `/pool/${opts.pool}`;
    for (const p of [poolPath, ...parents(poolPath)].filter((p) => p !== '/')) {
      if (Object.hasOwn(perms, p)) return has(perms, p, priv, false);
    }
  }
  return false;
}

/** The agent exec privilege: PVE 9 `VM.GuestAgent.Unrestricted`, PVE 8 `VM.Monitor`; unknown → either. */
export function agentExecPrivs(pveMajor?: number): string[] {
  if (pveMajor === undefined) return ['VM.GuestAgent.Unrestricted', 'VM.Monitor'];
  return pveMajor >= 9 ? ['VM.GuestAgent.Unrestricted'] : ['VM.Monitor'];
}

/**
 * Privileges a guest action needs, each entry a list of alternatives (any one suffices).
 * read → VM.Audit; plan/run → VM.Snapshot + VM.PowerMgmt (+ the agent exec privilege over qga).
 */
export function guestRequirements(action: AuthAction, guest: GuestRef, pveMajor?: number): string[][] {
  if (action === 'read') return [['VM.Audit']];
  if (action === 'plan' || action === 'run') {
    const reqs = [['VM.Snapshot'], ['VM.PowerMgmt']];
    if (guest.transport === 'qga') reqs.push(agentExecPrivs(pveMajor));
    return reqs;
  }
  return [];
}

/** Node-wide actions: settings need `Sys.Modify` on `/`, audit and metrics `Sys.Audit` on `/`. */
export function rootRequirement(action: AuthAction): string | undefined {
  if (action === 'settings') return 'Sys.Modify';
  if (action === 'audit' || action === 'metrics') return 'Sys.Audit';
  return undefined;
}

function describe(alternatives: string[]): string {
  return alternatives.join(' or ');
}

/** The guests `caller` may not touch for a guest `action`, each with the missing privileges named. */
export function refusals(
  caller: AuthCaller,
  guests: GuestRef[],
  action: AuthAction,
  opts: { pveMajor?: number } = {},
): Refusal[] {
  const out: Refusal[] = [];
  for (const g of guests) {
    const path = `/vms/${g.vmid}`;
    const missing = guestRequirements(action, g, opts.pveMajor)
      .filter((alts) => !alts.some((p) => hasPriv(caller.perms, path, p, { pool: g.pool })))
      .map(describe);
    if (missing.length === 0) continue;
    out.push({ vmid: g.vmid, path, missing, message: `VM ${g.vmid}: missing ${missing.join(', ')} on ${path}` });
  }
  return out;
}

/**
 * `refusals` on exact per-guest answers: PVE leaves paths without any privilege out of the whole map,
 * so an explicit NoAccess on `/vms/<id>` is only visible when that path is asked for. Guest paths the
 * whole map does not list are asked for through `caller.resolve` (when present) before evaluating.
 */
export async function checkGuests(
  caller: AuthCaller,
  guests: GuestRef[],
  action: AuthAction,
  opts: { pveMajor?: number } = {},
): Promise<Refusal[]> {
  const missing = [...new Set(guests.map((g) => `/vms/${g.vmid}`))].filter((p) => !Object.hasOwn(caller.perms, p));
  if (!caller.resolve || missing.length === 0) return refusals(caller, guests, action, opts);
  const exact = await caller.resolve(missing);
  return refusals({ ...caller, perms: { ...caller.perms, ...exact } }, guests, action, opts);
}

/** For node-wide actions (settings, audit, metrics): the refusal message, or undefined when allowed. */
export function rootRefusal(caller: AuthCaller, action: AuthAction): string | undefined {
  const priv = rootRequirement(action);
  if (!priv || hasPriv(caller.perms, '/', priv)) return undefined;
  return `permission denied - missing ${priv} on /`;
}
