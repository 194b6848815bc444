/**
 * Every parser of guest text, against adversarial input: 1 MiB lines, 10^5 elements, deep
 * nesting, glob bombs, NUL and escape bytes, invalid UTF-8, and the family's real output grown far
 * past any real size — plus fast-check properties over the family's own fragments. Each parse
 * either returns or fails with a PvepatchError (a clean refusal), and in linear time: a generous
 * 2 s bound per call, where a linear parse of these sizes takes milliseconds and a quadratic one
 * takes minutes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadParsers, NOT_TEXT, parserModules } from './parser-modules.js';
import { runCorpus } from './run-corpus.js';

const LIMIT_MS = 2000;

describe('guest-text parsers on adversarial input', () => {
  it('covers every parser module and every exported function (or says why not)', async () => {
    const modules = parserModules();
    assert.ok(modules.length >= 15, `found only ${modules.length} parser modules`);
    const parsers = await loadParsers(modules);
    assert.ok(parsers.length >= 60, `found only ${parsers.length} parsers`);
    for (const name of Object.keys(NOT_TEXT)) {
      assert.ok(
        (await Promise.all(modules.map((m) => import(`../../${m}`)))).some((e) => typeof e[name] === 'function'),
        `NOT_TEXT names '${name}', which no parser module exports any more`,
      );
    }
  });

  it('parses or fails cleanly, each call under 2 s', { timeout: 900_000 }, async () => {
    const run = await runCorpus(parserModules(), { fixtureSize: 128 * 1024, bombSize: 1024 * 1024, runs: 12 }, 600_000);
    assert.deepEqual(run.hung, [], 'a parser did not finish within the worker limit');
    const slow = run.results
      .filter((r) => r.worstMs > LIMIT_MS)
      .map((r) => `${r.parser}: ${Math.round(r.worstMs)} ms on ${r.worstInput}`);
    assert.deepEqual(slow, [], 'parsers slower than 2 s on one input');
    const unclean = run.results.filter((r) => r.unclean.length > 0).map((r) => `${r.parser}: ${r.unclean[0]}`);
    assert.deepEqual(unclean, [], 'parsers that threw something other than a PvepatchError');
    assert.ok(run.results.every((r) => r.inputs > 100));
  });
});
