import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GuestPlan, RunReport } from '../../daemon/engine/types.js';
import type { ExceptionState, PackageException } from '../../daemon/exceptions/types.js';
import { type Env, startEnv } from './harness.js';

type Row = PackageException & { state: ExceptionState };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Package exceptions against real Debian containers: kept back with their reason, until they expire. */
describe('package exceptions', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 171 }, { vmid: 172 }] });
    env.sim.setGuest(172, { tags: ['db'], pool: 'prod' });
    // the admin's own hold, which no exception may release or change
    await env.lab.execOk(171, ['apt-mark', 'hold', 'demo-conf']);
  });
  after(() => env?.close());

  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  let onGuest: PackageException;
  let onTag: PackageException;

  it('refuses bad input with the reason and records nothing', async () => {
    for (const [argv, why] of [
      [['exception', 'add', '171', 'nginx; rm -rf /', '--reason', 'x'], /a package name or glob/],
      [['exception', 'add', '99', 'demo-tool', '--reason', 'x'], /invalid exception target '99' - use a vmid/],
      [['exception', 'add', 'tag:Bad Tag', 'demo-tool', '--reason', 'x'], /invalid exception target/],
      [['exception', 'add', '171', 'demo-tool', '--reason', ' '], /a reason is required/],
      [['exception', 'add', '171', 'demo-tool', '--reason', 'x', '--expires', '2001-01-01'], /not in the future/],
      [['exception', 'add', '171', 'demo-tool', '--reason', 'x', '--expires', 'soon'], /an ISO date or time/],
      [['exception', 'add', '171', 'demo-tool'], /required option '--reason <text>'/],
    ] as const) {
      const r = await env.cli(...argv);
      assert.equal(r.code, 3, `${argv.join(' ')}: ${r.out} ${r.err}`);
      assert.match(r.err, why);
    }
    assert.deepEqual(await json<Row[]>('exception', 'list'), []);
  });

  it('adds exceptions on a guest and, with an expiry, on a tag', async () => {
    onGuest = await json<PackageException>('exception', 'add', '171', 'demo-tool', '--reason', 'vendor bug #123');
    assert.match(onGuest.id, /^exc-[0-9a-f]{8}$/);
    const soon = new Date(Date.now() + 8000).toISOString();
    onTag = await json<PackageException>(
      'exception',
      'add',
      'tag:db',
      'demo-s*',
      '--reason',
      'security review',
      '--expires',
      soon,
    );
    assert.equal(onTag.expires_at, soon);
    const twice = await env.cli('exception', 'add', '171', 'demo-tool', '--reason', 'again');
    assert.equal(twice.code, 3);
    assert.match(twice.err, new RegExp(`exception '${onGuest.id}' already keeps demo-tool back on 171`));
    const rows = await json<Row[]>('exception', 'list');
    assert.deepEqual(
      rows.map((e) => [e.id, e.state, e.created_by]),
      [
        [onGuest.id, 'active', 'root@pam'],
        [onTag.id, 'active', 'root@pam'],
      ],
    );
  });

  it('shows the kept-back packages in the plan with the reason', async () => {
    const plans = await json<GuestPlan[]>('plan', '171', '172');
    const p171 = plans.find((p) => p.vmid === 171)!;
    assert.deepEqual(
      p171.excepted.map((e) => [e.package, e.current_version, e.new_version, e.exception, e.reason]),
      [['demo-tool', '1.0', '1.1', onGuest.id, 'vendor bug #123']],
    );
    assert.equal(
      p171.packages.some((u) => u.package === 'demo-tool'),
      false,
    );
    assert.equal(
      p171.packages.some((u) => u.package === 'demo-app'),
      true,
    );
    const p172 = plans.find((p) => p.vmid === 172)!;
    assert.deepEqual(
      p172.excepted.map((e) => [e.package, e.exception]),
      [['demo-sec', onTag.id]],
      'the glob matches on the tagged guest',
    );
    const text = await env.cli('plan', '171');
    assert.match(text.out, new RegExp(`demo-tool +1\\.0 +1\\.1 +excluded by ${onGuest.id}: vendor bug #123`));
  });

  it('keeps the package back in a run and leaves the admin hold as it was', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '171');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out.slice(r.out.lastIndexOf('\n{') + 1)) as RunReport;
    const g = report.guests.find((x) => x.vmid === 171)!;
    assert.equal(g.outcome, 'updated');
    assert.deepEqual(
      g.excepted?.map((e) => e.package),
      ['demo-tool'],
    );
    assert.equal(await env.lab.dpkgVersion(171, 'demo-tool'), '1.0', 'kept back by the exception');
    assert.equal(await env.lab.dpkgVersion(171, 'demo-app'), '1.1');
    assert.equal(await env.lab.dpkgVersion(171, 'demo-conf'), '1.0', "the admin's hold held");
    assert.equal((await env.lab.execOk(171, ['apt-mark', 'showhold'])).stdout.trim(), 'demo-conf');
    const log = await env.cli('log', report.id);
    assert.match(log.out, new RegExp(`demo-tool 1\\.0 -> 1\\.1 kept back by exception ${onGuest.id}: vendor bug #123`));
  });

  it('stops applying an exception once it has expired, and lists it as expired', async () => {
    const wait = Date.parse(onTag.expires_at!) - Date.now() + 200;
    if (wait > 0) await sleep(wait);
    const rows = await json<Row[]>('exception', 'list');
    assert.equal(rows.find((e) => e.id === onTag.id)?.state, 'expired');
    const [p172] = await json<GuestPlan[]>('plan', '172');
    assert.deepEqual(p172!.excepted, []);
    assert.equal(
      p172!.packages.some((u) => u.package === 'demo-sec'),
      true,
    );
  });

  it('changes, deactivates and deletes exceptions, each in the audit log', async () => {
    const changed = await json<PackageException>('exception', 'set', onGuest.id, '--reason', 'bug #124', '--inactive');
    assert.equal(changed.reason, 'bug #124');
    assert.equal(changed.active, false);
    const [p171] = await json<GuestPlan[]>('plan', '171');
    assert.equal(
      p171!.packages.some((u) => u.package === 'demo-tool'),
      true,
      'an inactive exception keeps nothing back',
    );
    await json('exception', 'rm', onGuest.id);
    const gone = await env.cli('exception', 'rm', onGuest.id);
    assert.equal(gone.code, 3);
    assert.match(gone.err, new RegExp(`no exception '${onGuest.id}'`));
    const audit = await json<{ action: string; target: string; outcome: string }[]>('audit', '--action', 'exception.*');
    assert.deepEqual(audit.map((a) => [a.action, a.outcome]).reverse(), [
      ['exception.create', 'input-invalid'],
      ['exception.create', 'input-invalid'],
      ['exception.create', 'input-invalid'],
      ['exception.create', 'input-invalid'],
      ['exception.create', 'input-invalid'],
      ['exception.create', 'input-invalid'],
      ['exception.create', 'ok'],
      ['exception.create', 'ok'],
      ['exception.create', 'input-invalid'],
      ['exception.update', 'ok'],
      ['exception.delete', 'ok'],
      ['exception.delete', 'not-found'],
    ]);
    assert.ok(audit.some((a) => a.target === `exception:${onGuest.id}`));
  });
});
