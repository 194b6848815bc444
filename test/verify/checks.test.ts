import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { type CheckResult, runCheck, runChecks } from '../../daemon/engine/verify/checks.js';
import type { Check } from '../../daemon/policy/types.js';
import type { Transport } from '../../daemon/transports/types.js';
import { LabTransport } from '../drivers/lab-transport.js';
import { LocalTransport } from './local-transport.js';
import { stubSystemctl } from './stub-systemctl.js';

const LOCAL = '127.0.0.1';
const DEFAULT = { min: 200, max: 399 };

function listen(server: net.Server, host = LOCAL): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

const hostOnly = new GuestExec(new LocalTransport());
const check = (c: Check, timeoutMs = 2000) => runCheck(hostOnly, c, { address: LOCAL, timeoutMs });
const noAddress = (c: Check) => runCheck(hostOnly, c, { timeoutMs: 500 });

function assertResult(r: CheckResult, outcome: CheckResult['outcome'], detail: RegExp): void {
  assert.equal(r.outcome, outcome, JSON.stringify(r));
  assert.equal(r.ok, outcome === 'pass');
  assert.match(r.detail, detail);
}

describe('checks: tcp from the host', () => {
  const server = net.createServer((s) => s.end());
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(() => server.close());

  it('passes when the port accepts', async () => {
    const r = await check({ kind: 'tcp', port });
    assert.equal(r.check, `tcp ${port}`);
    assertResult(r, 'pass', new RegExp(`^connected to 127\\.0\\.0\\.1:${port}$`));
    assert.ok(r.ms >= 0 && r.ms < 2000);
  });

  it('fails when the connection is refused', async () => {
    assertResult(
      await check({ kind: 'tcp', port: await closedPort() }),
      'fail',
      /^unable to connect to 127\.0\.0\.1:\d+ - ECONNREFUSED$/,
    );
  });

  it('fails within its timeout when the SYN is never answered', { skip: !existsSync('/usr/bin/python3') }, async () => {
    // a real socket that listens with backlog 0 and never accepts: once its queue is full the
    // kernel drops further SYNs, and a connect hangs
    const py = spawn('/usr/bin/python3', [
      '-c',
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(30)",
    ]);
    try {
      const port = Number(await new Promise<string>((r) => py.stdout.once('data', (d: Buffer) => r(d.toString()))));
      const fillers = Array.from({ length: 4 }, () => net.connect({ host: LOCAL, port }).on('error', () => {}));
      await new Promise((r) => setTimeout(r, 200));
      const r = await check({ kind: 'tcp', port }, 400);
      assertResult(r, 'fail', /^no connection to 127\.0\.0\.1:\d+ after 400 ms$/);
      assert.ok(r.ms >= 390 && r.ms < 1000, `${r.ms} ms`);
      for (const f of fillers) f.destroy();
    } finally {
      py.kill();
    }
  });

  it('cannot run without an address, and says so', async () => {
    assertResult(
      await noAddress({ kind: 'tcp', port: 22 }),
      'error',
      /^not available - the guest's address is unknown; set 'address'/,
    );
  });
});

describe('checks: http from the host', () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200).end('ok');
    else if (req.url === '/down') res.writeHead(503).end('down');
    else if (req.url === '/moved') res.writeHead(302, { location: '/health' }).end();
    else if (req.url === '/hang')
      return; // accepts the request, never answers
    else res.writeHead(404).end();
  });
  const silent = net.createServer(() => {}); // accepts connections, never says a word
  let port = 0;
  let silentPort = 0;
  before(async () => {
    port = await listen(server);
    silentPort = await listen(silent);
  });
  after(() => {
    server.closeAllConnections?.();
    server.close();
    silent.close();
  });
  const get = (path: string, status = DEFAULT, timeoutMs = 2000) =>
    check({ kind: 'http', port, path, status }, timeoutMs);

  it('passes on a status in the range and shows the check as written', async () => {
    const r = await get('/health');
    assert.equal(r.check, `http ${port} /health 200-399`);
    assertResult(r, 'pass', new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/health answered 200$`));
    assertResult(await get('/moved'), 'pass', /answered 302$/); // redirects are not followed
    assertResult(await get('/health', { min: 200, max: 200 }), 'pass', /answered 200$/);
  });

  it('fails on a status outside the range', async () => {
    assertResult(await get('/down'), 'fail', /answered 503 \(expected 200-399\)$/);
    assertResult(await get('/moved', { min: 200, max: 200 }), 'fail', /answered 302 \(expected 200\)$/);
    assertResult(await get('/nope'), 'fail', /answered 404/);
  });

  it('fails within its timeout when the server accepts but never answers', async () => {
    for (const [p, path] of [
      [port, '/hang'],
      [silentPort, '/'],
    ] as const) {
      const r = await check({ kind: 'http', port: p, path, status: DEFAULT }, 300);
      assertResult(r, 'fail', new RegExp(`^no answer from http://127\\.0\\.0\\.1:${p}${path} after 300 ms$`));
      assert.ok(r.ms >= 290 && r.ms < 900, `${r.ms} ms`);
    }
  });

  it('fails when refused, and errors without an address', async () => {
    const closed = await closedPort();
    assertResult(
      await check({ kind: 'http', port: closed, path: '/', status: DEFAULT }),
      'fail',
      /^unable to GET http:\/\/127\.0\.0\.1:\d+\/ - ECONNREFUSED$/,
    );
    assertResult(await noAddress({ kind: 'http', port, path: '/', status: DEFAULT }), 'error', /^not available/);
  });

  it('reaches an IPv6 address', async (t) => {
    const v6 = http.createServer((_req, res) => res.writeHead(204).end());
    let p: number;
    try {
      p = await listen(v6, '::1');
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      const r = await runCheck(
        hostOnly,
        { kind: 'http', port: p, path: '/', status: DEFAULT },
        { address: '::1', timeoutMs: 2000 },
      );
      assertResult(r, 'pass', new RegExp(`^GET http://\\[::1\\]:${p}/ answered 204$`));
      assertResult(
        await runCheck(hostOnly, { kind: 'tcp', port: p }, { address: '::1', timeoutMs: 2000 }),
        'pass',
        /\[::1\]/,
      );
    } finally {
      v6.close();
    }
  });
});

describe('checks: commands in the guest', () => {
  it('passes on exit 0 and fails on anything else, with the argv sent exactly', async () => {
    const transport = new LocalTransport();
    const exec = new GuestExec(transport);
    const results = await runChecks(
      exec,
      [
        { kind: 'command', argv: ['true'] },
        { kind: 'command', argv: ['ls', '/nonexistent-pvepatch'] },
        { kind: 'command', argv: ['no-such-program-pvepatch'] },
        { kind: 'command', argv: ['sh', '-c', 'printf "\\033[2Jbad; rm -rf /\\r\\n" >&2; exit 4'] },
      ],
      { timeoutMs: 5000 },
    );
    assert.deepEqual(transport.calls, [
      ['true'],
      ['ls', '/nonexistent-pvepatch'],
      ['no-such-program-pvepatch'],
      ['sh', '-c', 'printf "\\033[2Jbad; rm -rf /\\r\\n" >&2; exit 4'],
    ]);
    assert.deepEqual(
      results.map((r) => [r.check, r.outcome, r.detail]),
      [
        ['command true', 'pass', 'exit 0'],
        [
          'command ls /nonexistent-pvepatch',
          'fail',
          "exit 2: ls: cannot access '/nonexistent-pvepatch': No such file or directory",
        ],
        [
          'command no-such-program-pvepatch',
          'fail',
          "exit 127: /usr/bin/env: 'no-such-program-pvepatch': No such file or directory",
        ],
        ['command sh -c printf "\\033[2Jbad; rm -rf /\\r\\n" >&2; exit 4', 'fail', 'exit 4: \\x1b[2Jbad; rm -rf /'],
      ],
    );
  });

  it('fails a command that overruns its timeout, within the timeout', async () => {
    const r = await runCheck(
      new GuestExec(new LocalTransport()),
      { kind: 'command', argv: ['sleep', '10'] },
      { timeoutMs: 300 },
    );
    assertResult(r, 'fail', /no exit after 300 ms/);
    assert.ok(r.ms < 3000, `${r.ms} ms`);
  });

  it('reports a guest it cannot reach as an error, not a failure', async () => {
    const exec = new GuestExec(new LabTransport('/nonexistent/pct', 100));
    assertResult(
      await runCheck(exec, { kind: 'command', argv: ['true'] }, { timeoutMs: 1000 }),
      'error',
      /^unable to run '\/nonexistent\/pct'/,
    );
  });

  it('throws programming errors instead of hiding them in a result', async () => {
    const broken: Transport = {
      name: 'broken',
      exec: () => {
        throw new TypeError('a bug');
      },
    };
    await assert.rejects(
      runChecks(new GuestExec(broken), [{ kind: 'command', argv: ['true'] }], { timeoutMs: 100 }),
      TypeError,
    );
  });
});

describe('checks: services in the guest', () => {
  const stub = stubSystemctl('');
  after(() => stub.remove());

  it('asks systemctl is-active and passes only on "active"', async () => {
    const transport = new LocalTransport(stub.path);
    const results = await runChecks(
      new GuestExec(transport),
      ['ok.service', 'crashed.service', 'slow.service', 'nginx'].map((unit) => ({ kind: 'service' as const, unit })),
      { timeoutMs: 5000 },
    );
    assert.deepEqual(transport.calls, [
      ['systemctl', 'is-active', '--', 'ok.service'],
      ['systemctl', 'is-active', '--', 'crashed.service'],
      ['systemctl', 'is-active', '--', 'slow.service'],
      ['systemctl', 'is-active', '--', 'nginx'],
    ]);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok, r.outcome, r.detail]),
      [
        ['service ok.service', true, 'pass', 'active'],
        ['service crashed.service', false, 'fail', 'failed (exit 3)'],
        ['service slow.service', false, 'fail', 'activating (exit 3)'],
        ['service nginx', false, 'fail', 'inactive (exit 3)'],
      ],
    );
  });

  it('says "not available" in a guest without systemctl', async () => {
    const r = await runCheck(
      new GuestExec(new LocalTransport('/nonexistent')),
      { kind: 'service', unit: 'nginx' },
      { timeoutMs: 5000 },
    );
    assertResult(r, 'error', /^not available - systemctl is not installed in the guest/);
  });

  it('says "not available" where systemd is not running (the real systemctl of this host)', {
    skip: existsSync('/run/systemd/system') || !(existsSync('/usr/bin/systemctl') || existsSync('/bin/systemctl')),
  }, async () => {
    const r = await runCheck(
      new GuestExec(new LocalTransport()),
      { kind: 'service', unit: 'nginx' },
      { timeoutMs: 5000 },
    );
    assertResult(
      r,
      'error',
      /^not available - systemd is not running in the guest \(System has not been booted with systemd/,
    );
  });
});
