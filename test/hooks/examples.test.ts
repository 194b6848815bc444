/** The example hooks in hooks/examples, run for real by the runner (a fake pct, local HTTP servers). */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { HOOK_PATH, type HookPhase } from '../../daemon/hooks/index.js';
import { addHook, run, sh, tempDir } from './helpers.js';

const EXAMPLES = new URL('../../hooks/examples/', import.meta.url).pathname;
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

/** The example with its one configuration line rewritten (the line must be there exactly once). */
function example(name: string, from: string, to: string): string {
  const text = readFileSync(join(EXAMPLES, name), 'utf8');
  assert.equal(text.split(`\n${from}\n`).length, 2, `${name} has the line '${from}' once`);
  return text.replace(`\n${from}\n`, `\n${to}\n`);
}

let made = 0;
/** A new 0755 directory inside the test's own temp dir. */
function subDir(): string {
  const path = join(dir, `d${made++}`);
  mkdirSync(path, { mode: 0o755 });
  return path;
}

/** A fresh hooks dir holding one example. */
function install(phase: HookPhase, name: string, script: string): string {
  const hooks = subDir();
  addHook(hooks, phase, name, script);
  return hooks;
}

/** Runs a script outside the runner (async: the HTTP server it calls lives in this process). */
async function direct(path: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    const r = await promisify(execFile)(path, [], { env, encoding: 'utf8', timeout: 20_000 });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

/** A PATH dir offering only the given programs (to run an example without curl). */
function onlyPrograms(programs: string[]): string {
  const bin = join(dir, `bin-${programs.join('-')}`);
  mkdirSync(bin, { recursive: true });
  for (const p of programs)
    symlinkSync(execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim(), join(bin, p));
  return bin;
}

interface Recorder {
  server: Server;
  base: string;
  requests: string[];
}

/** A 127.0.0.1 server that records `METHOD /path` and fails paths containing 'bad' or 'down'. */
async function recorder(): Promise<Recorder> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const fail = req.url?.includes('bad') || req.url?.includes('down');
    res.writeHead(fail ? 500 : 200).end(fail ? 'broken\n' : 'ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('example maintenance-calendar (pre-run)', () => {
  const today = execFileSync('date', ['+%F'], { encoding: 'utf8', env: { PATH: HOOK_PATH } }).trim();
  const calendar = join(dir, 'calendar');
  const hooks = install(
    'pre-run',
    '10-maintenance-calendar',
    example('maintenance-calendar', 'CALENDAR=/etc/pvepatch/maintenance-calendar', `CALENDAR=${calendar}`),
  );

  it('aborts the run on a blocked day', async () => {
    writeFileSync(calendar, `# freezes\n2001-01-01\n\n${today} # year-end freeze\n`);
    const { outcome } = await run(hooks, 'pre-run');
    assert.deepEqual(outcome.warnings, []);
    assert.equal(outcome.overrides.skip, `change freeze ${today} (calendar ${calendar})`);
  });

  it('lets the run go on other days, and without a calendar', async () => {
    writeFileSync(calendar, '# nothing today\n2001-01-01\n1999-12-31');
    const { outcome } = await run(hooks, 'pre-run');
    assert.deepEqual([outcome.overrides, outcome.warnings, outcome.veto], [{ exclude: [], notes: [] }, [], undefined]);
    rmSync(calendar);
    const none = await run(hooks, 'pre-run');
    assert.equal(none.outcome.overrides.skip, undefined);
    assert.ok(none.log.some((l) => l.includes(`no calendar at ${calendar}`)));
  });
});

describe('example db-dump (pre-guest)', () => {
  const argvFile = join(dir, 'pct-argv');
  const fakePct = (code: number) => {
    const path = join(dir, `pct-${code}`);
    writeFileSync(path, sh(`printf '%s\\n' "$@" > ${argvFile}\nexit ${code}`), { mode: 0o755 });
    return path;
  };
  const hooks = install('pre-guest', '20-db-dump', readFileSync(join(EXAMPLES, 'db-dump'), 'utf8'));
  const dump = async (fields: Record<string, string | string[]>, code = 0) => {
    rmSync(argvFile, { force: true });
    const r = await run(hooks, 'pre-guest', { fields: { vmid: '105', type: 'lxc', pct: fakePct(code), ...fields } });
    return { ...r, argv: existsSync(argvFile) ? readFileSync(argvFile, 'utf8').split('\n').slice(0, -1) : null };
  };

  it('dumps a container tagged db with pct exec, and notes it', async () => {
    const { outcome, argv } = await dump({ tags: ['prod', 'db'] });
    const cmd = 'pg_dumpall > /var/backups/pvepatch-pre-patch.sql';
    assert.deepEqual(argv, ['exec', '105', '--', 'sh', '-c', cmd]);
    assert.deepEqual(outcome.overrides.notes, [`db-dump: 105 dumped with '${cmd}'`]);
    assert.equal(outcome.veto, undefined);
    assert.deepEqual((await dump({ tags: 'web;db' })).argv?.[1], '105');
  });

  it('skips the guest when the dump fails', async () => {
    const { outcome } = await dump({ tags: ['db'] }, 1);
    assert.deepEqual(outcome.veto, {
      hook: 'pre-guest.d/20-db-dump',
      reason: "db-dump: dump in CT 105 failed ('pg_dumpall > /var/backups/pvepatch-pre-patch.sql'), not patching it",
    });
  });

  it('leaves untagged guests, VMs and dry runs alone', async () => {
    const others: Record<string, string | string[]>[] = [
      { tags: ['web'] },
      { tags: ['db'], type: 'qemu' },
      { tags: ['dbx'] },
      { tags: ['db'], dry_run: '1' },
    ];
    for (const fields of others) {
      const { outcome, argv } = await dump(fields);
      assert.deepEqual([argv, outcome.veto, outcome.overrides.notes], [null, undefined, []]);
    }
  });
});

describe('example http-health (post-patch)', () => {
  let srv: Recorder;
  let hooks: string;
  const urls = join(dir, 'health-urls');
  before(async () => {
    srv = await recorder();
    writeFileSync(urls, `# vmid url\n101 ${srv.base}/health\n102 ${srv.base}/bad\n`);
    const script = example('http-health', 'URLS=/etc/pvepatch/health-urls', `URLS=${urls}`);
    hooks = install('post-patch', '50-http-health', script);
  });
  after(() => srv.server.close());

  it('passes on 200, warns on 500, checks nothing for a guest without a URL', async () => {
    assert.deepEqual((await run(hooks, 'post-patch', { fields: { vmid: 101 } })).outcome.warnings, []);
    assert.deepEqual((await run(hooks, 'post-patch', { fields: { vmid: 103 } })).outcome.warnings, []);
    const bad = await run(hooks, 'post-patch', { fields: { vmid: 102 } });
    assert.deepEqual(bad.outcome.warnings, [
      `hook post-patch.d/50-http-health: failed - http-health: guest 102: ${srv.base}/bad failed`,
    ]);
    assert.deepEqual(srv.requests, ['GET /health', 'GET /bad']);
  });

  it('uses wget where there is no curl', async () => {
    const env = { PATH: onlyPrograms(['awk', 'wget']), PVEPATCH__VMID: '102' };
    const r = await direct(join(hooks, 'post-patch.d', '50-http-health'), env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /guest 102: .*\/bad failed/);
    assert.equal(srv.requests.at(-1), 'GET /bad');
  });
});

describe('example lb-drain (pre-guest and post-guest, one script symlinked twice)', () => {
  let srv: Recorder;
  let hooks: string;
  let script: string;
  before(async () => {
    srv = await recorder();
    hooks = subDir();
    const lib = subDir();
    script = join(lib, 'lb-drain');
    writeFileSync(script, example('lb-drain', 'LB_URL=http://127.0.0.1:8404', `LB_URL=${srv.base}`), { mode: 0o755 });
    for (const [phase, name] of [
      ['pre-guest', '30-lb-drain'],
      ['post-guest', '70-lb-drain'],
    ] as const) {
      mkdirSync(join(hooks, `${phase}.d`), { recursive: true, mode: 0o755 });
      symlinkSync(script, join(hooks, `${phase}.d`, name));
    }
  });
  after(() => srv.server.close());

  it('drains before and undrains after a guest tagged lb', async () => {
    const fields = { name: 'web1', tags: ['prod', 'lb'] };
    assert.deepEqual((await run(hooks, 'pre-guest', { fields })).outcome.veto, undefined);
    assert.deepEqual((await run(hooks, 'post-guest', { fields })).outcome.warnings, []);
    await run(hooks, 'pre-guest', { fields: { name: 'db1', tags: ['db'] } });
    assert.deepEqual(srv.requests, ['POST /drain/web1', 'POST /undrain/web1']);
  });

  it('skips the guest when the drain fails or the name is not a host name', async () => {
    const down = await run(hooks, 'pre-guest', { fields: { name: 'down', tags: ['lb'] } });
    assert.equal(down.outcome.veto?.reason, `lb-drain: unable to drain down - POST ${srv.base}/drain/down failed`);
    const evil = await run(hooks, 'pre-guest', { fields: { name: '../x;y', tags: ['lb'] } });
    assert.equal(evil.outcome.veto?.reason, "lb-drain: guest name '../x;y' is not a host name");
    const undrain = await run(hooks, 'post-guest', { fields: { name: 'down', tags: ['lb'] } });
    assert.match(undrain.outcome.warnings[0] ?? '', /failed - lb-drain: unable to undrain down/);
  });

  it('uses wget where there is no curl', async () => {
    const env = {
      PATH: onlyPrograms(['tr', 'wget']),
      PVEPATCH__PHASE: 'post-guest',
      PVEPATCH__NAME: 'web2',
      PVEPATCH__TAGS: 'lb',
    };
    const r = await direct(script, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(srv.requests.at(-1), 'POST /undrain/web2');
  });
});
