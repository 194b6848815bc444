/**
 * argv builders for pveum, proxmox-backup-manager and dpkg-query (pure; never a shell string).
 * The binaries come from `SetupBins`, so tests point them at stand-ins.
 */

export interface SetupBins {
  pveum: string;
  pbm: string;
  dpkgQuery: string;
}

export const DEFAULT_BINS: SetupBins = {
  pveum: '/usr/sbin/pveum',
  pbm: '/usr/sbin/proxmox-backup-manager',
  dpkgQuery: '/usr/bin/dpkg-query',
};

const JSON_OUT = ['--output-format', 'json'];

/** `installed 9.0.6` for an installed package (status first: a removed package keeps its version). */
export function dpkgVersion(b: SetupBins, pkg: string): string[] {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a JS template
  return [b.dpkgQuery, '-W', '-f=${db:Status-Status} ${Version}', pkg];
}

export const pveum = {
  roleList: (b: SetupBins) => [b.pveum, 'role', 'list', ...JSON_OUT],
  roleAdd: (b: SetupBins, role: string, privs: string[]) => [b.pveum, 'role', 'add', role, '--privs', privs.join(',')],
  /** Without `--append` the role gets exactly these privileges. */
  roleModify: (b: SetupBins, role: string, privs: string[]) => [
    b.pveum,
    'role',
    'modify',
    role,
    '--privs',
    privs.join(','),
  ],
  roleDelete: (b: SetupBins, role: string) => [b.pveum, 'role', 'delete', role],
  userList: (b: SetupBins) => [b.pveum, 'user', 'list', ...JSON_OUT],
  userAdd: (b: SetupBins, user: string, comment: string) => [b.pveum, 'user', 'add', user, '--comment', comment],
  userDelete: (b: SetupBins, user: string) => [b.pveum, 'user', 'delete', user],
  tokenList: (b: SetupBins, user: string) => [b.pveum, 'user', 'token', 'list', user, ...JSON_OUT],
  tokenAdd: (b: SetupBins, user: string, name: string, comment: string) => [
    b.pveum,
    'user',
    'token',
    'add',
    user,
    name,
    '--privsep',
    '1',
    '--comment',
    comment,
    ...JSON_OUT,
  ],
  tokenPrivsep: (b: SetupBins, user: string, name: string) => [
    b.pveum,
    'user',
    'token',
    'modify',
    user,
    name,
    '--privsep',
    '1',
  ],
  tokenRemove: (b: SetupBins, user: string, name: string) => [b.pveum, 'user', 'token', 'remove', user, name],
  aclList: (b: SetupBins) => [b.pveum, 'acl', 'list', ...JSON_OUT],
  aclModify: (b: SetupBins, path: string, who: AclWho, role: string) => [
    b.pveum,
    'acl',
    'modify',
    path,
    who.type === 'token' ? '--tokens' : '--users',
    who.id,
    '--roles',
    role,
  ],
  aclDelete: (b: SetupBins, path: string, who: AclWho, role: string) => [
    b.pveum,
    'acl',
    'delete',
    path,
    who.type === 'token' ? '--tokens' : '--users',
    who.id,
    '--roles',
    role,
  ],
};

/** A user or an API token in an ACL. */
export interface AclWho {
  type: 'user' | 'token';
  id: string;
}

export const pbm = {
  userList: (b: SetupBins) => [b.pbm, 'user', 'list', ...JSON_OUT],
  userCreate: (b: SetupBins, user: string, comment: string) => [b.pbm, 'user', 'create', user, '--comment', comment],
  userRemove: (b: SetupBins, user: string) => [b.pbm, 'user', 'remove', user],
  tokenList: (b: SetupBins, user: string) => [b.pbm, 'user', 'list-tokens', user, ...JSON_OUT],
  /** Prints `Result: {"tokenid": …, "value": …}` (docs/user-management.rst); parsed from the first `{`. */
  tokenGenerate: (b: SetupBins, user: string, name: string) => [b.pbm, 'user', 'generate-token', user, name],
  tokenDelete: (b: SetupBins, user: string, name: string) => [b.pbm, 'user', 'delete-token', user, name],
  aclList: (b: SetupBins) => [b.pbm, 'acl', 'list', ...JSON_OUT],
  aclUpdate: (b: SetupBins, path: string, role: string, authId: string) => [
    b.pbm,
    'acl',
    'update',
    path,
    role,
    '--auth-id',
    authId,
  ],
  aclDelete: (b: SetupBins, path: string, role: string, authId: string) => [
    b.pbm,
    'acl',
    'update',
    path,
    role,
    '--auth-id',
    authId,
    '--delete',
    '1',
  ],
};

/** An argv as a POSIX shell would need it typed, for display only (it is never run through a shell). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
