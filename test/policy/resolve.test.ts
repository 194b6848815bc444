import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCheck } from '../../daemon/policy/checks.js';
import { parsePolicy } from '../../daemon/policy/parse.js';
import { explainPolicy, resolvePolicy, withOverrides } from '../../daemon/policy/resolve.js';

const FILE = parsePolicy(
  [
    'defaults: all', //               1
    '\treboot never', //              2
    '\tcheck-timeout 20', //          3
    '\tcheck tcp 22', //              4
    '', //                            5
    'tag: web', //                    6
    '\treboot if-required', //        7
    '\ton-failure rollback', //       8
    '\tcheck service nginx', //       9
    '\tcheck tcp 22', //              10
    '', //                            11
    'guest: 101', //                  12
    '\tcheck-timeout 5', //           13
    '\tcheck http 80', //             14
    '', //                            15
    'tag: critical', //               16
    '\treboot always', //             17
    '\tcheck service nginx', //       18
    '\tcheck command /bin/true', //   19
  ].join('\n'),
  '/etc/pvepatch/guests.conf',
);

describe('policy resolution', () => {
  it('gives built-in defaults from an empty policy, by guest type', () => {
    const empty = { name: '/etc/pvepatch/guests.conf', sections: [] };
    const ct = resolvePolicy(empty, { vmid: 100, type: 'lxc', tags: [] });
    assert.equal(ct.transport, 'pct');
    assert.equal(ct.reboot, 'never'); // nothing reboots unless the policy says so
    assert.equal(ct.onFailure, 'keep');
    assert.equal(ct.fallback, 'skip');
    assert.equal(ct.fallbackStorage, undefined);
    assert.equal(ct.backupMaxAge, 24);
    assert.equal(ct.rebootTimeout, 600);
    assert.equal(ct.checkTimeout, 30);
    assert.equal(ct.sshUser, 'root');
    assert.equal(ct.sshPort, 22);
    assert.equal(ct.role, 'none');
    assert.equal(ct.pbsMinFreeGb, 3);
    assert.deepEqual(ct.checks, []);
    assert.deepEqual(ct.origins.reboot, { from: 'built-in' });
    assert.equal(resolvePolicy(empty, { vmid: 200, type: 'qemu', tags: [] }).transport, 'qga');
  });

  it('applies defaults < tags in file order < guest, and records where each value came from', () => {
    const p = resolvePolicy(FILE, { vmid: 101, type: 'lxc', tags: ['critical', 'WEB'] });
    assert.equal(p.reboot, 'always'); // tag critical comes later in the file than tag web
    assert.deepEqual(p.origins.reboot, { from: 'tag', tag: 'critical', line: 17 });
    assert.equal(p.onFailure, 'rollback');
    assert.deepEqual(p.origins.onFailure, { from: 'tag', tag: 'web', line: 8 });
    assert.equal(p.checkTimeout, 5);
    assert.deepEqual(p.origins.checkTimeout, { from: 'guest', line: 13 });
    assert.equal(p.transport, 'pct');
    assert.deepEqual(p.origins.transport, { from: 'built-in' });
  });

  it('concatenates checks in precedence order without duplicates, keeping the first origin', () => {
    const p = resolvePolicy(FILE, { vmid: 101, type: 'lxc', tags: ['web', 'critical'] });
    assert.deepEqual(p.checks.map(formatCheck), ['tcp 22', 'service nginx', 'command /bin/true', 'http 80 / 200-399']);
    assert.deepEqual(p.origins.checks, [
      { from: 'defaults', line: 4 },
      { from: 'tag', tag: 'web', line: 9 },
      { from: 'tag', tag: 'critical', line: 19 },
      { from: 'guest', line: 14 },
    ]);
  });

  it("puts pvepatch.conf's reboot default between the built-in one and the policy file", () => {
    const ct = resolvePolicy(
      { name: 'g.conf', sections: [] },
      { vmid: 100, type: 'lxc', tags: [] },
      { reboot: 'always' },
    );
    assert.equal(ct.reboot, 'always');
    assert.ok(explainPolicy(ct).includes('reboot: always (config reboot)'));
    const p = resolvePolicy(FILE, { vmid: 102, type: 'lxc', tags: [] }, { reboot: 'always' });
    assert.equal(p.reboot, 'never');
    assert.deepEqual(p.origins.reboot, { from: 'defaults', line: 2 });
  });

  it('ignores sections of other tags and guests', () => {
    const p = resolvePolicy(FILE, { vmid: 102, type: 'lxc', tags: ['db'] });
    assert.equal(p.reboot, 'never');
    assert.deepEqual(p.origins.reboot, { from: 'defaults', line: 2 });
    assert.equal(p.checkTimeout, 20);
    assert.deepEqual(p.checks.map(formatCheck), ['tcp 22']);
  });

  it('explains every value with its origin', () => {
    const p = resolvePolicy(FILE, { vmid: 101, type: 'lxc', tags: ['web'] });
    const lines = explainPolicy(p);
    assert.ok(lines.includes('reboot: if-required (tag web, guests.conf:7)'), lines.join('\n'));
    assert.ok(lines.includes('transport: pct (built-in default)'));
    assert.ok(lines.includes('check-timeout: 5 (guest section, guests.conf:13)'));
    assert.ok(lines.includes('check: tcp 22 (defaults, guests.conf:4)'));
    assert.ok(!lines.some((l) => l.startsWith('address:')), 'unset values are not listed');
  });

  it('refuses a VM transport for a container and pct for a VM, naming where it was set', () => {
    const file = parsePolicy('tag: remote\n\ttransport ssh\n\nguest: 300\n\ttransport pct\n', '/x/guests.conf');
    assert.throws(
      () => resolvePolicy(file, { vmid: 105, type: 'lxc', tags: ['remote'] }),
      /unable to apply policy to CT 105 - transport 'ssh' \(tag remote, guests\.conf:2\) reaches VMs only; a container is entered with pct/,
    );
    assert.equal(resolvePolicy(file, { vmid: 205, type: 'qemu', tags: ['remote'] }).transport, 'ssh');
    assert.throws(
      () => resolvePolicy(file, { vmid: 300, type: 'qemu', tags: [] }),
      /unable to apply policy to VM 300 - transport 'pct' \(guest section, guests\.conf:5\) enters containers only/,
    );
  });

  it('applies run-level overrides on top, recording them as such', () => {
    const p = resolvePolicy(FILE, { vmid: 101, type: 'lxc', tags: ['web'] });
    const o = withOverrides(p, { reboot: 'never', onFailure: undefined }, '--reboot never');
    assert.equal(o.reboot, 'never');
    assert.deepEqual(o.origins.reboot, { from: 'run', label: '--reboot never' });
    assert.equal(o.onFailure, 'rollback');
    assert.equal(p.reboot, 'if-required', 'the resolved policy is not changed');
    assert.ok(explainPolicy(o).includes('reboot: never (--reboot never)'));
    assert.throws(
      () => withOverrides(p, { transport: 'qga' }, '--transport qga'),
      /transport 'qga' \(--transport qga\)/,
    );
  });
});
