// A stand-in for pveum, proxmox-backup-manager and dpkg-query (which one: STAND_IN_KIND below), keeping its
// state in a JSON file and appending every argv to a log, one JSON array a line. The first two lines are
// written by test/setup/stand-ins.ts: `const STATE = …; const KIND = …;`.

import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
appendFileSync(`${STATE}.log`, `${JSON.stringify([KIND, ...args])}\n`);
const st = JSON.parse(readFileSync(STATE, 'utf8'));
const save = () => writeFileSync(STATE, JSON.stringify(st, null, 1));
const fail = (msg, code = 255) => {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
};
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const json = (v) => process.stdout.write(`${JSON.stringify(v)}\n`);
const words = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));

function dpkg() {
  const pkg = args[args.length - 1];
  const v = st.packages[pkg];
  if (!v) fail(`dpkg-query: no packages found matching ${pkg}`, 1);
  process.stdout.write(`installed ${v}`);
}

function checkPrivs(list) {
  for (const p of list) if (!st.validPrivs.includes(p)) fail(`invalid privilege '${p}'`);
}

function pveum() {
  const [a, b, c, d, e] = words;
  const privs = () => (opt('privs') ?? '').split(/[ ,;]+/).filter(Boolean);
  if (a === 'role' && b === 'list')
    return json(Object.entries(st.roles).map(([roleid, p]) => ({ roleid, privs: p.join(','), special: 0 })));
  if (a === 'role' && b === 'add') {
    if (st.roles[c]) fail(`role '${c}' already exists`);
    checkPrivs(privs());
    st.roles[c] = privs().sort();
    return save();
  }
  if (a === 'role' && b === 'modify') {
    if (!st.roles[c]) fail(`role '${c}' does not exist`);
    checkPrivs(privs());
    st.roles[c] = privs().sort();
    return save();
  }
  if (a === 'role' && b === 'delete') {
    if (!st.roles[c]) fail(`role '${c}' does not exist`);
    delete st.roles[c];
    st.acls = st.acls.filter((x) => x.roleid !== c);
    return save();
  }
  if (a === 'user' && b === 'list')
    return json(Object.keys(st.users).map((userid) => ({ userid, enable: 1, expire: 0 })));
  if (a === 'user' && b === 'add') {
    if (st.users[c]) fail(`create user failed: user '${c}' already exists`);
    st.users[c] = { comment: opt('comment'), tokens: {} };
    return save();
  }
  if (a === 'user' && b === 'delete') {
    if (!st.users[c]) fail(`delete user failed: user '${c}' does not exist`);
    delete st.users[c];
    st.acls = st.acls.filter((x) => x.ugid !== c && !x.ugid.startsWith(`${c}!`));
    return save();
  }
  if (a === 'user' && b === 'token') return pveumToken(c, d, e);
  if (a === 'acl') return pveumAcl(b, c);
  fail(`unknown command 'pveum ${args.join(' ')}'`);
}

function pveumToken(verb, user, name) {
  const u = st.users[user];
  if (!u) fail(`no such user ('${user}')`);
  if (verb === 'list')
    return json(Object.entries(u.tokens).map(([tokenid, t]) => ({ tokenid, privsep: t.privsep, expire: 0 })));
  if (verb === 'add') {
    if (u.tokens[name]) fail('Token already exists.');
    const value = st.secrets.shift() ?? randomUUID();
    u.tokens[name] = { privsep: Number(opt('privsep') ?? 1) };
    save();
    return json({ 'full-tokenid': `${user}!${name}`, info: { privsep: String(u.tokens[name].privsep) }, value });
  }
  if (!u.tokens[name]) fail(`no such token '${name}' for user '${user}'`);
  if (verb === 'modify') u.tokens[name].privsep = Number(opt('privsep') ?? u.tokens[name].privsep);
  else if (verb === 'remove') {
    delete u.tokens[name];
    st.acls = st.acls.filter((x) => x.ugid !== `${user}!${name}`);
  } else fail(`unknown token command '${verb}'`);
  save();
}

function pveumAcl(verb, path) {
  if (verb === 'list') return json(st.acls);
  const type = opt('tokens') ? 'token' : 'user';
  const ugid = opt('tokens') ?? opt('users');
  const roleid = opt('roles');
  if (verb === 'modify') {
    if (!st.roles[roleid] && !st.builtinRoles.includes(roleid)) fail(`role '${roleid}' does not exist`);
    const [user, token] = ugid.split('!');
    if (!st.users[user] || (token && !st.users[user].tokens[token])) fail(`${type} '${ugid}' does not exist`);
    if (!st.acls.some((x) => x.path === path && x.ugid === ugid && x.roleid === roleid))
      st.acls.push({ path, type, ugid, roleid, propagate: 1 });
  } else if (verb === 'delete') {
    st.acls = st.acls.filter((x) => !(x.path === path && x.ugid === ugid && x.roleid === roleid));
  } else fail(`unknown acl command '${verb}'`);
  save();
}

function pbm() {
  const [a, b, c, d] = words;
  if (a === 'user' && b === 'list') return json(Object.keys(st.users).map((userid) => ({ userid, enable: true })));
  if (a === 'user' && b === 'create') {
    if (st.users[c]) fail(`user '${c}' already exists.`);
    st.users[c] = { tokens: [] };
    return save();
  }
  if (a === 'user' && b === 'remove') {
    if (!st.users[c]) fail(`user '${c}' does not exist.`);
    delete st.users[c];
    return save();
  }
  const u = st.users[c];
  if (a === 'user' && !u) fail(`user '${c}' does not exist.`);
  if (a === 'user' && b === 'list-tokens') return json(u.tokens.map((tokenid) => ({ tokenid, enable: true })));
  if (a === 'user' && b === 'generate-token') {
    const id = `${c}!${d}`;
    if (u.tokens.includes(id)) fail(`token '${d}' for user '${c}' already exists.`);
    u.tokens.push(id);
    save();
    const value = st.secrets.shift() ?? randomUUID();
    return process.stdout.write(`Result: ${JSON.stringify({ tokenid: id, value }, null, 2)}\n`);
  }
  if (a === 'user' && b === 'delete-token') {
    const id = `${c}!${d}`;
    if (!u.tokens.includes(id)) fail(`no such token '${d}' for user '${c}'`);
    u.tokens = u.tokens.filter((t) => t !== id);
    return save();
  }
  if (a === 'acl' && b === 'list') return json(st.acls);
  if (a === 'acl' && b === 'update') {
    const ugid = opt('auth-id');
    const [user] = ugid.split('!');
    if (!st.users[user] || (ugid.includes('!') && !st.users[user].tokens.includes(ugid)))
      fail(`no such user '${ugid}'`);
    if (!st.builtinRoles.includes(d)) fail(`role '${d}' does not exist`);
    const same = (x) => x.path === c && x.ugid === ugid && x.roleid === d;
    if (opt('delete') === '1') st.acls = st.acls.filter((x) => !same(x));
    else if (!st.acls.some(same)) st.acls.push({ path: c, ugid, ugid_type: 'user', propagate: true, roleid: d });
    return save();
  }
  fail(`unknown command 'proxmox-backup-manager ${args.join(' ')}'`);
}

if (KIND === 'dpkg-query') dpkg();
else if (KIND === 'pveum') pveum();
else pbm();
