import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { exceptedUpdates, exceptionsFor } from '../../daemon/exceptions/match.js';
import { ExceptionStore } from '../../daemon/exceptions/store.js';
import type { PackageException } from '../../daemon/exceptions/types.js';
import { parseTarget } from '../../daemon/exceptions/validate.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function store(now: () => Date) {
  const d = mkdtempSync(join(tmpdir(), 'pvepatch-exc-'));
  dirs.push(d);
  return { dir: d, store: new ExceptionStore(d, now) };
}
const T0 = new Date('2026-12-01T00:00:00Z');

function exc(id: string, target: string, pkg: string, extra: Partial<PackageException> = {}): PackageException {
  return {
    id,
    target,
    package: pkg,
    reason: `r-${id}`,
    expires_at: null,
    active: true,
    created_by: 'u',
    created_at: '',
    ...extra,
  };
}

describe('exception targets', () => {
  it('reads a vmid, tag:<tag> and pool:<pool>, and refuses anything else naming the forms', () => {
    assert.deepEqual(parseTarget('101'), { kind: 'guest', vmid: 101 });
    assert.deepEqual(parseTarget('tag:web'), { kind: 'tag', name: 'web' });
    assert.deepEqual(parseTarget('pool:prod-1'), { kind: 'pool', name: 'prod-1' });
    for (const bad of ['99', '0101', 'tag:', 'tag:Web', 'pool:a b', 'vm:101', '101;reboot', 'tag:web\n', '1000000000'])
      assert.throws(() => parseTarget(bad), /use a vmid \(100-999999999\), tag:<tag> or pool:<pool>/, bad);
  });
});

describe('exception matching', () => {
  const guest = { vmid: 101, tags: ['web', 'prod'], pool: 'dc1' };
  it('applies active, unexpired exceptions naming the guest, one of its tags or its pool', () => {
    const all = [
      exc('a', '101', 'x'),
      exc('b', '102', 'x'),
      exc('c', 'tag:web', 'x'),
      exc('d', 'tag:db', 'x'),
      exc('e', 'pool:dc1', 'x'),
      exc('f', '101', 'x', { active: false }),
      exc('g', '101', 'x', { expires_at: '2026-12-01T00:00:00.000Z' }),
      exc('h', '101', 'x', { expires_at: '2026-12-01T00:00:01.000Z' }),
    ];
    assert.deepEqual(
      exceptionsFor(all, guest, T0).map((e) => e.id),
      ['a', 'c', 'e', 'h'],
    );
    assert.deepEqual(
      exceptionsFor(all, guest, new Date(T0.getTime() + 1000)).map((e) => e.id),
      ['a', 'c', 'e'],
      'expired the moment its time is reached',
    );
  });
  it('keeps back the pending updates a name or glob matches, naming the first exception by id', () => {
    const u = (p: string) => ({ package: p, current_version: '1', new_version: '2', repository: 'r', security: false });
    const got = exceptedUpdates(
      [exc('z', '101', 'linux-*'), exc('a', '101', 'linux-image-?.?'), exc('m', '101', 'nginx')],
      [u('linux-image-6.1'), u('linux-headers'), u('nginx'), u('nginx-common'), u('openssl')],
    );
    assert.deepEqual(
      got.map((e) => [e.package, e.exception]),
      [
        ['linux-image-6.1', 'a'],
        ['linux-headers', 'z'],
        ['nginx', 'm'],
      ],
    );
  });
});

describe('exception store', () => {
  it('creates, changes and deletes, persists across a restart, and never mutates the record it returned', async () => {
    let now = T0;
    const { dir, store: s } = store(() => now);
    await s.start();
    const e = await s.create(
      { target: 'tag:web', package: 'nginx*', reason: ' pinned by app team ', expires_at: '2026-12-02' },
      'alice@pve',
    );
    assert.equal(e.reason, 'pinned by app team');
    assert.equal(e.expires_at, '2026-12-02T00:00:00.000Z');
    assert.equal(statSync(join(dir, 'exceptions.json')).mode & 0o777, 0o600);
    now = new Date('2026-12-01T12:00:00Z');
    const changed = await s.update(e.id, { active: false, expires_at: null }, 'bob@pve');
    assert.deepEqual(
      [changed.active, changed.expires_at, changed.updated_by, e.active],
      [false, null, 'bob@pve', true],
    );
    const again = new ExceptionStore(dir, () => now);
    await again.start();
    assert.deepEqual(again.list(), [{ ...changed, state: 'inactive' }]);
    await again.remove(e.id);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'exceptions.json'), 'utf8')).exceptions, []);
    await assert.rejects(again.remove(e.id), { code: 'not-found' });
    await assert.rejects(again.update('exc-00000000', { active: true }, 'x'), { code: 'not-found' });
  });

  it('refuses invalid input without storing it', async () => {
    const { store: s } = store(() => T0);
    await s.start();
    const bad = [
      { target: '101', package: 'nginx; rm -rf /', reason: 'x' },
      { target: '101', package: '$(reboot)', reason: 'x' },
      { target: '101', package: 'nginx', reason: '' },
      { target: '101', package: 'nginx', reason: 'two\nlines' },
      { target: '101', package: 'nginx', reason: 'x', expires_at: '2026-11-30' },
      { target: '101', package: 'nginx', reason: 'x', more: 1 },
      { target: 'pool:', package: 'nginx', reason: 'x' },
    ];
    for (const b of bad) await assert.rejects(s.create(b as never, 'u'), JSON.stringify(b));
    const ok = await s.create({ target: '101', package: 'nginx', reason: 'x' }, 'u');
    await assert.rejects(s.update(ok.id, {}, 'u'), /nothing to change/);
    assert.equal(s.list().length, 1);
  });

  it('refuses a damaged file with what to do and leaves it as it was', async () => {
    const { dir, store: s } = store(() => T0);
    writeFileSync(join(dir, 'exceptions.json'), '{"version":1,"exceptions":[{"id":1}]}');
    await assert.rejects(s.start(), /unable to use .*exceptions\.json - exceptions\.0\.id: .*; fix or move it aside/);
    assert.equal(readFileSync(join(dir, 'exceptions.json'), 'utf8'), '{"version":1,"exceptions":[{"id":1}]}');
  });
});
