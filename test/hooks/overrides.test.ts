import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeControls } from '../../daemon/core/escape.js';
import { HOOK_PHASES, OVERRIDE_KEYS, parseOverrides } from '../../daemon/hooks/index.js';

const H = 'pre-guest.d/10-x';
const parse = (text: string, current?: { snapshot_keep?: number }) => parseOverrides(text, 'pre-guest', H, current);
const EMPTY = { exclude: [], notes: [] };

describe('parseOverrides', () => {
  it('obeys each allow-listed key', () => {
    const r = parse(
      [
        '# a comment',
        '',
        '  PVEPATCH__EXCLUDE=nginx, libssl3 postgresql-16  ',
        'PVEPATCH__EXCLUDE = nginx,kernel-core',
        'PVEPATCH__REBOOT=always',
        'PVEPATCH__SNAPSHOT_KEEP=5',
        'PVEPATCH__NOTE=dump taken: a=b',
        'PVEPATCH__NOTE=second',
        'PVEPATCH__SKIP=maintenance of the database',
        'PVEPATCH__SKIP=later reason',
      ].join('\r\n'),
      { snapshot_keep: 3 },
    );
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.overrides, {
      exclude: ['nginx', 'libssl3', 'postgresql-16', 'kernel-core'],
      reboot: 'always',
      snapshot_keep: 5,
      notes: ['dump taken: a=b', 'second'],
      skip: 'maintenance of the database',
    });
  });

  it('lets the last reboot and snapshot_keep win, never below the current value', () => {
    const r = parse('PVEPATCH__REBOOT=never\nPVEPATCH__REBOOT=if-required\nPVEPATCH__SNAPSHOT_KEEP=3\n', {
      snapshot_keep: 3,
    });
    assert.deepEqual(r.overrides, { ...EMPTY, reboot: 'if-required', snapshot_keep: 3 });
    assert.equal(parse('PVEPATCH__SNAPSHOT_KEEP=100').overrides.snapshot_keep, 100);
  });

  it('ignores every hostile line with a warning naming the hook and showing the line', () => {
    const hostile = [
      'PATH=/tmp',
      'PVEPATCH__EXCLUDE=$(reboot)',
      'PVEPATCH__EXCLUDE=nginx; rm -rf /',
      'PVEPATCH__EXCLUDE=nginx ../etc',
      'PVEPATCH__EXCLUDE=',
      'PVEPATCH__PROTECTION=none',
      'pvepatch__reboot=always',
      'PVEPATCH__REBOOT=sometimes',
      'PVEPATCH__SNAPSHOT_KEEP=0',
      'PVEPATCH__SNAPSHOT_KEEP=2',
      'PVEPATCH__SNAPSHOT_KEEP=101',
      'PVEPATCH__SNAPSHOT_KEEP=4.5',
      'PVEPATCH__SNAPSHOT_KEEP=0x10',
      'PVEPATCH__NOTE=',
      'PVEPATCH__SKIP=',
      'PVEPATCH__NOTE=bell\x07',
      'PVEPATCH__NOTE=clear\x1b[2J',
      'PVEPATCH__SKIP=nul\0byte',
      'PVEPATCH__NOTE=bad utf8 \ufffd',
      'PVEPATCH__NOTE=lone \ud800 surrogate',
      'PVEPATCH__NOTE=rtl \u202e override',
      '__proto__=x',
      'constructor=x',
      'just some words',
      `PVEPATCH__NOTE=${'A'.repeat(100_000)}`,
    ];
    const r = parse(hostile.join('\n'), { snapshot_keep: 3 });
    assert.deepEqual(r.overrides, EMPTY);
    assert.equal(r.warnings.length, hostile.length);
    for (const w of r.warnings) {
      assert.ok(w.startsWith(`hook ${H}: ignored '`), w);
      assert.ok(w.length < 600, 'each warning is short');
      assert.equal(escapeControls(w), w, 'no control character left');
    }
    assert.equal(r.warnings[0], `hook ${H}: ignored 'PATH=/tmp' - PATH is not a key a hook may set`);
    assert.match(r.warnings[1]!, /invalid package name '\$\(reboot\)'/);
    assert.match(r.warnings[2]!, /invalid package name 'nginx;'/);
    assert.match(r.warnings[9]!, /2 is below the current 3 - a hook may make protection stricter, never weaker/);
    assert.match(r.warnings[16]!, /'PVEPATCH__NOTE=clear\\x1b\[2J' - control characters/);
    assert.match(r.warnings.at(-1)!, /'PVEPATCH__NOTE=A{185}…' - longer than 4096 characters$/);
  });

  it('obeys nothing after a pre phase: every KEY=VALUE line is a warning', () => {
    for (const phase of HOOK_PHASES.filter((p) => !p.startsWith('pre-'))) {
      const r = parseOverrides('PVEPATCH__REBOOT=always\nhealthy\nPVEPATCH__SKIP=x', phase, `${phase}.d/x`);
      assert.deepEqual(r.overrides, EMPTY);
      assert.deepEqual(r.warnings, [
        `hook ${phase}.d/x: ignored 'PVEPATCH__REBOOT=always' - post hooks cannot change the result`,
        `hook ${phase}.d/x: ignored 'PVEPATCH__SKIP=x' - post hooks cannot change the result`,
      ]);
    }
  });

  it('shows at most 50 warnings per hook', () => {
    const r = parse('x\n'.repeat(10_000));
    assert.equal(r.warnings.length, 51);
    assert.equal(r.warnings[50], `hook ${H}: 9950 more ignored lines not shown`);
  });

  it('is linear on huge input', () => {
    const t0 = Date.now();
    parse(`PVEPATCH__EXCLUDE=${'a '.repeat(500_000)}`);
    parse(`PVEPATCH__EXCLUDE=${'a '.repeat(2000)}\n`.repeat(250));
    parse('PVEPATCH__NOTE='.repeat(100_000));
    parse('=\n'.repeat(500_000));
    assert.ok(Date.now() - t0 < 2000);
  });
});

describe('parseOverrides properties', () => {
  const allowed = new Set<string>(OVERRIDE_KEYS);
  const text = fc.string({ unit: 'binary', maxLength: 60 });
  const key = fc.oneof(
    text,
    fc.constantFrom('PATH', 'LD_PRELOAD', 'PVEPATCH__PROTECTION', 'pvepatch__exclude', 'PVEPATCH__', '__proto__'),
  );
  const notAllowed = key.filter((k) => !allowed.has(k.trim()) && !k.includes('=') && !k.includes('\n'));
  const value = fc.oneof(text, fc.constantFrom('nginx', 'always', '5', 'x')).filter((v) => !v.includes('\n'));

  it('never throws, whatever the text, phase and hook', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), text, text, (stdout, phase, hook) => {
        parseOverrides(stdout, phase, hook);
        parseOverrides(stdout, 'pre-run', hook, { snapshot_keep: 3 });
      }),
      { numRuns: 500 },
    );
  });

  it('never obeys a line whose key is not allow-listed', () => {
    const lines = fc.array(fc.tuple(notAllowed, value), { maxLength: 20 });
    fc.assert(
      fc.property(lines, fc.constantFrom(...HOOK_PHASES), (ls, phase) => {
        const r = parseOverrides(ls.map(([k, v]) => `${k}=${v}`).join('\n'), phase, 'h');
        assert.deepEqual(r.overrides, EMPTY);
      }),
      { numRuns: 500 },
    );
  });

  it('obeys only valid values of allow-listed keys, and nothing in post phases', () => {
    const lines = fc.array(fc.tuple(fc.constantFrom(...OVERRIDE_KEYS), value), { maxLength: 20 });
    fc.assert(
      fc.property(lines, fc.constantFrom(...HOOK_PHASES), (ls, phase) => {
        const r = parseOverrides(ls.map(([k, v]) => `${k}=${v}`).join('\n'), phase, 'h', { snapshot_keep: 3 });
        if (!phase.startsWith('pre-')) assert.deepEqual(r.overrides, EMPTY);
        for (const n of r.overrides.exclude) assert.match(n, /^[A-Za-z0-9][A-Za-z0-9+._@-]*$/);
        if (r.overrides.snapshot_keep !== undefined) assert.ok(r.overrides.snapshot_keep >= 3);
        for (const t of [...r.overrides.notes, r.overrides.skip ?? '']) assert.equal(escapeControls(t), t);
      }),
      { numRuns: 500 },
    );
  });
});
