import { normalizeAclPath } from './access.js';
import { SimHttpError } from './errors.js';
import type { Handler } from './router.js';

/** pve-access-control `API2/AccessControl.pm` `create_ticket` / `verify_auth`; any failure: 401 `authentication failure`. */
export const createTicket: Handler = (ctx) => {
  const access = ctx.state.access;
  const p = ctx.params;
  let username = p.username ?? '';
  if (p.realm) username += `@${p.realm}`;
  const fail = () => new SimHttpError(401, 'authentication failure\n');
  const user = access.users.get(username);
  if (!user || user.enable === false) throw fail(); // check_user_enabled
  const password = p.password ?? '';
  const ticketUser = access.verifyTicket(password);
  const passwordOk = user.password !== undefined && user.password === password;
  let res: Record<string, unknown>;
  if (p.path && p.privs) {
    const normpath = normalizeAclPath(p.path);
    if (!normpath) throw fail();
    if (ticketUser !== username && !passwordOk) throw fail();
    const privs = p.privs.split(/[;, ]+/).filter(Boolean);
    if (privs.length === 0 || !access.check(username, normpath, privs)) throw fail();
    res = { username };
  } else {
    // a valid ticket of the user (or of root@pam) renews; otherwise the password
    if (!(ticketUser !== undefined && (ticketUser === 'root@pam' || ticketUser === username)) && !passwordOk) {
      throw fail();
    }
    res = { ticket: access.ticket(username), username, CSRFPreventionToken: access.csrf(username) };
  }
  res.cap = access.cap(username);
  return res;
};

/** pve-access-control `API2/AccessControl.pm` `permissions`. */
export const permissions: Handler = (ctx) => {
  const access = ctx.state.access;
  const authid = ctx.authid;
  const userid = ctx.params.userid ?? authid;
  const owner = /^(.+)!/.exec(userid)?.[1];
  if (userid !== authid && owner !== authid && !access.check(authid, '/access', ['Sys.Audit'])) {
    throw new SimHttpError(403, 'Permission check failed (/access, Sys.Audit)\n');
  }
  const path = ctx.params.path;
  if (path) return { [path]: access.permissions(userid, path) };
  return access.effectivePermissions(userid);
};
