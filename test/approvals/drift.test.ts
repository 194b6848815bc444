import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approvedDecision } from '../../daemon/approvals/drift.js';

const u = (p: string, cur: string | null, next: string) => ({
  package: p,
  current_version: cur,
  new_version: next,
  repository: 'r',
  security: false,
});
const plan = {
  vmid: 101,
  name: 'g',
  driver: 'apt',
  packages: [
    { package: 'a', current_version: '1.0', new_version: '1.1' },
    { package: 'b', current_version: '1.0', new_version: '1.1' },
  ],
};

describe('approved plan against the guest now', () => {
  it('pins the approved versions, keeps back what it did not list, even when newer ones are offered', () => {
    const d = approvedDecision(plan, [u('a', '1.0', '1.1'), u('b', '1.0', '1.2'), u('c', '2', '3')], true);
    assert.deepEqual(d, { pins: { a: '1.1', b: '1.1' }, unapproved: ['c'], drift: [] });
  });
  it('calls it drift when a family that cannot pin is offered another version', () => {
    const d = approvedDecision(plan, [u('a', '1.0', '1.1'), u('b', '1.0', '1.2')], false);
    assert.deepEqual(d.drift, [
      { package: 'b', approved: '1.1', now: '1.2 offered (this family cannot pin a version)' },
    ]);
  });
  it('calls it drift when a package changed underneath or has no update any more', () => {
    const d = approvedDecision(plan, [u('a', '1.1', '1.2')], true);
    assert.deepEqual(d.drift, [
      { package: 'a', approved: '1.0 -> 1.1', now: '1.1 -> 1.2' },
      { package: 'b', approved: '1.0 -> 1.1', now: 'no update pending' },
    ]);
  });
});
