import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { simFor } from './fixture.js';
import { call, TOKEN } from './test-client.js';

test('a request without credentials gets 401 No ticket, empty, as pve-http-server sends it', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'GET', '/version', { auth: null });
  assert.equal(res.status, 401);
  assert.equal(res.statusText, 'No ticket');
  assert.equal(res.text, '');
  assert.equal(res.headers['content-type'], undefined);
  assert.equal(sim.requests[0]?.status, 401);
});

test('a wrong secret, an unknown token or a malformed header gets 401 Authentication failed!', async (t) => {
  const { sim } = await simFor(t);
  const headers = [
    `PVEAPIToken=${TOKEN.id}=00000000-0000-0000-0000-000000000000`,
    `PVEAPIToken=root@pam!other=${TOKEN.secret}`,
    `PVEAPIToken=${TOKEN.id}`,
    `PVEAPIToken=root@pam=${TOKEN.secret}`,
  ];
  for (const auth of headers) {
    const res = await call(sim, 'GET', '/version', { auth });
    assert.equal(res.status, 401, auth);
    assert.equal(res.statusText, 'Authentication failed!', auth);
  }
});

test('a ticket cookie wins over the token, and a bogus ticket fails', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'GET', '/version', { headers: { Cookie: 'PVEAuthCookie=PVE:root@pam:0000' } });
  assert.equal(res.status, 401);
  assert.equal(res.statusText, 'Authentication failed!');
});

test('the token is accepted with = or a space after PVEAPIToken, and recorded', async (t) => {
  const { sim } = await simFor(t);
  for (const auth of [`PVEAPIToken=${TOKEN.id}=${TOKEN.secret}`, `PVEAPIToken ${TOKEN.id}=${TOKEN.secret}`]) {
    const res = await call(sim, 'GET', '/version', { auth });
    assert.equal(res.status, 200, auth);
    assert.deepEqual(res.json?.data, { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' });
  }
  assert.equal(sim.requests[1]?.auth, `PVEAPIToken ${TOKEN.id}=${TOKEN.secret}`);
  assert.equal(sim.requests[1]?.authid, TOKEN.id);
});

test('the 401 delay of pve-http-server can be switched on', async (t) => {
  const { sim } = await simFor(t, { authFailDelayMs: 150 });
  const started = Date.now();
  const res = await call(sim, 'GET', '/version', { auth: null });
  assert.equal(res.status, 401);
  assert.ok(Date.now() - started >= 140);
});

test('API answers carry application/json;charset=UTF-8, whatever their status', async (t) => {
  const { sim } = await simFor(t);
  const answers = [
    await call(sim, 'GET', '/version'),
    await call(sim, 'GET', '/version', { query: { x: 1 } }),
    await call(sim, 'GET', '/nodes/pve1/lxc/999/config'),
    await call(sim, 'GET', '/nodes/pve1/nothing'),
  ];
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 400, 500, 501],
  );
  for (const r of answers) {
    assert.equal(r.headers['content-type'], 'application/json;charset=UTF-8');
    assert.equal(r.headers.server, 'pve-api-daemon/3.0');
  }
});

test('the certificate is self-signed for 127.0.0.1 and its fingerprint is the SHA-256 of its DER', async (t) => {
  const { sim } = await simFor(t);
  const cert = new X509Certificate(sim.caPem);
  assert.match(cert.subject, /CN=pve1/);
  assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.match(sim.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const digest = createHash('sha256').update(cert.raw).digest('hex').toUpperCase();
  assert.equal(sim.fingerprint.replace(/:/g, ''), digest);
  const presented = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: sim.port, ca: sim.caPem }, () => {
      resolve(socket.getPeerCertificate().raw);
      socket.end();
    });
    socket.on('error', reject);
  });
  assert.deepEqual(presented, cert.raw);
});
