import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
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
  let port: number;
  const call = async (
    method: string,
    path: string,
    opts: {
      ticket?: { ticket: string; csrf?: string };
      token?: string;
      body?: unknown;
      origin?: string;
      /** Connect to this address of the host instead of 127.0.0.1. */
      host?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.ticket) headers.cookie = `PVEAuthCookie=${encodeURIComponent(opts.ticket.ticket)}`;
    if (opts.ticket?.csrf) headers.CSRFPreventionToken = opts.ticket.csrf;
    if (opts.token) headers.authorization = `PVEAPIToken=${opts.token}`;
    if (opts.origin) headers.origin = opts.origin;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${opts.host ? `https://${opts.host}:${port}` : base}/api/v1${path}`, {
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
    port = await freePort();
    await env.restartDaemon({
      api_port: String(port),
      // every IPv4 address: the metrics_localhost test also connects from a non-loopback one
      api_host: '0.0.0.0',
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
    // carol may read the node's settings (Sys.Audit), dave may also change them (Sys.Modify)
    env.sim.addUser('carol@pve');
    env.sim.addUser('dave@pve');
    env.sim.addRole('PVEPatchSettings', ['Sys.Audit', 'Sys.Modify']);
    env.sim.setAcl({ path: '/', roles: ['PVEAuditor'], users: ['carol@pve'] });
    env.sim.setAcl({ path: '/', roles: ['PVEPatchSettings'], users: ['dave@pve'] });
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

  /** The secret part of the daemon's own API token (what must never be shown). */
  const tokenSecret = () => env.token.slice(env.token.indexOf('=') + 1);
  const setting = (rows: { key: string }[], key: string) =>
    rows.find((r) => r.key === key) as unknown as {
      value: unknown;
      source: string;
      need_restart: boolean;
      pending?: unknown;
    };

  it('settings: Sys.Audit reads them (never the token), a PUT without Sys.Modify is refused naming it', async () => {
    const before = readFileSync(env.configPath, 'utf8');
    const carol = env.sim.ticketFor('carol@pve');
    const got = await call('GET', '/settings', { ticket: carol });
    assert.equal(got.status, 200, got.text);
    const rows = got.json.data as { key: string; value: unknown; source: string; need_restart: boolean }[];
    assert.ok(rows.length > 40 && rows.some((r) => r.key === 'metrics_localhost'));
    assert.deepEqual(setting(rows, 'pve_token'), {
      key: 'pve_token',
      value: '(set)',
      source: 'file',
      need_restart: true,
      file_only: true,
    });
    assert.equal(setting(rows, 'concurrency').source, 'default');
    assert.equal(setting(rows, 'api_port').need_restart, true);
    assert.ok(!got.text.includes(tokenSecret()), 'the token secret is never returned');

    const put = await call('PUT', '/settings', { ticket: carol, body: { set: { concurrency: 3 } } });
    assert.equal(put.status, 403, put.text);
    assert.equal(put.json.error.message, 'permission denied - missing Sys.Modify on /');
    const alice = await call('GET', '/settings', { ticket: env.sim.ticketFor('alice@pve') });
    assert.equal(alice.status, 403);
    assert.match(alice.json.error.message, /missing Sys\.Audit on \//);
    assert.equal(readFileSync(env.configPath, 'utf8'), before);
  });

  it('settings: Sys.Modify changes a reloadable key; the file keeps its comments, the daemon applies it, the audit names the user', async () => {
    writeFileSync(env.configPath, `# managed by hand\n${readFileSync(env.configPath, 'utf8')}# end\n`, { mode: 0o600 });
    const dave = env.sim.ticketFor('dave@pve');
    const put = await call('PUT', '/settings', { ticket: dave, body: { set: { concurrency: 3 }, delete: [] } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json.data, { applied: ['concurrency'], need_restart: [] });
    const text = readFileSync(env.configPath, 'utf8');
    assert.ok(text.startsWith('# managed by hand\n'), text);
    assert.ok(text.endsWith('# end\nconcurrency: 3\n'), text);
    const got = await call('GET', '/settings', { ticket: dave });
    assert.deepEqual(
      { value: setting(got.json.data, 'concurrency').value, source: setting(got.json.data, 'concurrency').source },
      { value: 3, source: 'file' },
    );

    // a key bound at start is written and named, not applied
    const restart = await call('PUT', '/settings', { ticket: dave, body: { set: { auth_cache_seconds: '10' } } });
    assert.deepEqual(restart.json.data, { applied: [], need_restart: ['auth_cache_seconds'] });
    const pending = setting((await call('GET', '/settings', { ticket: dave })).json.data, 'auth_cache_seconds');
    assert.deepEqual([pending.value, pending.pending], [30, 10]);

    const cli = await env.cli('--output-format', 'json', 'audit', '--action', 'settings.change');
    const entries = JSON.parse(cli.out) as { user: string; via: string; outcome: string }[];
    assert.ok(
      entries.some((e) => e.user === 'dave@pve' && e.via === 'https' && e.outcome === 'ok'),
      cli.out,
    );
    assert.ok(
      entries.some((e) => e.user === 'carol@pve' && e.outcome === 'forbidden'),
      cli.out,
    );
    const audit = await call('GET', '/audit?action=settings.change', { token: env.token });
    assert.ok(
      (audit.json.data as { user: string }[]).some((e) => e.user === 'dave@pve'),
      audit.text,
    );

    // the CLI over the socket: the table, and set/--unset
    const table = await env.cli('settings');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^KEY +VALUE +SOURCE +RESTART$/m);
    assert.match(table.out, /^concurrency +3 +file +no$/m);
    assert.match(table.out, /^pve_token +\(set\) +file +yes$/m);
    assert.ok(!table.out.includes(tokenSecret()));
    const set = await env.cli('settings', 'set', 'snapshot_keep=4', 'reboot_window=02:00-05:00');
    assert.equal(set.code, 0, set.err);
    assert.match(readFileSync(env.configPath, 'utf8'), /^snapshot_keep: 4\nreboot_window: 02:00-05:00\n$/m);
    const unset = await env.cli('--output-format', 'json', 'settings', 'set', '--unset', 'snapshot_keep');
    assert.deepEqual(JSON.parse(unset.out), { applied: ['snapshot_keep'], need_restart: ['auth_cache_seconds'] });
    assert.doesNotMatch(readFileSync(env.configPath, 'utf8'), /snapshot_keep/);
  });

  it('settings: an invalid value is refused (400) naming the key, a secret cannot be set; the file is unchanged', async () => {
    const before = readFileSync(env.configPath, 'utf8');
    const dave = env.sim.ticketFor('dave@pve');
    const bad = await call('PUT', '/settings', { ticket: dave, body: { set: { concurrency: 65 } } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.code, 'input-invalid');
    assert.match(bad.json.error.message, /^unable to change settings - concurrency: /);
    const window = await call('PUT', '/settings', { ticket: dave, body: { set: { reboot_window: 'nightly' } } });
    assert.equal(window.status, 400);
    assert.match(window.json.error.message, /reboot_window: expected HH:MM-HH:MM/);
    const extra = await call('PUT', '/settings', { ticket: dave, body: { set: {}, also: 1 } });
    assert.equal(extra.status, 400, 'the body is strict');
    const secret = await call('PUT', '/settings', { ticket: dave, body: { set: { pve_token: 'x@pve!y=new-secret' } } });
    assert.equal(secret.status, 403, secret.text);
    assert.match(secret.json.error.message, /'pve_token' through the API - it holds a secret; edit .* as root/);
    assert.ok(!secret.text.includes('new-secret'));
    const path = await call('PUT', '/settings', { ticket: dave, body: { set: { pct: '/tmp/pct' } } });
    assert.equal(path.status, 403);
    assert.equal(readFileSync(env.configPath, 'utf8'), before);
    const cli = await env.cli('--output-format', 'json', 'audit', '--action', 'settings.change');
    assert.ok(
      (JSON.parse(cli.out) as { outcome: string; detail?: string }[]).every((e) => !e.detail?.includes('new-secret')),
    );
  });

  it('metrics_localhost: GET /metrics from 127.0.0.1 without credentials only while on; nothing else opens', async () => {
    const off = await call('GET', '/metrics');
    assert.equal(off.status, 401);
    const dave = env.sim.ticketFor('dave@pve');
    const on = await call('PUT', '/settings', { ticket: dave, body: { set: { metrics_localhost: true } } });
    assert.deepEqual(on.json.data?.applied, ['metrics_localhost'], on.text);

    const m = await call('GET', '/metrics');
    assert.equal(m.status, 200, m.text);
    assert.match(m.text, /^pvepatch_runs_total\{state="[a-z]+"\} \d+$/m);
    const runs = await call('GET', '/runs');
    assert.equal(runs.status, 401);
    // X-Forwarded-For is not trusted: from another address of this host, metrics still need credentials
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (other) {
      const forwarded = await call('GET', '/metrics', { host: other, headers: { 'x-forwarded-for': '127.0.0.1' } });
      assert.equal(forwarded.status, 401, forwarded.text);
    }

    await call('PUT', '/settings', { ticket: dave, body: { set: { metrics_localhost: 'no' } } });
    assert.equal((await call('GET', '/metrics')).status, 401);
  });

  it('exceptions: changed with VM.Config.Options on the target, read with VM.Audit, each change audited', async () => {
    const [alice, bob] = [env.sim.ticketFor('alice@pve'), env.sim.ticketFor('bob@pve')];
    const body = (target: string) => ({ target, package: 'demo-tool', reason: 'vendor bug' });
    const denied = await call('POST', '/exceptions', { ticket: alice, body: body('171') });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.error.message, 'permission denied - missing VM.Config.Options on /vms/171');
    const made = await call('POST', '/exceptions', { ticket: bob, body: body('171') });
    assert.equal(made.status, 201, made.text);
    const id = made.json.data.id as string;
    assert.equal(made.json.data.created_by, 'bob@pve');
    for (const [target, path] of [
      ['173', '/vms/173'],
      ['tag:demo', '/vms'],
    ]) {
      const r = await call('POST', '/exceptions', { ticket: bob, body: body(target!) });
      assert.equal(r.status, 403, `${target}: ${r.text}`);
      assert.equal(r.json.error.message, `permission denied - missing VM.Config.Options on ${path}`);
    }
    const pool = await call('POST', '/exceptions', { ticket: bob, body: body('pool:web') });
    assert.equal(pool.status, 201, 'the pool itself is bob’s');
    const root = await call('POST', '/exceptions', { token: env.token, body: body('173') });
    assert.equal(root.status, 201, root.text);
    const seen = async (ticket: { ticket: string; csrf?: string }) =>
      ((await call('GET', '/exceptions', { ticket })).json.data as { target: string }[]).map((e) => e.target);
    assert.deepEqual(await seen(alice), ['171', 'pool:web'], 'not 173: no VM.Audit there');
    assert.deepEqual(await seen(env.sim.ticketFor('carol@pve')), ['171', 'pool:web', '173']);
    const upd = await call('PUT', `/exceptions/${id}`, { ticket: alice, body: { active: false } });
    assert.equal(upd.status, 403);
    const del = await call('DELETE', `/exceptions/${id}`, { ticket: bob });
    assert.equal(del.status, 200, del.text);
    const audit = JSON.parse((await env.cli('--output-format', 'json', 'audit', '--action', 'exception.*')).out) as {
      user: string;
      action: string;
      target: string;
      outcome: string;
    }[];
    assert.deepEqual(audit.map((a) => [a.user, a.action, a.target, a.outcome]).reverse(), [
      ['alice@pve', 'exception.create', '171', 'forbidden'],
      ['bob@pve', 'exception.create', '171', 'ok'],
      ['bob@pve', 'exception.create', '173', 'forbidden'],
      ['bob@pve', 'exception.create', 'tag:demo', 'forbidden'],
      ['bob@pve', 'exception.create', 'pool:web', 'ok'],
      [env.token.split('=')[0], 'exception.create', '173', 'ok'],
      ['alice@pve', 'exception.update', `exception:${id}`, 'forbidden'],
      ['bob@pve', 'exception.delete', `exception:${id}`, 'ok'],
    ]);
  });

  it('GET /permissions says per guest what the caller may do, as the daemon will judge it', async () => {
    type Perms = { user: string; sys_audit: boolean; sys_modify: boolean; guests: Record<string, unknown>[] };
    const ask = async (user: string) => {
      const r = await call('GET', '/permissions', { ticket: env.sim.ticketFor(user) });
      assert.equal(r.status, 200, r.text);
      return r.json.data as Perms;
    };
    const alice = await ask('alice@pve');
    assert.deepEqual(
      { ...alice, guests: alice.guests.map((g) => [g.vmid, g.run, g.exceptions]) },
      {
        user: 'alice@pve',
        sys_audit: false,
        sys_modify: false,
        guests: [
          [171, false, false],
          [172, false, false],
        ],
      },
    );
    assert.match(String(alice.guests[0]!.run_refused), /VM 171: missing VM\.Snapshot, VM\.PowerMgmt/);
    const bob = await ask('bob@pve');
    assert.deepEqual(
      bob.guests.map((g) => [g.vmid, g.run, g.exceptions, g.run_refused]),
      [
        [171, true, true, undefined],
        [172, true, true, undefined],
      ],
    );
    const dave = await ask('dave@pve');
    assert.equal(dave.sys_modify, true);
    assert.deepEqual(dave.guests, [], 'Sys.Modify on / shows no guest without VM.Audit');
  });

  it('rollouts and schedules: started only with the run privileges on the guests; schedules need Sys.Audit to read, Sys.Modify to change', async () => {
    const [alice, carol, dave] = ['alice@pve', 'carol@pve', 'dave@pve'].map((u) => env.sim.ticketFor(u));
    const ro = await call('POST', '/rollouts', { ticket: alice!, body: { selector: ['171'] } });
    assert.equal(ro.status, 403, ro.text);
    assert.match(ro.json.error.message, /VM 171: missing VM\.Snapshot, VM\.PowerMgmt on \/vms\/171/);
    const own = await call('GET', '/rollouts', { ticket: alice! });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json.data, [], 'without Sys.Audit only her own rollouts, and she has none');
    assert.equal((await call('GET', '/rollouts', { ticket: carol! })).status, 200);
    const body = { id: 'nightly-web', cron: '0 3 * * *', selector: ['pool:web'], mode: 'report', window_minutes: 60 };
    const denied = await call('POST', '/schedules', { ticket: carol!, body });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'permission denied - missing Sys.Modify on /');
    const made = await call('POST', '/schedules', { ticket: dave!, body });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.data.created_by, 'dave@pve');
    assert.equal(made.json.data.next.length, 5);
    const list = await call('GET', '/schedules', { ticket: carol! });
    assert.deepEqual(
      (list.json.data as { id: string }[]).map((x) => x.id),
      ['nightly-web'],
    );
    assert.equal((await call('GET', '/schedules', { ticket: alice! })).status, 403);
    assert.equal((await call('DELETE', '/schedules/nightly-web', { ticket: carol! })).status, 403);
    assert.equal((await call('DELETE', '/schedules/nightly-web', { ticket: dave! })).status, 200);
  });
});
