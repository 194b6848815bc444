import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { assertNoOverlap, findOverlap, normalizeSelector } from '../../daemon/schedule/overlap.js';
import { def } from './helpers.js';

const nightly = def({ id: 'nightly', selector: ['tag:web', 'node:pve1'] });

test('a second enabled schedule for the same target is refused and names the first', () => {
  const second = def({ id: 'weekly', cron: '0 2 * * 6', selector: [' node:pve1,tag:web', 'tag:web', ''] });
  assert.throws(
    () => assertNoOverlap([def({ id: 'other', selector: ['tag:db'] }), nightly], second),
    (err) => {
      assert.ok(isPvepatchError(err));
      assert.equal(err.code, 'input-invalid');
      assert.equal(
        err.message,
        "unable to create schedule 'weekly' - schedule 'nightly' already targets node:pve1 tag:web",
      );
      assert.deepEqual(err.details, { existing: 'nightly', selector: ['node:pve1', 'tag:web'] });
      return true;
    },
  );
});

test('no overlap when either one is disabled, the selector differs, or it is the same schedule', () => {
  const same = def({ id: 'weekly', selector: ['node:pve1', 'tag:web'] });
  assert.equal(findOverlap([{ ...nightly, enabled: false }], same), undefined);
  assert.equal(findOverlap([nightly], { ...same, enabled: false }), undefined);
  assert.equal(findOverlap([nightly], { ...same, selector: ['tag:web'] }), undefined);
  assert.equal(findOverlap([nightly], { ...nightly, cron: '0 4 * * *' }), undefined);
  assert.doesNotThrow(() => assertNoOverlap([nightly], { ...same, selector: ['tag:web', 'node:pve2'] }));
});

test('normalizeSelector splits words on whitespace and commas like parseSelector, sorts and deduplicates', () => {
  assert.deepEqual(normalizeSelector(['b', ' a ', '', 'b,a', 'c\t-d', '-d']), ['-d', 'a', 'b', 'c']);
});
