import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtinRoles, csrfToken } from './access.js';
import { simFor } from './fixture.js';
import { call, TOKEN } from './test-client.js';
import type { Sim } from './types.js';

const CI = { id: 'alice@pve!ci', secret: '7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01', privsep: true };
const cookie = (ticket: string) => ({ Cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}` });

/** alice: PVEVMAdmin on pool `prod` (guest 101); bob: PVEAuditor on `/`; alice@pve!ci: privsep, PVEAuditor on `/`. */
async function accessSim(t: Parameters<typeof simFor>[0]): Promise<Sim> {
  const { sim } = await simFor(t, { tokens: [TOKEN, CI] });
  sim.addUser('alice@pve', { password: 'alice-pw' });
  sim.addUser('bob@pve', { password: 'bob-pw' });
  sim.setAcl({ path: '/pool/prod', roles: ['PVEVMAdmin'], users: ['alice@pve'] });
  sim.setAcl({ path: '/', roles: ['PVEAuditor'], users: ['bob@pve'] });
  sim.setAcl({ path: '/', roles: ['PVEAuditor'], tokens: [CI.id] });
  return sim;
}

test('built-in roles follow $privgroups', () => {
  const roles = builtinRoles();
  assert.ok(roles.get('PVEVMAdmin')!.has('VM.Snapshot'));
  assert.ok(roles.get('PVEVMAdmin')!.has('VM.GuestAgent.Unrestricted'));
  assert.ok(roles.get('PVEVMUser')!.has('VM.PowerMgmt'));
  assert.ok(!roles.get('PVEVMUser')!.has('VM.Snapshot'));
  assert.deepEqual([...roles.get('PVEAuditor')!].sort(), [
    'Datastore.Audit',
    'Mapping.Audit',
    'Pool.Audit',
    'SDN.Audit',
    'Sys.Audit',
    'VM.Audit',
    'VM.GuestAgent.Audit',
  ]);
  assert.ok(roles.get('Administrator')!.has('Permissions.Modify'));
  assert.ok(!roles.get('PVEAdmin')!.has('Permissions.Modify'));
  assert.ok(!roles.get('PVEAdmin')!.has('Mapping.Modify'));
  assert.equal(roles.get('NoAccess')!.size, 0);
});

test('POST /access/ticket logs in with a password, renews with the ticket, refuses a wrong password', async (t) => {
  const sim = await accessSim(t);
  const res = await call(sim, 'POST', '/access/ticket', {
    auth: null,
    form: { username: 'alice', realm: 'pve', password: 'alice-pw' },
  });
  assert.equal(res.status, 200, res.text);
  const d = res.json?.data as { username: string; ticket: string; CSRFPreventionToken: string; cap: object };
  assert.equal(d.username, 'alice@pve');
  assert.match(d.ticket, /^PVE:alice@pve:[0-9A-F]{8}::[A-Za-z0-9+/]+=*$/);
  const [hex] = d.CSRFPreventionToken.split(':');
  // the CSRF formula, independently: HEX:base64nopad(HMAC_SHA256(secret, "HEX:user")), secret from pve-www.key
  const key = readFileSync(sim.wwwKeyPath);
  const secret = createHmac('sha256', '').update(key).digest('base64').replace(/=+$/, '');
  const sig = createHmac('sha256', secret).update(`${hex}:alice@pve`).digest('base64').replace(/=+$/, '');
  assert.equal(d.CSRFPreventionToken, `${hex}:${sig}`);
  assert.equal(csrfToken(key, 'alice@pve', Number.parseInt(hex!, 16)), d.CSRFPreventionToken);
  assert.deepEqual(Object.keys(d.cap).sort(), ['access', 'dc', 'mapping', 'nodes', 'sdn', 'storage', 'vms']);
  assert.equal((d.cap as Record<string, Record<string, number>>).vms!['VM.Snapshot'], 1);

  const renew = await call(sim, 'POST', '/access/ticket', {
    auth: null,
    form: { username: 'alice@pve', password: d.ticket },
  });
  assert.equal(renew.status, 200, renew.text);
  assert.equal((renew.json!.data as { username: string }).username, 'alice@pve');

  for (const form of [
    { username: 'alice@pve', password: 'wrong' },
    { username: 'nobody@pve', password: 'x' },
    { username: 'bob@pve', password: d.ticket }, // alice's ticket is not bob's
  ]) {
    const bad = await call(sim, 'POST', '/access/ticket', { auth: null, form });
    assert.equal(bad.status, 401, JSON.stringify(form));
    assert.equal(bad.statusText, 'authentication failure');
    assert.equal(bad.json?.message, 'authentication failure\n');
  }

  // verify mode: path + privs
  const ok = await call(sim, 'POST', '/access/ticket', {
    auth: null,
    form: { username: 'alice@pve', password: d.ticket, path: '/vms/101', privs: 'VM.Snapshot' },
  });
  assert.equal(ok.status, 200, ok.text);
  const no = await call(sim, 'POST', '/access/ticket', {
    auth: null,
    form: { username: 'alice@pve', password: d.ticket, path: '/vms/102', privs: 'VM.Snapshot' },
  });
  assert.equal(no.status, 401);
});

test('a ticket authenticates GET without CSRF; other methods need the right CSRFPreventionToken', async (t) => {
  const sim = await accessSim(t);
  const { ticket, csrf } = sim.ticketFor('alice@pve');
  const viaCookie = await call(sim, 'GET', '/version', { auth: null, headers: cookie(ticket) });
  assert.equal(viaCookie.status, 200);
  const viaHeader = await call(sim, 'GET', '/version', { auth: `PVEAuthCookie=${ticket}` });
  assert.equal(viaHeader.status, 200);
  assert.equal(sim.requests.at(-1)?.authid, 'alice@pve');

  const snap = '/nodes/pve1/lxc/101/snapshot';
  const missing = await call(sim, 'POST', snap, { auth: null, headers: cookie(ticket), form: { snapname: 's1' } });
  assert.equal(missing.status, 401);
  assert.equal(missing.statusText, 'Permission denied - invalid csrf token');
  assert.equal(missing.text, '');
  const other = sim.ticketFor('bob@pve').csrf; // valid, but for another user
  const wrong = await call(sim, 'POST', snap, {
    auth: null,
    headers: { ...cookie(ticket), CSRFPreventionToken: other },
    form: { snapname: 's1' },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.statusText, 'Permission denied - invalid csrf token');
  const good = await call(sim, 'POST', snap, {
    auth: null,
    headers: { ...cookie(ticket), CSRFPreventionToken: csrf },
    form: { snapname: 's1' },
  });
  assert.equal(good.status, 200, good.text);

  // the cookie wins over a token; API tokens need no CSRF token
  const both = await call(sim, 'GET', '/version', { headers: cookie('PVE:root@pam:00000000::AAAA') });
  assert.equal(both.statusText, 'Authentication failed!');
  const tok = await call(sim, 'POST', snap, { form: { snapname: 's2' } });
  assert.equal(tok.status, 200);
});

test('forged, expired, future and unknown-user tickets get 401 Authentication failed!', async (t) => {
  const sim = await accessSim(t);
  const { ticket } = sim.ticketFor('alice@pve');
  const [plain, sig] = ticket.split('::') as [string, string];
  const forged = [
    ticket.replace('alice@pve', 'bob@pve'), // other user, alice's signature
    `${plain}::${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`,
    sim.ticketFor('alice@pve', { ageSeconds: 7200 }).ticket,
    sim.ticketFor('alice@pve', { ageSeconds: -301 }).ticket,
    sim.ticketFor('nobody@pve').ticket,
    'garbage',
  ];
  for (const bad of forged) {
    const res = await call(sim, 'GET', '/version', { auth: null, headers: cookie(bad) });
    assert.equal(res.status, 401, bad);
    assert.equal(res.statusText, 'Authentication failed!', bad);
  }
  for (const age of [7190, -290]) {
    const res = await call(sim, 'GET', '/version', {
      auth: null,
      headers: cookie(sim.ticketFor('alice@pve', { ageSeconds: age }).ticket),
    });
    assert.equal(res.status, 200, String(age));
  }
});

async function perms(sim: Sim, auth: { ticket?: string; token?: string }, query: Record<string, string> = {}) {
  const opts = auth.ticket
    ? { auth: null, headers: cookie(auth.ticket), query }
    : { auth: `PVEAPIToken=${auth.token}`, query };
  const res = await call(sim, 'GET', '/access/permissions', opts);
  assert.equal(res.status, 200, res.text);
  return res.json?.data as Record<string, Record<string, number>>;
}

test('permissions: VMAdmin on a pool reaches its guests (not propagated), nothing else', async (t) => {
  const sim = await accessSim(t);
  const { ticket } = sim.ticketFor('alice@pve');
  const one = await perms(sim, { ticket }, { path: '/vms/101' });
  assert.deepEqual(Object.keys(one), ['/vms/101']);
  assert.equal(one['/vms/101']!['VM.Snapshot'], 0);
  assert.equal(one['/vms/101']!['VM.PowerMgmt'], 0);
  assert.equal(one['/vms/101']!['Sys.Audit'], undefined);
  assert.deepEqual(await perms(sim, { ticket }, { path: '/vms/102' }), { '/vms/102': {} });
  const all = await perms(sim, { ticket });
  assert.deepEqual(Object.keys(all).sort(), ['/pool/prod', '/vms/101']);
  assert.equal(all['/pool/prod']!['VM.Snapshot'], 1);
});

test('permissions: Auditor on / propagates everywhere; NoAccess below wins', async (t) => {
  const sim = await accessSim(t);
  sim.setAcl({ path: '/vms/102', roles: ['NoAccess'], users: ['bob@pve'] });
  const { ticket } = sim.ticketFor('bob@pve');
  const all = await perms(sim, { ticket });
  assert.deepEqual(all['/'], {
    'Datastore.Audit': 1,
    'Mapping.Audit': 1,
    'Pool.Audit': 1,
    'SDN.Audit': 1,
    'Sys.Audit': 1,
    'VM.Audit': 1,
    'VM.GuestAgent.Audit': 1,
  });
  assert.equal(all['/vms/101']!['VM.Audit'], 1);
  assert.equal(all['/vms']!['VM.Audit'], 1);
  assert.equal(all['/vms/102'], undefined);
  const one = await perms(sim, { ticket }, { path: '/vms/200' });
  assert.equal(one['/vms/200']!['VM.Audit'], 1);
  assert.equal(one['/vms/200']!['VM.Snapshot'], undefined);
});

test('permissions: a privsep token gets the intersection of its ACLs and its user', async (t) => {
  const sim = await accessSim(t);
  const token = `${CI.id}=${CI.secret}`;
  // token: Auditor on / (propagated); user: VMAdmin via pool on 101 only
  const p101 = await perms(sim, { token }, { path: '/vms/101' });
  assert.deepEqual(p101, { '/vms/101': { 'VM.Audit': 0, 'VM.GuestAgent.Audit': 0 } });
  assert.deepEqual(await perms(sim, { token }, { path: '/vms/200' }), { '/vms/200': {} });
  // the owner may read the token's map; another user without Sys.Audit on /access may not
  const alice = sim.ticketFor('alice@pve').ticket;
  assert.deepEqual(await perms(sim, { ticket: alice }, { userid: CI.id, path: '/vms/101' }), p101);
  const res = await call(sim, 'GET', '/access/permissions', {
    auth: null,
    headers: cookie(alice),
    query: { userid: 'bob@pve' },
  });
  assert.equal(res.status, 403);
  assert.equal(res.statusText, 'Permission check failed (/access, Sys.Audit)');
  // without privsep the token has the user's privileges
  assert.deepEqual(sim.permissions('alice@pve!ci', '/pool/prod')['VM.Snapshot'], undefined);
});

test('permissions: root@pam and an unconfigured token have every privilege', async (t) => {
  const sim = await accessSim(t);
  sim.addUser('root@pam', { password: 'root-pw' });
  const login = await call(sim, 'POST', '/access/ticket', {
    auth: null,
    form: { username: 'root@pam', password: 'root-pw' },
  });
  const { ticket } = login.json!.data as { ticket: string };
  const root = await perms(sim, { ticket }, { path: '/vms/102' });
  assert.equal(root['/vms/102']!['Permissions.Modify'], 1);
  assert.equal(root['/vms/102']!['Sys.PowerMgmt'], 1);
  const tok = await perms(sim, { token: `${TOKEN.id}=${TOKEN.secret}` }, { path: '/' });
  assert.equal(tok['/']!['VM.Snapshot'], 1);
  assert.equal(Object.keys(tok['/']!).length, Object.keys(root['/vms/102']!).length);
});

test('cluster resources and guest lists show only guests with VM.Audit once the caller has ACLs', async (t) => {
  const sim = await accessSim(t);
  const vmids = async (opts: Parameters<typeof call>[3], path = '/cluster/resources') => {
    const res = await call(sim, 'GET', path, { ...opts, query: path === '/cluster/resources' ? { type: 'vm' } : {} });
    assert.equal(res.status, 200, res.text);
    return (res.json!.data as Array<{ vmid: number }>).map((g) => g.vmid).sort();
  };
  const alice = { auth: null, headers: cookie(sim.ticketFor('alice@pve').ticket) };
  assert.deepEqual(await vmids(alice), [101]);
  assert.deepEqual(await vmids(alice, '/nodes/pve1/lxc'), [101]);
  assert.deepEqual(await vmids({ auth: `PVEAPIToken=${CI.id}=${CI.secret}` }), [101]);
  const bob = { auth: null, headers: cookie(sim.ticketFor('bob@pve').ticket) };
  assert.deepEqual(await vmids(bob), [101, 102, 103, 200, 900]);
  assert.deepEqual(await vmids({}), [101, 102, 103, 200, 900]); // the unconfigured root@pam token
});
