/**
 * No backtracking regex can be made slow by its input: every regular expression in the daemon's
 * sources is checked by recheck (automaton analysis plus fuzzing) and must come out `safe` — not
 * polynomial, not exponential, not unknown. A pattern built at run time cannot be checked and is
 * refused outright. This covers the admin's config and API input too, not only guest text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSync } from 'recheck';
import { ROOT } from './parser-modules.js';
import { findRegexes } from './regex-inventory.js';

describe('regular expressions in daemon/', () => {
  const found = findRegexes(ROOT, 'daemon');

  it('are all literals (a pattern built at run time cannot be checked)', () => {
    assert.ok(found.length > 50, `only ${found.length} found - is the inventory still reading the sources?`);
    const dynamic = found.filter((r) => r.source === null).map((r) => `${r.file}:${r.line}`);
    assert.deepEqual(dynamic, []);
  });

  it('are all safe from catastrophic and polynomial backtracking', { timeout: 300_000 }, () => {
    const unsafe: string[] = [];
    for (const r of found) {
      if (r.source === null) continue;
      const res = checkSync(r.source, r.flags.replace(/[gy]/g, ''), { timeout: 5000 });
      if (res.status !== 'safe') {
        const how = res.status === 'vulnerable' ? res.complexity.summary : res.status;
        unsafe.push(`${r.file}:${r.line} /${r.source}/${r.flags} - ${how}`);
      }
    }
    assert.deepEqual(unsafe, []);
  });
});
