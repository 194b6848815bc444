import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerRebootNeed,
  isKernelPackage,
  outsideWindow,
  rebootDecision,
} from '../../daemon/engine/reboot-decision.js';

describe('reboot decision', () => {
  it('follows the policy: never, if-required, always', () => {
    assert.deepEqual(rebootDecision({ reboot: 'never' }, true, ['demo-app']), {
      reboot: false,
      reason: 'reboot required (demo-app) but reboot policy is never',
    });
    assert.equal(rebootDecision({ reboot: 'if-required' }, false, []).reboot, false);
    assert.deepEqual(rebootDecision({ reboot: 'if-required' }, true, ['libc6']), {
      reboot: true,
      reason: 'reboot required (libc6)',
    });
    assert.equal(rebootDecision({ reboot: 'always' }, false, []).reboot, true);
  });

  it('never counts a kernel package as a reason to reboot a container', () => {
    for (const k of ['linux-image-6.1.0-28-amd64', 'kernel-core', 'kernel-default', 'linux', 'linux-lts', 'linux-virt'])
      assert.ok(isKernelPackage(k), k);
    assert.ok(!isKernelPackage('linux-base') && !isKernelPackage('libc6'));
    assert.deepEqual(containerRebootNeed(true, ['linux-image-6.1.0-28-amd64']), {
      required: false,
      packages: [],
      dropped: ['linux-image-6.1.0-28-amd64'],
    });
    assert.deepEqual(containerRebootNeed(true, ['kernel-core', 'dbus']), {
      required: true,
      packages: ['dbus'],
      dropped: ['kernel-core'],
    });
    assert.equal(containerRebootNeed(true, []).required, true, 'a flag without packages still counts');
  });

  it('sends reboots only inside the reboot window, also across midnight', () => {
    const at = (h: number, m: number) => new Date(2026, 11, 6, h, m);
    assert.equal(outsideWindow('', at(12, 0)), null);
    assert.equal(outsideWindow('02:00-05:00', at(3, 30)), null);
    assert.equal(outsideWindow('02:00-05:00', at(5, 0)), '02:00-05:00');
    assert.equal(outsideWindow('22:00-04:00', at(23, 59)), null);
    assert.equal(outsideWindow('22:00-04:00', at(1, 0)), null);
    assert.equal(outsideWindow('22:00-04:00', at(12, 0)), '22:00-04:00');
  });
});
