import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Guest } from '../../daemon/proxmox/inventory.js';
import { parseSelector, selectGuests } from '../../daemon/proxmox/selectors.js';

const g = (vmid: number, extra: Partial<Guest> = {}): Guest => ({
  vmid,
  type: 'lxc',
  node: 'pve1',
  name: `ct${vmid}`,
  status: 'running',
  template: false,
  tags: [],
  ...extra,
});
const guests = [
  g(100, { tags: ['web'] }),
  g(101, { tags: ['web', 'db'], pool: 'prod' }),
  g(105, { node: 'pve2' }),
  g(120, { tags: ['db'] }),
  g(200, { type: 'qemu', pool: 'prod' }),
];
const ids = (text: string) => selectGuests(parseSelector(text), guests).map((x) => x.vmid);

describe('selectors', () => {
  it('selects ids, ranges, tags, pools, nodes and all', () => {
    assert.deepEqual(ids('101'), [101]);
    assert.deepEqual(ids('100-120'), [100, 101, 105, 120]);
    assert.deepEqual(ids('tag:web'), [100, 101]);
    assert.deepEqual(ids('pool:prod'), [101, 200]);
    assert.deepEqual(ids('node:pve2'), [105]);
    assert.deepEqual(ids('all'), [100, 101, 105, 120, 200]);
    assert.deepEqual(ids('--all'), [100, 101, 105, 120, 200]);
  });

  it('applies exclusions after the union of includes', () => {
    assert.deepEqual(ids('100-120 -105'), [100, 101, 120]);
    assert.deepEqual(ids('all -tag:db'), [100, 105, 200]);
    assert.deepEqual(ids('tag:web,pool:prod -node:pve2 -200'), [100, 101]);
  });

  it('refuses malformed words with the word and the grammar in the message', () => {
    for (const bad of ['abc', '10', '100-', '120-100', 'tag:', 'tag:a;b', '1000000000', 'x:y', '$(id)']) {
      assert.throws(
        () => parseSelector(bad),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'input-invalid');
          return /invalid guest selector|no guests selected/.test(e.message);
        },
        bad,
      );
    }
  });

  it('needs at least one include', () => {
    assert.throws(() => parseSelector('-105'), /no guests selected by '-105'/);
    assert.throws(() => parseSelector(''), /no guests selected/);
  });

  it('fails on an explicitly named vmid that does not exist', () => {
    assert.throws(
      () => ids('101 999'),
      (e: Error & { code?: string }) => e.code === 'not-found' && /guest 999 - no such guest/.test(e.message),
    );
    assert.deepEqual(ids('900-999'), [], 'a range may match nothing');
  });
});
