import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { makeCert } from '../sim/cert.js';
import { type Env, startEnv } from './harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The HTTPS API with the caller's own Proxmox identity: tickets (with CSRF) and API tokens checked
 * against the simulator's pveproxy, privileges per guest, CORS for the web UI only, audit and metrics.
 */
describe('HTTPS API with Proxmox tickets, tokens and privileges', () => {
  let env: Env;
  let base: string;
  let dispatcher: Agent;
  const call = async (
    method: string,
    path: string,
    opts: { ticket?: { ticket: string; csrf?: string }; token?: string; body?: unknown; origin?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (opts.ticket) headers.cookie = `PVEAuthCookie=${encodeURIComponent(opts.ticket.ticket)}`;
    if (opts.ticket?.csrf) headers.CSRFPreventionToken = opts.ticket.csrf;
    if (opts.token) headers.authorization = `PVEAPIToken=${opts.token}`;
    if (opts.origin) headers.origin = opts.origin;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      dispatcher,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: text.startsWith('{') ? JSON.parse(text) : undefined,
    };
  };

  before(async () => {
    env = await startEnv({ guests: [{ vmid: 171 }, { vmid: 172 }, { vmid: 173 }] });
    const cert = await makeCert('pve1');
    const [certPath, keyPath] = [join(env.dir, 'api.pem'), join(env.dir, 'api.key')];
    writeFileSync(certPath, cert.certPem);
    writeFileSync(keyPath, cert.keyPem, { mode: 0o600 });
    const port = await freePort();
    await env.restartDaemon({
      api_port: String(port),
      api_host: '127.0.0.1',
      api_cert: certPath,
      api_key: keyPath,
      pve_www_key: env.sim.wwwKeyPath,
    });
    base = `https://127.0.0.1:${port}`;
    dispatcher = new Agent({ connect: { ca: cert.certPem, servername: 'pve1' } });
    env.sim.setGuest(171, { pool: 'web' });
    env.sim.setGuest(172, { pool: 'web' });
    env.sim.addUser('alice@pve');
    env.sim.addUser('bob@pve');
    env.sim.setAcl({ path: '/pool/web', roles: ['PVEAuditor'], users: ['alice@pve'] });
    env.sim.setAcl({ path: '/pool/web', roles: ['PVEVMAdmin'], users: ['bob@pve'] });
  });
  after(async () => {
    await dispatcher?.close();
    await env?.close();
  });

  it('answers a bad ticket with 401 and a good ticket with the guests Proxmox lets the caller see', async () => {
    const bad = await call('GET', '/guests', { ticket: { ticket: 'PVE:alice@pve:6B15F024::Zm9yZ2Vk' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, 'unauthenticated');
    const none = await call('GET', '/guests');
    assert.equal(none.status, 401);
    const alice = await call('GET', '/guests', { ticket: env.sim.ticketFor('alice@pve') });
    assert.equal(alice.status, 200, alice.text);
    assert.deepEqual(
      (alice.json.data as { vmid: number }[]).map((g) => g.vmid),
      [171, 172],
      'only the web pool',
    );
  });

  it('refuses a run to a caller without VM.PowerMgmt, naming the missing privilege', async () => {
    const t = env.sim.ticketFor('alice@pve');
    const r = await call('POST', '/runs', { ticket: t, body: { selector: ['171'], exclude: [] } });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'forbidden');
    assert.match(r.json.error.message, /VM 171: missing VM\.Snapshot, VM\.PowerMgmt on \/vms\/171/);
  });

  it('refuses a non-GET without a CSRF token or with a wrong one; plans with a right one', async () => {
    const t = env.sim.ticketFor('bob@pve');
    const body = { selector: ['171-173'], exclude: [], dry_run: true };
    const missing = await call('POST', '/plan', { ticket: { ticket: t.ticket }, body });
    assert.equal(missing.status, 401);
    const wrong = await call('POST', '/plan', {
      ticket: { ticket: t.ticket, csrf: env.sim.ticketFor('alice@pve').csrf },
      body,
    });
    assert.equal(wrong.status, 401);
    const ok = await call('POST', '/plan', { ticket: t, body });
    assert.equal(ok.status, 200, ok.text);
    const plans = ok.json.data as { vmid: number; skip_reason: string | null; updates_available: number }[];
    assert.deepEqual(
      plans.map((p) => p.vmid),
      [171, 172],
      'guest 173 (outside the pool) is not even shown',
    );
    assert.ok(plans.every((p) => p.skip_reason === null && p.updates_available === 5));
  });

  it('works with an API token, and grants CORS only to the web UI origin', async () => {
    const ok = await call('GET', '/guests', { token: env.token, origin: 'https://pve1:8006' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://pve1:8006');
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    const evil = await call('GET', '/guests', { token: env.token, origin: 'https://evil.example' });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const pre = await call('OPTIONS', '/runs', { origin: 'https://evil.example' });
    assert.equal(pre.status, 403);
    assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
  });

  it('records every mutating call in the audit log, and serves metrics to Sys.Audit only', async () => {
    const t = env.sim.ticketFor('bob@pve');
    const run = await call('POST', '/runs', { ticket: t, body: { selector: ['172'], exclude: [], dry_run: true } });
    assert.equal(run.status, 202, run.text);
    const cli = await env.cli('--output-format', 'json', 'audit', '--action', 'run.start');
    const entries = JSON.parse(cli.out) as { user: string; via: string; outcome: string }[];
    assert.ok(
      entries.some((e) => e.user === 'bob@pve' && e.via === 'https' && e.outcome === 'ok'),
      cli.out,
    );
    assert.ok(
      entries.some((e) => e.user === 'alice@pve' && e.outcome === 'forbidden'),
      cli.out,
    );
    const denied = await call('GET', '/metrics', { ticket: t });
    assert.equal(denied.status, 403);
    const m = await call('GET', '/metrics', { token: env.token });
    assert.equal(m.status, 200);
    assert.match(m.text, /^pvepatch_runs_total\{state="[a-z]+"\} \d+$/m);
  });
});
