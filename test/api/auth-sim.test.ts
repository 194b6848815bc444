import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import express from 'express';
import {
  authCallerOf,
  authenticate,
  checkGuests,
  FailureLimiter,
  PveProxyPermissionSource,
  requireRoot,
} from '../../daemon/api/auth/index.js';
import { simFor } from '../sim/fixture.js';
import { TOKEN } from '../sim/test-client.js';
import type { Sim } from '../sim/types.js';

type Answer = { data?: unknown; error: { code: string; message: string } };
const CI = { id: 'alice@pve!ci', secret: '7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01', privsep: true };

/** alice: PVEVMAdmin on pool prod (101); bob: PVEAuditor on / with NoAccess on /vms/102; carol: VM.Audit on 101. */
async function setup(t: TestContext): Promise<{ sim: Sim; base: string; source: PveProxyPermissionSource }> {
  const { sim } = await simFor(t, { tokens: [TOKEN, CI] });
  sim.addUser('alice@pve');
  sim.addUser('bob@pve');
  sim.addUser('carol@pve');
  sim.addRole('Looker', ['VM.Audit']);
  sim.setAcl({ path: '/pool/prod', roles: ['PVEVMAdmin'], users: ['alice@pve'] });
  sim.setAcl({ path: '/', roles: ['PVEAuditor'], users: ['bob@pve'] });
  sim.setAcl({ path: '/vms/102', roles: ['NoAccess'], users: ['bob@pve'] });
  sim.setAcl({ path: '/vms/101', roles: ['Looker'], users: ['carol@pve'] });
  sim.setAcl({ path: '/', roles: ['PVEAuditor'], tokens: [CI.id] });
  const source = new PveProxyPermissionSource({ url: sim.url, fingerprint: sim.fingerprint, cacheSeconds: 30 });
  t.after(() => source.close());
  const app = express();
  app.use(express.json());
  app.use(authenticate({ source, wwwKeyPath: sim.wwwKeyPath, limiter: new FailureLimiter({ limit: 100 }) }));
  app.get('/whoami', (_q, s) => {
    const c = authCallerOf(s);
    s.json({ data: { userid: c.userid, tokenid: c.tokenid } });
  });
  const guestRoute = (action: 'read' | 'run') => async (q: express.Request, s: express.Response) => {
    const vmids = (q.body?.vmids ?? String(q.query.vmids).split(',').map(Number)) as number[];
    const refused = await checkGuests(
      authCallerOf(s),
      vmids.map((vmid) => ({ vmid, transport: vmid === 200 ? 'qga' : 'pct', pool: vmid === 101 ? 'prod' : undefined })),
      action,
      { pveMajor: 9 },
    );
    if (refused.length) {
      s.status(403).json({ error: { code: 'forbidden', message: refused.map((r) => r.message).join('; ') } });
      return;
    }
    s.status(action === 'run' ? 202 : 200).json({ data: vmids });
  };
  app.get('/guests', guestRoute('read'));
  app.post('/runs', guestRoute('run'));
  app.get('/audit', requireRoot('audit'), (_q, s) => {
    s.json({ data: [] });
  });
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { sim, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source };
}

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

const cookie = (ticket: string) => ({ cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}` });

test('sim: a ticket user, a token and root are identified through pveproxy /access/permissions', async (t) => {
  const { sim, base } = await setup(t);
  const alice = sim.ticketFor('alice@pve');
  assert.deepEqual((await call(base, 'GET', '/whoami', cookie(alice.ticket))).body, { data: { userid: 'alice@pve' } });
  const viaHeader = await call(base, 'GET', '/whoami', { authorization: `PVEAuthCookie=${alice.ticket}` });
  assert.equal(viaHeader.status, 200);
  const tok = await call(base, 'GET', '/whoami', { authorization: `PVEAPIToken=${CI.id}=${CI.secret}` });
  assert.deepEqual(tok.body.data, { userid: 'alice@pve', tokenid: CI.id });
  assert.equal(
    sim.requests.filter((r) => r.path.includes('/access/permissions')).at(-1)?.authid,
    CI.id,
    'the token itself was presented to pveproxy',
  );
});

test('sim: forged, expired and unknown-user tickets and a wrong token secret → 401 invalid ticket/token', async (t) => {
  const { sim, base } = await setup(t);
  const { ticket } = sim.ticketFor('alice@pve');
  for (const bad of [
    ticket.replace('alice@pve', 'bob@pve'),
    sim.ticketFor('alice@pve', { ageSeconds: 7200 }).ticket,
    sim.ticketFor('nobody@pve').ticket,
  ]) {
    const res = await call(base, 'GET', '/whoami', cookie(bad));
    assert.equal(res.status, 401, bad);
    assert.deepEqual(res.body.error, { code: 'unauthenticated', message: 'authentication failure - invalid ticket' });
  }
  const tok = await call(base, 'GET', '/whoami', {
    authorization: `PVEAPIToken=${CI.id}=00000000-0000-0000-0000-000000000000`,
  });
  assert.equal(tok.status, 401);
  assert.equal(tok.body.error.message, 'authentication failure - invalid token');
});

test('sim: CSRF from the simulator is accepted; another user’s is refused; tokens need none', async (t) => {
  const { sim, base } = await setup(t);
  const alice = sim.ticketFor('alice@pve');
  const ok = await call(
    base,
    'POST',
    '/runs',
    { ...cookie(alice.ticket), CSRFPreventionToken: alice.csrf },
    {
      vmids: [101],
    },
  );
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  const wrong = await call(
    base,
    'POST',
    '/runs',
    { ...cookie(alice.ticket), CSRFPreventionToken: sim.ticketFor('bob@pve').csrf },
    { vmids: [101] },
  );
  assert.equal(wrong.status, 401);
  assert.match(wrong.body.error.message, /invalid CSRFPreventionToken/);
  const root = await call(
    base,
    'POST',
    '/runs',
    { authorization: `PVEAPIToken=${TOKEN.id}=${TOKEN.secret}` },
    {
      vmids: [101, 102, 200],
    },
  );
  assert.equal(root.status, 202);
});

test('sim: VM.Audit only → 403 naming the missing privileges; pool admin reaches pool members only', async (t) => {
  const { sim, base } = await setup(t);
  const carol = sim.ticketFor('carol@pve');
  assert.equal((await call(base, 'GET', '/guests?vmids=101', cookie(carol.ticket))).status, 200);
  const run = await call(
    base,
    'POST',
    '/runs',
    { ...cookie(carol.ticket), CSRFPreventionToken: carol.csrf },
    {
      vmids: [101],
    },
  );
  assert.equal(run.status, 403);
  assert.deepEqual(run.body.error, {
    code: 'forbidden',
    message: 'VM 101: missing VM.Snapshot, VM.PowerMgmt on /vms/101',
  });
  const alice = sim.ticketFor('alice@pve');
  const outside = await call(
    base,
    'POST',
    '/runs',
    { ...cookie(alice.ticket), CSRFPreventionToken: alice.csrf },
    {
      vmids: [101, 103],
    },
  );
  assert.equal(outside.status, 403);
  assert.equal(outside.body.error.message, 'VM 103: missing VM.Snapshot, VM.PowerMgmt on /vms/103');
});

test('sim: NoAccess on one guest wins over an inherited auditor role (asked per path)', async (t) => {
  const { sim, base } = await setup(t);
  const bob = sim.ticketFor('bob@pve');
  assert.equal((await call(base, 'GET', '/guests?vmids=101,103', cookie(bob.ticket))).status, 200);
  const denied = await call(base, 'GET', '/guests?vmids=101,102', cookie(bob.ticket));
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.message, 'VM 102: missing VM.Audit on /vms/102');
  assert.equal((await call(base, 'GET', '/audit', cookie(bob.ticket))).status, 200);
  const carol = sim.ticketFor('carol@pve');
  const noAudit = await call(base, 'GET', '/audit', cookie(carol.ticket));
  assert.equal(noAudit.status, 403);
  assert.equal(noAudit.body.error.message, 'permission denied - missing Sys.Audit on /');
});

test('sim: answers are cached per credential hash for auth_cache_seconds', async (t) => {
  const { sim, base, source } = await setup(t);
  const alice = sim.ticketFor('alice@pve');
  for (let i = 0; i < 3; i++) await call(base, 'GET', '/whoami', cookie(alice.ticket));
  assert.equal(sim.requests.filter((r) => r.path.includes('/access/permissions')).length, 1);
  for (const k of source.cacheKeys()) assert.ok(!k.includes(alice.ticket) && !k.includes('alice'));
});
