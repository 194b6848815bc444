import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Patching } from '../../daemon/backup-hooks/answer.js';
import { ApiClient } from '../../daemon/cli/api-client.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { type Env, startEnv } from '../e2e/harness.js';
import { makeCert, type SimCert } from '../sim/cert.js';
import { runWiped, testWrapper } from './run-hook.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const AGENT_SECRET = 'agent-auth-c2VjcmV0';

/** The environment PBS Plus gives its scripts: its own (PATH…) plus each job field (`%v` of the Go value). */
const pbsPlusEnv = (target: string, extra: Record<string, string> = {}) => ({
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  PBS_PLUS__ID: `${target.split(' ')[0]}-nightly`,
  PBS_PLUS__STORE: 'main',
  PBS_PLUS__SOURCE_MODE: 'snapshot',
  PBS_PLUS__MODE: 'metadata',
  // Target{Name, Type, Path, AgentHost{Name, IP, Auth, TokenUsed, OS}, …}: the dump carries the agent's credentials
  PBS_PLUS__TARGET: `{${target} agent agent://10.0.0.5/root {${target.split(' ')[0]} 10.0.0.5 ${AGENT_SECRET} tok-1 linux}  0.92.1 true 1 local root ext4 0 0 0    <nil>}`,
  PBS_PLUS__NAMESPACE: '',
  PBS_PLUS__COMMENT: 'nightly',
  ...extra,
});

/**
 * The PBS Plus PreScript and PostScript as PBS Plus runs them (`/bin/sh <script> <envfile>` with
 * PBS_PLUS__* fields), asking the daemon's real HTTPS API with an API token over pinned TLS.
 */
describe('PBS Plus scripts against the HTTPS API', () => {
  let env: Env;
  let api: ApiClient;
  let dir: string;
  let cert: SimCert;
  let port: number;
  const writeConf = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
    return path;
  };
  const baseConf = () => [
    `url https://127.0.0.1:${port}`,
    `token ${env.token}`,
    `fingerprint ${cert.fingerprint}`,
    'namespace-before-patch patching/before',
    'target-map web01 - Root 101',
    'target-map db01 - Root 102',
  ];
  const script = (kind: 'pre' | 'post', conf: string, name = `${kind}-${conf}`) =>
    testWrapper(`pvepatch-pbsplus-${kind}`, join(dir, name), {
      hookConfig: join(dir, conf),
      subcommand: `pbsplus-${kind}`,
    });
  /** A fresh empty env file, as PBS Plus's os.CreateTemp makes it. */
  const envFile = (name: string) => {
    const path = join(dir, `script_env_${name}.txt`);
    writeFileSync(path, '', { mode: 0o600 });
    return path;
  };

  before(async () => {
    env = await startEnv({ guests: [{ vmid: 101 }, { vmid: 102 }], config: { hook_timeouts: 'pre-guest=60' } });
    api = new ApiClient(join(env.dir, 'run', 'api.sock'));
    cert = await makeCert('pve1');
    writeFileSync(join(env.dir, 'api.pem'), cert.certPem);
    writeFileSync(join(env.dir, 'api.key'), cert.keyPem, { mode: 0o600 });
    port = await freePort();
    await env.restartDaemon({
      api_port: String(port),
      api_host: '127.0.0.1',
      api_cert: join(env.dir, 'api.pem'),
      api_key: join(env.dir, 'api.key'),
      pve_www_key: env.sim.wwwKeyPath,
    });
    dir = join(env.dir, 'pbsplus');
    mkdirSync(dir, { mode: 0o700 });
  });
  after(() => env?.close());

  it('PreScript: refuses the job of a guest mid-patch, allows another with the namespace override on stdout and in $1', async () => {
    writeConf('pbsplus.conf', baseConf());
    const pre = script('pre', 'pbsplus.conf');
    const hooks = join(env.dir, 'hooks.d', 'pre-guest.d');
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    writeFileSync(join(hooks, '10-hold'), '#!/bin/sh\nsleep 8\n', { mode: 0o755 });
    const started = await env.cli('run', '101', '--detach');
    assert.equal(started.code, 0, started.err);
    const runId = started.out.trim();
    const deadline = Date.now() + 30_000;
    while (!(await api.get<Patching>('/guests/101/patching')).patching) {
      assert.ok(Date.now() < deadline, 'guest 101 never showed as being patched');
      await new Promise((r) => setTimeout(r, 100));
    }

    const vetoFile = envFile('veto');
    const veto = await runWiped('/bin/sh', [pre, vetoFile], pbsPlusEnv('web01 - Root'));
    assert.equal(veto.code, 1, veto.out + veto.err);
    assert.equal(veto.out, '', 'no override for a refused job');
    assert.match(
      veto.err,
      /^pvepatch: guest 101 is being patched \(run \S+, stage \S+\) - PBS Plus job web01-nightly not started; it runs again at its next schedule\n$/,
    );
    assert.ok(veto.err.includes(runId));
    assert.equal(readFileSync(vetoFile, 'utf8'), '');

    const okFile = envFile('ok');
    const ok = await runWiped('/bin/sh', [pre, okFile], pbsPlusEnv('db01 - Root'));
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, 'PBS_PLUS__NAMESPACE=patching/before\n');
    assert.equal(ok.err, 'pvepatch: guest 102 is not being patched - backup allowed\n');
    assert.equal(readFileSync(okFile, 'utf8'), 'PBS_PLUS__NAMESPACE=patching/before\n', 'PBS Plus reads $1');
    for (const r of [veto, ok]) assert.ok(!(r.out + r.err).includes(AGENT_SECRET), 'TARGET is never echoed');

    const run = () => api.get<RunSummary>(`/runs/${encodeURIComponent(runId)}`);
    while ((await run()).state === 'running') await new Promise((r) => setTimeout(r, 200));
    rmSync(join(env.dir, 'hooks.d'), { recursive: true, force: true });
    const after = await runWiped('/bin/sh', [pre, envFile('after')], pbsPlusEnv('web01 - Root'));
    assert.equal(after.code, 0, after.err);
    assert.equal(after.err, 'pvepatch: guest 101 is not being patched - backup allowed\n');
  });

  it('PreScript: allows the job when the API cannot be trusted or reached, saying why', async () => {
    const other = await makeCert('elsewhere');
    writeConf('wrong-pin.conf', [
      ...baseConf().filter((l) => !l.startsWith('fingerprint')),
      `fingerprint ${other.fingerprint}`,
    ]);
    const pin = await runWiped(
      '/bin/sh',
      [script('pre', 'wrong-pin.conf'), envFile('pin')],
      pbsPlusEnv('web01 - Root'),
    );
    assert.equal(pin.code, 0);
    assert.match(
      pin.err,
      /^pvepatch: pvepatch API not reachable \(https:\/\/127\.0\.0\.1:\d+: TLS certificate fingerprint mismatch - server presented [0-9A-F:]{95}, expected [0-9A-F:]{95}; check pve_fingerprint\) - backup allowed\n$/,
    );
    assert.equal(pin.out, 'PBS_PLUS__NAMESPACE=patching/before\n');
    const closed = await freePort();
    writeConf('closed.conf', [...baseConf().filter((l) => !l.startsWith('url')), `url https://127.0.0.1:${closed}`]);
    const down = await runWiped('/bin/sh', [script('pre', 'closed.conf'), envFile('down')], pbsPlusEnv('web01 - Root'));
    assert.equal(down.code, 0);
    assert.match(down.err, /^pvepatch: pvepatch API not reachable \(.*ECONNREFUSED.*\) - backup allowed\n$/);
    const unmapped = await runWiped(
      '/bin/sh',
      [script('pre', 'pbsplus.conf'), envFile('x')],
      pbsPlusEnv('mail01 - Root'),
    );
    assert.equal(unmapped.code, 0);
    assert.match(unmapped.err, /^pvepatch: job mail01-nightly: its target maps to no guest \(add 'target-map/);
  });

  it('PostScript: the daemon records the result (GET /backups lists it), exit 0', async () => {
    const r = await runWiped(
      '/bin/sh',
      [script('post', 'pbsplus.conf'), envFile('post')],
      pbsPlusEnv('web01 - Root', { PBS_PLUS__JOB_SUCCESS: 'true', PBS_PLUS__JOB_WARNINGS: '2' }),
    );
    assert.equal(r.code, 0);
    assert.equal(r.err, 'pvepatch: backup result of guest 101 (success, 2 warnings) recorded\n');
    const listed = await api.get<{ vmid: number; success: boolean; warnings: number }[]>('/backups', { vmid: 101 });
    assert.deepEqual(
      listed.map((x) => [x.vmid, x.success, x.warnings]),
      [[101, true, 2]],
    );
  });

  it('PostScript: sends the typed result with the token over pinned TLS', async () => {
    const own = await makeCert('localhost');
    const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
    const server = createHttpsServer({ key: own.keyPem, cert: own.certPem }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ data: { stored: true } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const p = (server.address() as { port: number }).port;
      writeConf('own.conf', [
        `url https://127.0.0.1:${p}`,
        'token pbs@pve!hook=11111111-2222-3333-4444-555555555555',
        `fingerprint ${own.fingerprint.toLowerCase()}`,
        'job-map nightly-db 102',
      ]);
      const r = await runWiped(
        '/bin/sh',
        [script('post', 'own.conf'), envFile('own')],
        pbsPlusEnv('db01 - Root', {
          PBS_PLUS__ID: 'nightly-db',
          PBS_PLUS__JOB_SUCCESS: 'false',
          PBS_PLUS__JOB_WARNINGS: '0',
        }),
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, 'pvepatch: backup result of guest 102 (failed, 0 warnings) recorded\n');
      assert.equal(seen.length, 1);
      const [req] = seen;
      assert.equal(req!.method, 'POST');
      assert.equal(req!.url, '/api/v1/backups/result');
      assert.equal(req!.auth, 'PVEAPIToken=pbs@pve!hook=11111111-2222-3333-4444-555555555555');
      const body = JSON.parse(req!.body) as Record<string, unknown>;
      assert.match(String(body.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(
        { ...body, at: 'x' },
        {
          target: null,
          vmid: 102,
          job_id: 'nightly-db',
          success: false,
          warnings: 0,
          at: 'x',
        },
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
