import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Guest } from '../../daemon/proxmox/inventory.js';
import { parseSelector, selectInOrder } from '../../daemon/proxmox/selectors.js';
import { failures, groupGuests } from '../../daemon/rollouts/groups.js';
import type { Rollout } from '../../daemon/rollouts/types.js';

const guest = (vmid: number, tags: string[] = []): Guest =>
  ({ vmid, name: `g${vmid}`, node: 'pve1', type: 'lxc', status: 'running', tags }) as Guest;

describe('rollout order and groups', () => {
  const all = [guest(101, ['web']), guest(102, ['db']), guest(103), guest(104, ['web']), guest(105, ['db'])];
  it('orders by the selector: its terms in turn, explicit ids as named', () => {
    assert.deepEqual(
      selectInOrder(parseSelector(['105', '101', 'tag:web', 'all']), all).map((g) => g.vmid),
      [105, 101, 104, 102, 103],
    );
  });
  it('puts tag_order tags first, then a canary group, then batches', () => {
    const ordered = selectInOrder(parseSelector(['all']), all);
    const groups = groupGuests(ordered, { canary: 1, batch: 2, tag_order: ['db', 'web'] });
    assert.deepEqual(
      groups.map((g) => [g.vmid, g.group]),
      [
        [102, 0],
        [105, 1],
        [101, 1],
        [104, 2],
        [103, 2],
      ],
    );
    assert.deepEqual(
      groupGuests(ordered, { canary: 0, batch: 3, tag_order: [] }).map((g) => g.group),
      [0, 0, 0, 1, 1],
    );
  });
  it('halts past a count or a share of the guests done, counting rolled-back as failed and not refused', () => {
    const r = (outcomes: (string | undefined)[], max: Rollout['options']['max_failures']) =>
      failures({
        guests: outcomes.map((o, i) => ({ vmid: 100 + i, name: '', group: 1, ...(o ? { outcome: o as never } : {}) })),
        options: { max_failures: max } as Rollout['options'],
      });
    assert.equal(r(['updated', 'refused', undefined], { count: 0 }).halt, false);
    assert.equal(r(['updated', 'rolled-back'], { count: 0 }).halt, true);
    assert.equal(r(['failed', 'failed'], { count: 2 }).halt, false);
    assert.equal(r(['failed', 'failed', 'failed'], { count: 2 }).halt, true);
    assert.equal(r(['failed', 'updated', 'updated', 'updated', undefined], { percent: 25 }).halt, false, '1 of 4 done');
    assert.equal(r(['failed', 'updated', 'updated', undefined], { percent: 25 }).halt, true, '1 of 3 done');
  });
});
