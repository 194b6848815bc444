import { createHmac, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Users, roles, ACLs, tickets and CSRF tokens as pve-access-control (5ccd07d9) `AccessControl.pm`,
 * `RPCEnvironment.pm` and pve-common (f665029e) `Ticket.pm` do them. Read, not copied.
 */

/** `AccessControl.pm` `$privgroups`: category → root/admin/user/audit privileges. */
const PRIVGROUPS: Record<string, { root: string[]; admin: string[]; user: string[]; audit: string[] }> = {
  VM: {
    root: [],
    admin: [
      'VM.Config.Disk',
      'VM.Config.CPU',
      'VM.Config.Memory',
      'VM.Config.Network',
      'VM.Config.HWType',
      'VM.Config.Options',
      'VM.Allocate',
      'VM.Clone',
      'VM.GuestAgent.Unrestricted',
      'VM.Migrate',
      'VM.Replicate',
      'VM.Snapshot',
      'VM.Snapshot.Rollback',
    ],
    user: [
      'VM.Config.CDROM',
      'VM.Config.Cloudinit',
      'VM.Console',
      'VM.Backup',
      'VM.GuestAgent.FileRead',
      'VM.GuestAgent.FileSystemMgmt',
      'VM.GuestAgent.FileWrite',
      'VM.PowerMgmt',
    ],
    audit: ['VM.Audit', 'VM.GuestAgent.Audit'],
  },
  Sys: {
    root: ['Sys.PowerMgmt', 'Sys.Modify', 'Sys.Incoming', 'Sys.AccessNetwork'],
    admin: ['Sys.Console', 'Sys.Syslog'],
    user: [],
    audit: ['Sys.Audit'],
  },
  Datastore: {
    root: [],
    admin: ['Datastore.Allocate', 'Datastore.AllocateTemplate'],
    user: ['Datastore.AllocateSpace'],
    audit: ['Datastore.Audit'],
  },
  SDN: { root: [], admin: ['SDN.Allocate', 'SDN.Audit'], user: ['SDN.Use'], audit: ['SDN.Audit'] },
  User: {
    root: ['Realm.Allocate'],
    admin: ['User.Modify', 'Group.Allocate', 'Realm.AllocateUser'],
    user: [],
    audit: [],
  },
  Pool: { root: [], admin: ['Pool.Allocate'], user: ['Pool.Audit'], audit: ['Pool.Audit'] },
  Mapping: { root: [], admin: ['Mapping.Modify'], user: ['Mapping.Use'], audit: ['Mapping.Audit'] },
};

/** `create_roles`: the built-in (special) roles. */
export function builtinRoles(): Map<string, Set<string>> {
  const valid = new Set(['Permissions.Modify']);
  const roles = new Map<string, Set<string>>([['NoAccess', new Set()]]);
  const add = (role: string, privs: string[]) => {
    const set = roles.get(role) ?? new Set<string>();
    roles.set(role, set);
    for (const p of privs) set.add(p);
  };
  for (const [cat, g] of Object.entries(PRIVGROUPS)) {
    for (const p of [...g.root, ...g.admin, ...g.user, ...g.audit]) valid.add(p);
    add(`PVE${cat}Admin`, [...g.admin, ...g.user, ...g.audit]);
    add('PVEAdmin', [...g.admin, ...g.user, ...g.audit]);
    if (g.user.length > 0) add(`PVE${cat}User`, [...g.user, ...g.audit]);
    add('PVEAuditor', g.audit);
  }
  roles.get('PVEAdmin')!.delete('Mapping.Modify');
  roles.set('PVETemplateUser', new Set(['VM.Clone', 'VM.Audit']));
  roles.set('Administrator', valid);
  return roles;
}

export const ALL_PRIVILEGES: readonly string[] = [...builtinRoles().get('Administrator')!].sort();

/** privilege → propagate flag (0/1), as `RPCEnvironment::permissions` returns it. */
export type PrivMap = Record<string, 0 | 1>;

export interface SimAcl {
  /** ACL path, e.g. `/`, `/vms/101`, `/pool/prod`. */
  path: string;
  roles: string[];
  users?: string[];
  tokens?: string[];
  /** Default true (`pveum acl modify --propagate`, default 1). */
  propagate?: boolean;
}

interface AclNode {
  users: Map<string, Map<string, 0 | 1>>;
  tokens: Map<string, Map<string, 0 | 1>>;
}

const TOKEN_RE = /^([^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/;

/** `normalize_path`. */
export function normalizeAclPath(path: string): string | undefined {
  if (!path) return undefined;
  let p = path.replace(/\/+/g, '/').replace(/\/$/, '');
  if (!p) p = '/';
  if (!p.startsWith('/')) p = `/${p}`;
  return /^[A-Za-z0-9.\-_/]+$/.test(p) ? p : undefined;
}

/** `$ticket_lifetime`, `$auth_graceperiod` (AccessControl.pm). */
export const TICKET_LIFETIME = 7200;
export const AUTH_GRACE = 300;

const b64nopad = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const hex8 = (t: number) => Math.floor(t).toString(16).toUpperCase().padStart(8, '0');

/** `$get_csrfr_secret`: base64 (no padding) of HMAC-SHA256 with an empty key over the contents of pve-www.key. */
export function csrfSecret(wwwKey: Buffer | string): string {
  return b64nopad(createHmac('sha256', '').update(wwwKey).digest());
}

/**
 * pve-common `Ticket.pm` `assemble_csrf_prevention_token`: `HEX:base64nopad(HMAC_SHA256(key=secret, "HEX:userid"))`
 * with `secret = csrfSecret(pve-www.key)`; `time` in seconds (default now).
 */
export function csrfToken(wwwKey: Buffer | string, userid: string, time = Date.now() / 1000): string {
  const ts = hex8(time);
  const digest = b64nopad(createHmac('sha256', csrfSecret(wwwKey)).update(`${ts}:${userid}`).digest());
  return `${ts}:${digest}`;
}

/** `verify_csrf_prevention_token`: valid for −300 s < age < 7200 s. */
export function verifyCsrfToken(
  wwwKey: Buffer | string,
  userid: string,
  token: string | undefined,
  now = Date.now() / 1000,
): boolean {
  const m = /^([A-Z0-9]{8}):(\S+)$/.exec(token ?? '');
  if (!m) return false;
  const expected = b64nopad(createHmac('sha256', csrfSecret(wwwKey)).update(`${m[1]}:${userid}`).digest());
  const age = Math.floor(now) - Number.parseInt(m[1]!, 16);
  return expected === m[2] && age > -AUTH_GRACE && age < TICKET_LIFETIME;
}

/** `compute_api_permission`: which privileges count for each `cap` section. */
const CAP_RE: Record<string, RegExp> = {
  vms: /^(VM\.|Permissions\.Modify)/,
  access: /^((User|Group)\.|Permissions\.Modify)/,
  storage: /^(Datastore\.|Permissions\.Modify)/,
  nodes: /^(Sys\.|Permissions\.Modify)/,
  sdn: /^(SDN\.|Permissions\.Modify)/,
  dc: /^(Sys\.Audit|Sys\.Modify|SDN\.)/,
  mapping: /^(Mapping\.|Permissions.Modify)/,
};

export interface SimUserInfo {
  password?: string;
  /** Default true; a disabled user's tickets fail. */
  enable?: boolean;
}

/** The access state of one simulator: users, tokens, roles, ACLs, the ticket key and pve-www.key. */
export class SimAccess {
  readonly roles = builtinRoles();
  readonly users = new Map<string, SimUserInfo>([['root@pam', {}]]);
  /** token id → { secret, privsep } (privsep undefined = not configured). */
  readonly tokens = new Map<string, { secret: string; privsep?: boolean }>();
  private readonly acl = new Map<string, AclNode>();
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  readonly wwwKey: Buffer;
  readonly wwwKeyPath: string;
  private readonly dir: string;

  constructor(
    tokens: Array<{ id: string; secret: string; privsep?: boolean }>,
    /** Returns pool → vmids (from the guests' `pool`). */
    private readonly pools: () => Map<string, number[]>,
  ) {
    for (const t of tokens) {
      this.tokens.set(t.id, { secret: t.secret, privsep: t.privsep });
      const user = TOKEN_RE.exec(t.id)?.[1];
      if (user && !this.users.has(user)) this.users.set(user, {});
    }
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
    // pve-cluster makes /etc/pve/pve-www.key with `openssl genrsa` (an RSA key in PEM); only its bytes matter
    const www = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    this.wwwKey = Buffer.from(www.export({ type: 'pkcs1', format: 'pem' }) as string);
    this.dir = mkdtempSync(join(tmpdir(), 'pve-sim-'));
    this.wwwKeyPath = join(this.dir, 'pve-www.key');
    writeFileSync(this.wwwKeyPath, this.wwwKey, { mode: 0o600 });
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  addUser(userid: string, info: SimUserInfo = {}): void {
    if (!/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(userid)) throw new Error(`sim: invalid userid '${userid}'`);
    this.users.set(userid, { ...this.users.get(userid), ...info });
  }

  addRole(name: string, privs: string[]): void {
    const valid = this.roles.get('Administrator')!;
    for (const p of privs) if (!valid.has(p)) throw new Error(`invalid privilege '${p}'`);
    this.roles.set(name, new Set(privs));
  }

  setAcl(entry: SimAcl): void {
    const path = normalizeAclPath(entry.path);
    if (!path) throw new Error(`sim: invalid ACL path '${entry.path}'`);
    for (const r of entry.roles) if (!this.roles.has(r)) throw new Error(`role '${r}' does not exist`);
    const node = this.acl.get(path) ?? { users: new Map(), tokens: new Map() };
    this.acl.set(path, node);
    const flag: 0 | 1 = entry.propagate === false ? 0 : 1;
    const put = (map: Map<string, Map<string, 0 | 1>>, id: string) => {
      const roles = map.get(id) ?? new Map<string, 0 | 1>();
      map.set(id, roles);
      for (const r of entry.roles) roles.set(r, flag);
    };
    for (const u of entry.users ?? []) put(node.users, u);
    for (const t of entry.tokens ?? []) put(node.tokens, t);
  }

  /** ACL paths that have entries (`iterate_acl_tree`). */
  aclPaths(): string[] {
    return [...this.acl.keys()];
  }

  private mentioned(id: string): boolean {
    for (const node of this.acl.values()) if (node.users.has(id) || node.tokens.has(id)) return true;
    return false;
  }

  /**
   * A token from SimOptions.tokens whose `privsep` was not given and that no ACL names (neither the token nor
   * its user) has every privilege, so callers that set up no access keep working.
   */
  unrestricted(authid: string): boolean {
    const tok = this.tokens.get(authid);
    if (!tok || tok.privsep !== undefined) return false;
    const user = TOKEN_RE.exec(authid)?.[1] ?? '';
    return !this.mentioned(authid) && !this.mentioned(user);
  }

  /** Whether this caller's lists are filtered (everything except root@pam and unrestricted tokens). */
  restricted(authid: string): boolean {
    return authid !== 'root@pam' && !this.unrestricted(authid);
  }

  /** `AccessControl::roles` (no groups): the most specific ACL along the path wins, propagation honoured. */
  private rolesAt(authid: string, path: string): Map<string, 0 | 1> {
    const isToken = TOKEN_RE.test(authid);
    const segs = path === '/' ? [''] : path.split('/');
    let roles = new Map<string, 0 | 1>();
    let cur = '';
    segs.forEach((seg, i) => {
      const final = i === segs.length - 1;
      cur = seg === '' ? cur : `${cur}/${seg}`;
      const node = this.acl.get(cur === '' ? '/' : cur);
      if (!node) return;
      const ri = isToken ? node.tokens.get(authid) : node.users.get(authid);
      if (!ri) return;
      const next = new Map<string, 0 | 1>();
      for (const [role, propagate] of ri) if (final || propagate) next.set(role, propagate);
      if (next.size > 0) roles = next;
    });
    if (roles.has('NoAccess')) return new Map([['NoAccess', roles.get('NoAccess')!]]);
    return roles;
  }

  /** `RPCEnvironment::permissions`: privilege → propagate flag of a user or token on a path. */
  permissions(authid: string, path: string): PrivMap {
    if (authid === 'root@pam' || this.unrestricted(authid)) {
      return Object.fromEntries(ALL_PRIVILEGES.map((p) => [p, 1 as const]));
    }
    const tm = TOKEN_RE.exec(authid);
    if (tm) {
      const tok = this.tokens.get(authid);
      if (!tok) return {};
      const userPerms = this.permissions(tm[1]!, path);
      if (!tok.privsep) return userPerms;
    } else if (!this.users.has(authid)) {
      return {};
    }
    // compile_acl_path
    let roles = this.rolesAt(authid, path);
    const poolRoles = new Set<string>();
    const vm = /^\/vms\/(\d+)$/.exec(path);
    if (vm) {
      for (const [pool, vmids] of this.pools()) {
        if (!vmids.includes(Number(vm[1]))) continue;
        for (const r of this.rolesAt(authid, `/pool/${pool}`).keys()) poolRoles.add(r);
      }
    }
    if (poolRoles.size > 0 && !roles.has('NoAccess')) {
      if (poolRoles.has('NoAccess')) roles = new Map([['NoAccess', 0]]);
      else for (const r of poolRoles) if (!roles.has(r)) roles.set(r, 0);
    }
    const privs: PrivMap = {};
    for (const [role, propagate] of roles) {
      for (const p of this.roles.get(role) ?? []) privs[p] = (privs[p] || propagate) as 0 | 1;
    }
    if (tm && tm[1] !== 'root@pam') {
      const user = this.permissions(tm[1]!, path);
      const out: PrivMap = {};
      for (const p of Object.keys(privs)) if (user[p] !== undefined) out[p] = (user[p] && privs[p]) as 0 | 1;
      return out;
    }
    return privs;
  }

  /** `RPCEnvironment::check` with noerr. */
  check(authid: string, path: string, privs: string[]): boolean {
    const perms = this.permissions(authid, path);
    return privs.every((p) => perms[p] !== undefined);
  }

  /** `get_effective_permissions`: default top-level paths, ACL paths and pool members; empty maps left out. */
  effectivePermissions(authid: string): Record<string, PrivMap> {
    const paths = new Set(['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms']);
    for (const p of this.acl.keys()) paths.add(p);
    for (const vmids of this.pools().values()) for (const id of vmids) paths.add(`/vms/${id}`);
    const out: Record<string, PrivMap> = {};
    for (const p of paths) {
      const perms = this.permissions(authid, p);
      if (Object.keys(perms).length > 0) out[p] = perms;
    }
    return out;
  }

  /** `compute_api_permission`: the `cap` of a ticket answer. */
  cap(userid: string): Record<string, Record<string, 1>> {
    const res: Record<string, Record<string, 1>> = {};
    for (const k of Object.keys(CAP_RE)) res[k] = {};
    const paths = new Set([
      '/',
      '/nodes',
      '/access/groups',
      '/vms',
      '/storage',
      '/sdn',
      '/mapping',
      ...this.acl.keys(),
    ]);
    for (const path of paths) {
      const perms = this.permissions(userid, path);
      const top = /^\/(\w+)/.exec(path)?.[1] ?? 'dc';
      for (const priv of Object.keys(perms)) {
        if (top === 'pool') {
          if (priv.startsWith('VM.')) res.vms![priv] = 1;
          else if (priv.startsWith('Datastore.')) res.storage![priv] = 1;
          else if (priv === 'Permissions.Modify') {
            res.storage![priv] = 1;
            res.vms![priv] = 1;
          }
          continue;
        }
        const re = CAP_RE[top];
        if (re?.test(priv)) res[top]![priv] = 1;
      }
    }
    return res;
  }

  /** `assemble_rsa_ticket` with prefix `PVE`: `PVE:<userid, ':' escaped>:<HEX time>::<base64 RSA-SHA256 sig>`. */
  ticket(userid: string, time = Date.now() / 1000): string {
    const plain = `PVE:${userid.replace(/:/g, '%3A')}:${hex8(time)}`;
    return `${plain}::${sign('sha256', Buffer.from(plain), this.privateKey).toString('base64')}`;
  }

  /**
   * `verify_ticket` + `check_user_enabled`: the userid, or undefined. The sim's auth key counts as older than a
   * ticket's lifetime and never rotated, so the age window is −300 s < age < 7200 s.
   */
  verifyTicket(ticket: string | undefined, now = Date.now() / 1000): string | undefined {
    const m = /^(PVE:\S+)::([^:\s]+)$/.exec(ticket ?? '');
    if (!m) return undefined;
    let ok = false;
    try {
      ok = verify('sha256', Buffer.from(m[1]!), this.publicKey, Buffer.from(m[2]!, 'base64'));
    } catch {
      return undefined;
    }
    if (!ok) return undefined;
    const d = /^PVE:(?:(\S+):)?([A-Z0-9]{8})$/.exec(m[1]!);
    if (!d?.[1]) return undefined;
    const age = Math.floor(now) - Number.parseInt(d[2]!, 16);
    if (!(age > -AUTH_GRACE && age < TICKET_LIFETIME)) return undefined;
    const userid = decodeURIComponent(d[1]);
    const user = this.users.get(userid);
    return user && user.enable !== false ? userid : undefined;
  }

  csrf(userid: string, time?: number): string {
    return csrfToken(this.wwwKey, userid, time);
  }

  verifyCsrf(userid: string, token: string | undefined): boolean {
    return verifyCsrfToken(this.wwwKey, userid, token);
  }
}
