import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResources } from '../../daemon/proxmox/inventory.js';
import { parseUpid, taskSucceeded } from '../../daemon/proxmox/upid.js';

describe('inventory', () => {
  it('keeps lxc and qemu guests and tolerates unknown fields and resource types', () => {
    const guests = parseResources([
      { id: 'node/pve1', type: 'node', node: 'pve1', status: 'online' },
      { id: 'pool/prod', type: 'pool', pool: 'prod' },
      { id: 'storage/pve1/local', type: 'storage', node: 'pve1', storage: 'local' },
      { id: 'sdn/pve1/localnetwork', type: 'sdn' },
      {
        id: 'lxc/101',
        type: 'lxc',
        vmid: 101,
        node: 'pve1',
        name: 'web',
        status: 'running',
        template: 0,
        tags: 'web;prod',
        future: { x: 1 },
      },
      {
        id: 'qemu/100',
        type: 'qemu',
        vmid: 100,
        node: 'pve2',
        status: 'stopped',
        template: 1,
        lock: 'backup',
        pool: 'prod',
      },
      { id: 'lxc/bad', type: 'lxc', vmid: 'not-a-number', node: 'pve1' },
      { id: 'mystery/1', type: 'mystery' },
    ]);
    assert.deepEqual(guests, [
      {
        vmid: 100,
        type: 'qemu',
        node: 'pve2',
        name: 'qemu-100',
        status: 'stopped',
        template: true,
        tags: [],
        pool: 'prod',
        lock: 'backup',
      },
      { vmid: 101, type: 'lxc', node: 'pve1', name: 'web', status: 'running', template: false, tags: ['web', 'prod'] },
    ]);
  });
});

describe('UPID', () => {
  it('parses PVE and PBS task ids', () => {
    const pve = parseUpid('UPID:pve1:000A1B2C:0012D687:6740A1B2:vzsnapshot:101:pvepatch@pve!daemon:');
    assert.equal(pve.node, 'pve1');
    assert.equal(pve.type, 'vzsnapshot');
    assert.equal(pve.id, '101');
    assert.equal(pve.user, 'pvepatch@pve!daemon');
    assert.equal(pve.starttime, 0x6740a1b2);
    const pbs = parseUpid('UPID:pbs:000003E8:00000A2B:00000001:6740A1B2:backup:store1\\x3act-100:root@pam:');
    assert.equal(pbs.type, 'backup');
    assert.throws(() => parseUpid('UPID:broken'), /not a Proxmox UPID/);
  });

  it('treats OK and WARNINGS as success like PVE', () => {
    assert.equal(taskSucceeded('OK'), true);
    assert.equal(taskSucceeded('WARNINGS: 2'), true);
    assert.equal(taskSucceeded('snapshot feature is not available'), false);
    assert.equal(taskSucceeded(undefined), false);
  });
});
