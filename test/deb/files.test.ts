import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { parseConfigText } from '../../daemon/config/load.js';
import { CONFIG_KEYS, ConfigSchema, HOOK_PHASE_NAMES } from '../../daemon/config/schema.js';
import { run } from '../guests/run.js';
import { ensureBundle, ROOT } from './bundle.js';

const read = (rel: string) => readFileSync(`${ROOT}${rel}`, 'utf8');

/** `# key: value` lines of the shipped config file, in order. */
function commentedKeys(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    const m = /^# ([a-z_]+):(.*)$/.exec(line);
    if (m) out.push([m[1]!, m[2]!.trim()]);
  }
  return out;
}

describe('debian/conf/pvepatch.conf', () => {
  const text = read('debian/conf/pvepatch.conf');
  const entries = commentedKeys(text);
  const defaults = ConfigSchema.parse({});

  it('sets nothing as shipped: every line is a comment', () => {
    assert.deepEqual(parseConfigText(text, 'pvepatch.conf'), {});
  });

  it('names every key of ConfigSchema once, and no other', () => {
    assert.deepEqual(entries.map(([k]) => k).sort(), [...CONFIG_KEYS].sort());
  });

  it("shows each key's default, or for a key without one an example the schema accepts", () => {
    for (const [key, shown] of entries) {
      const parsed = ConfigSchema.safeParse({ [key]: shown });
      assert.ok(parsed.success, `${key}: '${shown}' is not valid`);
      const def = defaults[key as keyof typeof defaults];
      if (def !== undefined)
        assert.deepEqual(parsed.data[key as keyof typeof defaults], def, `${key}: not the default`);
    }
  });

  it('uncommented as a whole, it parses and gives the defaults', () => {
    const all = text.replace(/^# ([a-z_]+:)/gm, '$1');
    const parsed = ConfigSchema.parse(parseConfigText(all, 'uncommented'));
    for (const key of CONFIG_KEYS) {
      if (defaults[key] !== undefined) assert.deepEqual(parsed[key], defaults[key], key);
    }
  });
});

describe('debian/', () => {
  it('ships one hooks.d/<phase>.d directory per hook phase', () => {
    const dirs = read('debian/pvepatch.dirs').split('\n').filter(Boolean);
    assert.deepEqual(
      dirs,
      HOOK_PHASE_NAMES.map((p) => `etc/pvepatch/hooks.d/${p}.d`),
    );
  });

  it('installs every template (the directory the postinst links from)', () => {
    assert.ok(readdirSync(`${ROOT}templates`).every((f) => f.startsWith('pvepatch-') && f.endsWith('.hbs')));
    assert.match(read('debian/pvepatch.install'), /^templates\/\*\.hbs usr\/share\/pvepatch\/templates\/$/m);
  });

  it('justifies every lintian override with a comment line above it', () => {
    const lines = read('debian/pvepatch.lintian-overrides').split('\n');
    lines.forEach((line, i) => {
      if (line.startsWith('pvepatch:')) assert.match(lines[i - 1] ?? '', /^# /, `override without a reason: ${line}`);
    });
  });

  it('installs the web UI panel where pveproxy serves /pve2/js/, and its build is checked and copied', () => {
    assert.match(read('debian/pvepatch.install'), /^dist\/ui\/pvepatch-ui\.js usr\/share\/pve-manager\/js\/$/m);
    assert.match(read('debian/rules'), /^UI := dist\/ui\/pvepatch-ui\.js$/m);
    assert.match(read('debian/rules'), /for f in .*\$\(UI\); do/);
    assert.match(read('scripts/deb.mjs'), /^ {2}'dist\/ui',$/m);
  });

  it('re-adds the panel line when pve-manager replaces its template (file trigger), takes it out on remove', () => {
    const triggers = read('debian/pvepatch.triggers').split('\n');
    assert.ok(triggers.includes('interest-noawait /usr/share/pve-manager/index.html.tpl'));
    assert.match(read('debian/pvepatch.postinst'), /^ {4}pvepatch ui install \|\| echo .*>&2$/m);
    assert.match(read('debian/pvepatch.prerm'), /^ {4}remove\)\n(.*\n){1,2} +pvepatch ui remove \|\| echo .*>&2$/m);
  });

  // bashisms are lintian's check (deb.test.ts runs it on the built package)
  it('maintainer scripts: /bin/sh, set -e, the debhelper token', () => {
    for (const script of ['postinst', 'prerm', 'postrm']) {
      const text = read(`debian/pvepatch.${script}`);
      assert.match(text, /^#!\/bin\/sh\n/, script);
      assert.match(text, /^set -e$/m, script);
      assert.match(text, /^#DEBHELPER#$/m, script);
    }
  });
});

describe('debian/copyright', () => {
  before(ensureBundle);

  it('lists every npm package in the bundle with its licence (scripts/deb.mjs --check-copyright)', async () => {
    const res = await run([process.execPath, `${ROOT}scripts/deb.mjs`, '--check-copyright']);
    assert.equal(res.exitCode, 0, res.stderr);
  });

  it('names every package that has a licence comment in the bundle', () => {
    const legal = read('dist/pvepatch.mjs.LEGAL.txt');
    const copyright = read('debian/copyright');
    // "<package>/<file>:" lines (a scoped package's name has two segments)
    const named = new Set(
      legal
        .split('\n')
        .filter((l) => /^[@a-z0-9][^\s]*:$/.test(l))
        .map((l) =>
          l
            .split('/')
            .slice(0, l.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    );
    assert.ok(named.size > 10, 'LEGAL.txt parsed');
    for (const pkg of named) assert.ok(copyright.includes(`Files: node_modules/${pkg}/*`), `${pkg} missing`);
  });
});
