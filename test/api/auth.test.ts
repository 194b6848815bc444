import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import express from 'express';
import { Agent } from 'undici';
import {
  AuthError,
  authCallerOf,
  authenticate,
  CsrfVerifier,
  computeCsrfToken,
  credentialKey,
  credentialsOf,
  csrfSecret,
  FailureLimiter,
  hasPriv,
  type PermMap,
  PveProxyPermissionSource,
  parseTicket,
  refusals,
  requireRoot,
} from '../../daemon/api/auth/index.js';
import { isLoopback, localMetricsRequest, unless } from '../../daemon/api/https-access.js';
import { makeCert } from '../sim/cert.js';

const NOW = 1_800_000_000;
type Answer = { data?: unknown; error: { code: string; message: string } };
const hex = (t: number) => t.toString(16).toUpperCase();
const ticketOf = (userid: string, t = NOW) => `PVE:${userid}:${hex(t)}::c2lnbmF0dXJlK2hlcmU/Zm9v==`;
const SECRET = '0b4d2c4e-6b0a-4c53-9f3e-3f1a2b7c9d10';

function req(headers: Record<string, string>) {
  return { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) };
}

function rejects401(fn: () => unknown, re: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof AuthError && e.status === 401 && re.test(e.message));
}

test('credentials: cookie (URI-escaped), Authorization ticket, API token with = or space', () => {
  const t = ticketOf('alice@pve');
  const c = credentialsOf(req({ Cookie: `foo=bar; PVEAuthCookie=${encodeURIComponent(t)}; x=y` }));
  assert.equal(c.kind, 'ticket');
  assert.ok(
    c.kind === 'ticket' && c.userid === 'alice@pve' && c.ticket === t && c.issued === NOW && c.via === 'cookie',
  );
  const h = credentialsOf(req({ Authorization: `PVEAuthCookie=${t}` }));
  assert.ok(h.kind === 'ticket' && h.via === 'authorization' && h.userid === 'alice@pve');
  for (const sep of ['=', ' ']) {
    const k = credentialsOf(req({ Authorization: `PVEAPIToken${sep}root@pam!pvepatch=${SECRET}` }));
    assert.deepEqual(k, { kind: 'token', tokenid: 'root@pam!pvepatch', userid: 'root@pam', secret: SECRET });
  }
  // the cookie wins over a token, as in pveproxy
  const both = credentialsOf(
    req({ Cookie: `PVEAuthCookie=${encodeURIComponent(t)}`, Authorization: `PVEAPIToken=root@pam!x1=${SECRET}` }),
  );
  assert.equal(both.kind, 'ticket');
});

test('credentials: missing, malformed or oversized → 401 with a clear message that never echoes the value', () => {
  rejects401(() => credentialsOf(req({})), /no ticket/);
  rejects401(() => credentialsOf(req({ Authorization: 'Bearer abc' })), /unsupported Authorization scheme/);
  rejects401(() => credentialsOf(req({ Cookie: 'PVEAuthCookie=PVE:root@pam:0000' })), /malformed ticket/);
  rejects401(() => credentialsOf(req({ Cookie: 'PVEAuthCookie=%E0%A4%A' })), /bad URI escape/);
  rejects401(() => credentialsOf(req({ Cookie: `PVEAuthCookie=${ticketOf('no-realm')}` })), /malformed ticket user/);
  rejects401(() => credentialsOf(req({ Authorization: 'PVEAPIToken=root@pam!pvepatch' })), /malformed API token/);
  rejects401(() => credentialsOf(req({ Authorization: `PVEAPIToken=root@pam=${SECRET}` })), /malformed API token/);
  rejects401(() => credentialsOf(req({ Cookie: `a=${'x'.repeat(9000)}` })), /too long/);
  rejects401(() => parseTicket(`PVE:a@pve:${hex(NOW)}::${'A'.repeat(5000)}`), /too long/);
  try {
    credentialsOf(req({ Authorization: 'PVEAPIToken=root@pam!pvepatch=s3cr;et' }));
    assert.fail('accepted');
  } catch (e) {
    assert.ok(!(e as Error).message.includes('s3cr'));
  }
});

async function wwwKey(t: TestContext, content = 'www-key-content\n'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'pve-www.key');
  await writeFile(path, content);
  return path;
}

test('CSRF: valid token accepted; expired, future, wrong user, wrong key, tampered and missing refused', async (t) => {
  const path = await wwwKey(t);
  let now = NOW;
  const v = new CsrfVerifier(path, () => now);
  const secret = csrfSecret('www-key-content\n');
  const good = computeCsrfToken(secret, 'alice@pve', NOW);
  assert.match(good, /^[0-9A-F]{8}:[A-Za-z0-9+/]{43}$/);
  await v.verify(good, 'alice@pve');
  now = NOW + 7199;
  await v.verify(good, 'alice@pve');
  now = NOW + 7200;
  await assert.rejects(v.verify(good, 'alice@pve'), /expired/);
  now = NOW - 299;
  await v.verify(good, 'alice@pve');
  now = NOW - 300;
  await assert.rejects(v.verify(good, 'alice@pve'), /expired/);
  now = NOW;
  await assert.rejects(v.verify(good, 'bob@pve'), /invalid CSRFPreventionToken/);
  await assert.rejects(v.verify(computeCsrfToken(csrfSecret('other'), 'alice@pve', NOW), 'alice@pve'), /invalid/);
  const [time, sig] = good.split(':') as [string, string];
  const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
  await assert.rejects(v.verify(`${time}:${flipped}`, 'alice@pve'), /invalid/);
  await assert.rejects(v.verify(`${hex(NOW + 1)}:${sig}`, 'alice@pve'), /invalid/);
  await assert.rejects(v.verify(undefined, 'alice@pve'), /missing CSRFPreventionToken/);
  await assert.rejects(v.verify('garbage', 'alice@pve'), /malformed/);
});

test('CSRF: the www key is re-read when the file changes', async (t) => {
  const path = await wwwKey(t);
  const v = new CsrfVerifier(path, () => NOW);
  await v.verify(computeCsrfToken(csrfSecret('www-key-content\n'), 'a@pam', NOW), 'a@pam');
  await writeFile(path, 'rotated-key-contents\n');
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  await assert.rejects(v.verify(computeCsrfToken(csrfSecret('www-key-content\n'), 'a@pam', NOW), 'a@pam'), /invalid/);
  await v.verify(computeCsrfToken(csrfSecret('rotated-key-contents\n'), 'a@pam', NOW), 'a@pam');
});

test('privileges: exact path is final, walk-up needs propagate, pool grants for members', () => {
  const perms: PermMap = {
    '/': { 'Sys.Audit': 1, 'VM.Audit': 1 },
    '/vms': { 'VM.Audit': 1, 'VM.PowerMgmt': 0 },
    '/vms/300': {}, // explicit NoAccess
    '/pool/web': { 'VM.Snapshot': 1 },
  };
  assert.equal(hasPriv(perms, '/vms/301', 'VM.Audit'), true);
  assert.equal(hasPriv(perms, '/vms/300', 'VM.Audit'), false);
  assert.equal(hasPriv(perms, '/vms', 'VM.PowerMgmt'), true);
  assert.equal(hasPriv(perms, '/vms/301', 'VM.PowerMgmt'), false); // not propagated
  assert.equal(hasPriv(perms, '/vms/301', 'VM.Snapshot'), false);
  assert.equal(hasPriv(perms, '/vms/301', 'VM.Snapshot', { pool: 'web' }), true);
  assert.equal(hasPriv(perms, '/vms/301', 'VM.Snapshot', { pool: 'db' }), false);
  assert.equal(hasPriv({ '/': { 'VM.Audit': 1 } }, '/vms/7', 'VM.Audit'), true);
  assert.equal(hasPriv({ '/': { 'VM.Audit': 0 } }, '/vms/7', 'VM.Audit'), false);
  assert.equal(hasPriv({}, '/vms/7', 'VM.Audit'), false);
  assert.equal(hasPriv(perms, '/', 'Sys.Audit'), true);
});

test('refusals: run needs VM.Snapshot and VM.PowerMgmt, plus the agent privilege of PVE 8 or 9 over qga', () => {
  const caller = {
    userid: 'op@pve',
    perms: {
      '/vms/301': { 'VM.Audit': 1 },
      '/vms/302': { 'VM.Snapshot': 1, 'VM.PowerMgmt': 1 },
      '/vms/303': { 'VM.Snapshot': 1, 'VM.PowerMgmt': 1, 'VM.Monitor': 1 },
      '/vms/304': { 'VM.Snapshot': 1, 'VM.PowerMgmt': 1, 'VM.GuestAgent.Unrestricted': 1 },
    },
  };
  const guests = [
    { vmid: 301 },
    { vmid: 302, transport: 'qga' },
    { vmid: 303, transport: 'qga' },
    { vmid: 304, transport: 'qga' },
    { vmid: 305, transport: 'ssh' },
  ];
  const msgs = (major?: number) => refusals(caller, guests, 'run', { pveMajor: major }).map((r) => r.message);
  assert.deepEqual(msgs(9), [
    'VM 301: missing VM.Snapshot, VM.PowerMgmt on /vms/301',
    'VM 302: missing VM.GuestAgent.Unrestricted on /vms/302',
    'VM 303: missing VM.GuestAgent.Unrestricted on /vms/303',
    'VM 305: missing VM.Snapshot, VM.PowerMgmt on /vms/305',
  ]);
  assert.deepEqual(msgs(8), [
    'VM 301: missing VM.Snapshot, VM.PowerMgmt on /vms/301',
    'VM 302: missing VM.Monitor on /vms/302',
    'VM 304: missing VM.Monitor on /vms/304',
    'VM 305: missing VM.Snapshot, VM.PowerMgmt on /vms/305',
  ]);
  assert.deepEqual(msgs(undefined)[1], 'VM 302: missing VM.GuestAgent.Unrestricted or VM.Monitor on /vms/302');
  assert.deepEqual(
    refusals(caller, guests, 'read').map((r) => r.vmid),
    [302, 303, 304, 305],
  );
});

test('rate limiter: 10 failures a minute block the client with Retry-After, then it expires; bounded', () => {
  let now = 0;
  const l = new FailureLimiter({ now: () => now, maxClients: 3 });
  for (let i = 0; i < 9; i++) l.fail('1.2.3.4');
  assert.equal(l.retryAfter('1.2.3.4'), 0);
  l.fail('1.2.3.4');
  assert.equal(l.retryAfter('1.2.3.4'), 60);
  assert.equal(l.retryAfter('5.6.7.8'), 0);
  now = 30_500;
  assert.equal(l.retryAfter('1.2.3.4'), 30);
  now = 60_000;
  assert.equal(l.retryAfter('1.2.3.4'), 0);
  for (const ip of ['a', 'b', 'c', 'd', 'e']) l.fail(ip);
  assert.equal(l.size, 3);
});

/** A stand-in pveproxy answering /access/permissions over HTTPS, per credential header. */
async function fakePveproxy(t: TestContext, answers: Record<string, PermMap>) {
  const cert = await makeCert('pve1');
  const seen: Array<{ cookie?: string; authorization?: string }> = [];
  const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (rq, rs) => {
    seen.push({ cookie: rq.headers.cookie, authorization: rq.headers.authorization });
    const ticket = /PVEAuthCookie=([^;]*)/.exec(rq.headers.cookie ?? '')?.[1];
    const key = ticket ? decodeURIComponent(ticket) : (rq.headers.authorization ?? '');
    const perms = rq.url === '/api2/json/access/permissions' ? answers[key] : undefined;
    if (!perms) {
      rs.writeHead(401, 'invalid PVE ticket').end();
      return;
    }
    rs.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: perms }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, fingerprint: cert.fingerprint, seen };
}

test('permission source: asks pveproxy with the pinned fingerprint, caches by sha256, negative-caches 401', async (t) => {
  const alice = ticketOf('alice@pve');
  const tokenHeader = `PVEAPIToken=root@pam!pvepatch=${SECRET}`;
  const pve = await fakePveproxy(t, {
    [alice]: { '/vms/301': { 'VM.Audit': 1 } },
    [tokenHeader]: { '/': { 'Sys.Audit': 1 } },
  });
  let now = 0;
  const src = new PveProxyPermissionSource({ url: pve.url, fingerprint: pve.fingerprint, now: () => now });
  t.after(() => src.close());
  const cred = parseTicket(alice);
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v));
  assert.deepEqual(plain(await src.lookup(cred)), { userid: 'alice@pve', perms: { '/vms/301': { 'VM.Audit': 1 } } });
  await src.lookup(cred);
  assert.equal(pve.seen.length, 1);
  assert.equal(pve.seen[0]!.cookie, `PVEAuthCookie=${encodeURIComponent(alice)}`);
  const token = credentialsOf(req({ Authorization: tokenHeader }));
  const who = await src.lookup(token);
  assert.equal(who.tokenid, 'root@pam!pvepatch');
  assert.equal(pve.seen[1]!.authorization, tokenHeader);
  const keys = src.cacheKeys();
  assert.deepEqual(keys.sort(), [credentialKey(cred), credentialKey(token)].sort());
  for (const k of keys) {
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.ok(!k.includes(SECRET) && !alice.includes(k));
  }
  const bad = parseTicket(ticketOf('mallory@pve'));
  await assert.rejects(src.lookup(bad), (e: AuthError) => e.status === 401 && /invalid ticket/.test(e.message));
  await assert.rejects(src.lookup(bad), /invalid ticket/);
  assert.equal(pve.seen.length, 3); // the second refusal came from the negative cache
  now = 6_000;
  await assert.rejects(src.lookup(bad), /invalid ticket/);
  assert.equal(pve.seen.length, 4);
  now = 31_000;
  await src.lookup(cred);
  assert.equal(pve.seen.length, 5); // the positive entry expired after 30 s
});

test('permission source: a wrong pin or a dead pveproxy is a 502 that says pveproxy could not be asked', async (t) => {
  const pve = await fakePveproxy(t, {});
  const wrong = new PveProxyPermissionSource({ url: pve.url, fingerprint: 'AB'.repeat(32) });
  t.after(() => wrong.close());
  await assert.rejects(
    wrong.lookup(parseTicket(ticketOf('a@pve'))),
    (e: AuthError) => e.status === 502 && /could not be asked.*fingerprint mismatch/.test(e.message),
  );
  const dead = new PveProxyPermissionSource({ url: 'http://127.0.0.1:1', dispatcher: new Agent() });
  await assert.rejects(dead.lookup(parseTicket(ticketOf('a@pve'))), /could not be asked/);
  assert.equal(pve.seen.length, 0);
});

test('middleware: real express app on 127.0.0.1 - ticket + CSRF, token, bad ticket, 403 naming the privilege, 429', async (t) => {
  const keyPath = await wwwKey(t);
  const alice = ticketOf('alice@pve', Math.floor(Date.now() / 1000));
  const auditor = ticketOf('audit@pve', Math.floor(Date.now() / 1000));
  const tokenHeader = `PVEAPIToken=root@pam!pvepatch=${SECRET}`;
  const pve = await fakePveproxy(t, {
    [alice]: { '/vms': { 'VM.Audit': 1, 'VM.Snapshot': 1, 'VM.PowerMgmt': 1 } },
    [auditor]: { '/vms/301': { 'VM.Audit': 1 } },
    [tokenHeader]: { '/': { 'Sys.Audit': 1, 'VM.Audit': 1 } },
  });
  const source = new PveProxyPermissionSource({ url: pve.url, fingerprint: pve.fingerprint });
  t.after(() => source.close());
  const app = express();
  app.use(express.json());
  app.use(authenticate({ source, wwwKeyPath: keyPath, limiter: new FailureLimiter({ limit: 3 }) }));
  app.get('/whoami', (_q, s) => {
    const c = authCallerOf(s);
    s.json({ data: { userid: c.userid, tokenid: c.tokenid } });
  });
  app.post('/runs', (q, s) => {
    const refused = refusals(authCallerOf(s), [{ vmid: q.body.vmid as number }], 'run');
    if (refused.length) {
      s.status(403).json({ error: { code: 'forbidden', message: refused.map((r) => r.message).join('; ') } });
      return;
    }
    s.status(202).json({ data: 'started' });
  });
  app.get('/audit', requireRoot('audit'), (_q, s) => {
    s.json({ data: [] });
  });
  const server: Server = createHttpServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer };
  };
  const cookie = (tk: string) => ({ cookie: `PVEAuthCookie=${encodeURIComponent(tk)}` });
  const csrfFor = (userid: string) =>
    computeCsrfToken(csrfSecret('www-key-content\n'), userid, Math.floor(Date.now() / 1000));

  assert.deepEqual((await call('GET', '/whoami', cookie(alice))).body, { data: { userid: 'alice@pve' } });
  const tok = await call('GET', '/whoami', { authorization: tokenHeader });
  assert.deepEqual(tok.body.data, { userid: 'root@pam', tokenid: 'root@pam!pvepatch' });
  // a token needs no CSRF token; a ticket does on POST
  assert.equal((await call('POST', '/runs', { authorization: tokenHeader }, { vmid: 301 })).status, 403);
  const noCsrf = await call('POST', '/runs', cookie(alice), { vmid: 301 });
  assert.equal(noCsrf.status, 401);
  assert.match(noCsrf.body.error.message, /missing CSRFPreventionToken/);
  const ok = await call(
    'POST',
    '/runs',
    { ...cookie(alice), CSRFPreventionToken: csrfFor('alice@pve') },
    { vmid: 301 },
  );
  assert.equal(ok.status, 202);
  const denied = await call(
    'POST',
    '/runs',
    { ...cookie(auditor), CSRFPreventionToken: csrfFor('audit@pve') },
    { vmid: 301 },
  );
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.message, 'VM 301: missing VM.Snapshot, VM.PowerMgmt on /vms/301');
  assert.equal((await call('GET', '/audit', { authorization: tokenHeader })).status, 200);
  const noAudit = await call('GET', '/audit', cookie(alice));
  assert.deepEqual(noAudit.body, {
    error: { code: 'forbidden', message: 'permission denied - missing Sys.Audit on /' },
  });
  assert.equal(noAudit.status, 403);
  const bad = await call('GET', '/whoami', cookie(ticketOf('mallory@pve')));
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.body, {
    error: { code: 'unauthenticated', message: 'authentication failure - invalid ticket' },
  });
  assert.equal((await call('GET', '/whoami', {})).status, 401); // third failure from this address
  const limited = await call('GET', '/whoami', cookie(alice));
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, 'rate-limited');
  assert.ok(Number(limited.retryAfter) > 0);
});

test('metrics_localhost: loopback addresses only, from the socket address; other paths and methods still authenticate', async (t) => {
  for (const a of ['127.0.0.1', '127.5.6.7', '::1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9'])
    assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '::2', 'fe80::1', '127.0.0.1.example', '', undefined])
    assert.ok(!isLoopback(a), String(a));

  const keyPath = await wwwKey(t);
  let on = true;
  const local = localMetricsRequest(() => on);
  const source = new PveProxyPermissionSource({ url: 'http://127.0.0.1:1', dispatcher: new Agent() });
  t.after(() => source.close());
  const app = express();
  app.use(authenticate({ source, wwwKeyPath: keyPath, limiter: new FailureLimiter({ limit: 3 }), anonymous: local }));
  const r = express.Router();
  r.use(['/audit', '/metrics'], unless(local, requireRoot('audit')));
  r.get('/metrics', (_q, s) => {
    s.type('text/plain').send('pvepatch_up 1\n');
  });
  r.post('/metrics', (_q, s) => {
    s.json({ data: 'posted' });
  });
  r.get('/runs', (_q, s) => {
    s.json({ data: [] });
  });
  app.use('/api/v1', r);
  const server: Server = createHttpServer(app);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const status = async (method: string, path: string, headers: Record<string, string> = {}) =>
    (await fetch(`${base}${path}`, { method, headers })).status;

  // anonymous metrics are not failed authentications: many of them block nothing
  for (let i = 0; i < 5; i++) assert.equal(await status('GET', '/api/v1/metrics'), 200);
  // other spellings, methods and paths authenticate (and fail: no credentials)
  assert.equal(await status('GET', '/api/v1/Metrics'), 401);
  assert.equal(await status('POST', '/api/v1/metrics'), 401);
  assert.equal(await status('GET', '/api/v1/runs', { 'x-forwarded-for': '127.0.0.1' }), 401);
  // the third failure reached the limit: the client is blocked, but local metrics are still served
  assert.equal(await status('GET', '/api/v1/runs'), 429);
  assert.equal(await status('GET', '/api/v1/metrics'), 200);
  on = false;
  assert.equal(await status('GET', '/api/v1/metrics'), 429);
});
