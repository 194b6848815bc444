import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeLock,
  isPlainPackageLock,
  lockMatches,
  neededSecurityPatches,
  parseInstallSummary,
  parseListUpdates,
  parseLocks,
  parsePatches,
  parsePatchInfo,
} from '../../daemon/drivers/zypper/parse.js';
import {
  child,
  decodeEntities,
  descendants,
  MAX_ELEMENTS,
  messages,
  parseAttributes,
  parseXml,
} from '../../daemon/drivers/zypper/xml.js';
import { fixture } from './fixtures.js';

const demo = (name: string, from: string, to: string) => ({
  package: name,
  current_version: from,
  new_version: to,
  repository: 'demo',
  security: false,
});

describe('zypper xml helpers', () => {
  it('does not read <update-list> as an <update>, decodes entities', () => {
    const xml =
      '<update-list><update name="a&amp;b" kind=\'package\'/><update name="c">x &lt; y</update></update-list>';
    const doc = parseXml(xml);
    // the text is decoded now (the old reader returned the raw body, 'x &lt; y')
    assert.deepEqual(
      descendants(doc, 'update').map((e) => [e.attrs.name, e.text]),
      [
        ['a&b', ''],
        ['c', 'x < y'],
      ],
    );
    assert.deepEqual(
      descendants(doc, 'update-list').map((e) => e.children.length),
      [2],
    );
    assert.equal(decodeEntities('&apos;&#65;&#x42;&unknown;'), "'AB&unknown;");
    const locked = parseXml(fixture('zypper/locked.xml'));
    const pid = /pid (\d+)/.exec(fixture('zypper/locked.xml'))?.[1];
    assert.deepEqual(messages(locked, 'error'), [
      `System management is locked by the application with pid ${pid} (sleep).\nClose this application before trying again.`,
    ]);
  });

  it('attributes with either quote, first one wins; comments, CDATA and processing instructions', () => {
    assert.deepEqual(parseAttributes(` a="1" b='x&amp;y' a="2" c = "3" bare d="un`), { a: '1', b: 'x&y', c: '3' });
    const doc = parseXml(
      '<?xml version=\'1.0\'?>\n<!-- <update name="no"/> --><stream><message type="info"><![CDATA[a < b]]></message><x/></stream>',
    );
    const stream = child(doc, 'stream');
    assert.deepEqual(
      stream?.children.map((c) => c.name),
      ['message', 'x'],
    );
    assert.deepEqual(messages(doc, 'info'), ['a < b']);
    assert.deepEqual(descendants(doc, 'update'), []);
    assert.equal(child(doc, 'missing'), undefined);
  });

  it('tolerant and bounded: stray end tags ignored, unclosed elements end with their parent, too many elements refused', () => {
    const doc = parseXml('<a><b><c></b></x><d/></a>');
    assert.deepEqual(
      descendants(doc, 'a')[0]?.children.map((c) => c.name),
      ['b', 'd'],
    );
    assert.equal(descendants(doc, 'c').length, 1);
    assert.throws(() => parseXml('<e/>'.repeat(MAX_ELEMENTS + 1)), {
      code: 'output-invalid',
      message: `unable to read zypper's XML - more than ${MAX_ELEMENTS} elements`,
    });
  });
});

describe('zypper parseListUpdates', () => {
  it('reads the real list: name, editions, repo alias', () => {
    const parsed = parseListUpdates(fixture('zypper/list-updates.xml'));
    assert.deepEqual(parsed.unparsed, []);
    assert.deepEqual(parsed.updates, [
      demo('demo-app', '1.0-1', '1.1-1'),
      demo('demo-conf', '1.0-1', '1.1-1'),
      demo('demo-lib', '1.0-1', '1.1-1'),
      demo('demo-sec', '1.0-1', '1.1-1'),
      demo('demo-tool', '1.0-1', '1.1-1'),
      demo('kernel-default', '6.1.0-1', '6.2.0-1'),
    ]);
  });

  it('an admin lock hides the package; a multiversion kernel is still listed with its old edition', () => {
    const locked = parseListUpdates(fixture('zypper/list-updates-admin-lock.xml')).updates.map((u) => u.package);
    assert.deepEqual(locked, ['demo-app', 'demo-conf', 'demo-sec', 'demo-tool', 'kernel-default']);
    assert.deepEqual(parseListUpdates(fixture('zypper/list-updates-multiversion.xml')).updates, [
      demo('kernel-default', '6.1.0-1', '6.2.0-1'),
    ]);
  });

  it('reports names that fail the package-name rule and skips patches', () => {
    const xml =
      '<update kind="package" name="bad;name" edition="1"/><update kind="patch" name="P-1" edition="1"/>' +
      '<update kind="package" name="ok" edition="2-1"><source alias="r"/></update>';
    const parsed = parseListUpdates(xml);
    assert.deepEqual(parsed.unparsed, ['bad;name 1']);
    assert.deepEqual(parsed.updates, [
      { package: 'ok', current_version: null, new_version: '2-1', repository: 'r', security: false },
    ]);
  });
});

describe('zypper patches', () => {
  it('list-patches --category security in XML still lists every category (zypper 1.14): filter ourselves', () => {
    const patches = parsePatches(fixture('zypper/list-patches-security.xml'));
    assert.deepEqual(
      patches.map((p) => [p.id, p.category, p.status]),
      [
        ['DEMO-SA-2026:0001', 'security', 'needed'],
        ['DEMO-RU-2026:0002', 'recommended', 'needed'],
      ],
    );
    assert.deepEqual(
      neededSecurityPatches(patches).map((p) => p.id),
      ['DEMO-SA-2026:0001'],
    );
  });

  it('a locked patch is unwanted, not needed; a reboot-suggesting patch is interactive', () => {
    assert.deepEqual(neededSecurityPatches(parsePatches(fixture('zypper/list-patches-unwanted.xml'))), []);
    const reboot = parsePatches(fixture('zypper/list-patches-reboot.xml'));
    assert.deepEqual(reboot, [
      { id: 'DEMO-SA-2026:0001', category: 'security', status: 'needed', interactive: true, pkgmanager: false },
    ]);
  });

  it('info -t patch: the Conflicts section names the packages, inline or listed, with or without .arch', () => {
    assert.deepEqual(
      [...parsePatchInfo(fixture('zypper/info-patch.xml'))],
      [
        ['DEMO-SA-2026:0001', ['demo-sec']],
        ['DEMO-RU-2026:0002', ['demo-tool']],
      ],
    );
    assert.deepEqual(
      [...parsePatchInfo(fixture('zypper/info-patch-arch.xml'))],
      [['DEMO-SA-2026:0001', ['demo-sec', 'kernel-default']]],
    );
    assert.deepEqual([...parsePatchInfo(fixture('zypper/info-patch-not-found.xml'))], []);
  });

  it('keeps dots that are not an arch (python3.11-foo.x86_64 < 1)', () => {
    const xml =
      '<message type="info">Name        : P-1\nConflicts   : [2]\n    python3.11-foo.x86_64 &lt; 1\n    libx.so &lt; 2\n</message>';
    assert.deepEqual(parsePatchInfo(xml).get('P-1'), ['python3.11-foo', 'libx.so']);
  });
});

describe('zypper parseLocks', () => {
  it('no locks', () => {
    assert.deepEqual(parseLocks(fixture('zypper/locks-empty.xml')), []);
  });

  it('every kind an admin may set: patch, repo-bound, version-bound, glob', () => {
    const locks = parseLocks(fixture('zypper/locks-variety.xml'));
    assert.deepEqual(locks.map(describeLock), [
      'patch:DEMO-RU-2026:0002',
      'demo-conf (repo demo)',
      'demo-lib',
      'demo-tool < 2',
      'kernel*',
    ]);
    assert.deepEqual(
      locks.filter(isPlainPackageLock).map((l) => l.name),
      ['demo-lib', 'kernel*'],
    );
    const glob = locks.find((l) => l.name === 'kernel*');
    assert.ok(glob && lockMatches(glob, 'kernel-default') && !lockMatches(glob, 'xkernel'));
    const patch = locks.find((l) => l.type === 'patch');
    assert.ok(patch && !lockMatches(patch, 'DEMO-RU-2026:0002'));
  });
});

describe('zypper parseInstallSummary', () => {
  it('update --dry-run: to-upgrade with old and new editions', () => {
    const summary = parseInstallSummary(fixture('zypper/update-dry-run.xml'));
    assert.equal(summary?.packagesToChange, 5);
    assert.deepEqual(
      summary?.changes.map((c) => `${c.package} ${c.before} ${c.after}`),
      [
        'demo-app 1.0-1 1.1-1',
        'demo-conf 1.0-1 1.1-1',
        'demo-sec 1.0-1 1.1-1',
        'demo-tool 1.0-1 1.1-1',
        'kernel-default 6.1.0-1 6.2.0-1',
      ],
    );
  });

  it('patch --dry-run leaves out the patch solvable; a multiversion kernel is a to-install', () => {
    assert.deepEqual(parseInstallSummary(fixture('zypper/patch-security-dry-run.xml'))?.changes, [
      { package: 'demo-sec', before: '1.0-1', after: '1.1-1' },
    ]);
    assert.deepEqual(parseInstallSummary(fixture('zypper/update-dry-run-multiversion.xml'))?.changes, [
      { package: 'kernel-default', before: null, after: '6.2.0-1' },
    ]);
  });

  it('verify --dry-run: empty when consistent, the repair when broken', () => {
    assert.deepEqual(parseInstallSummary(fixture('zypper/verify-ok.xml')), { packagesToChange: 0, changes: [] });
    assert.deepEqual(parseInstallSummary(fixture('zypper/verify-broken.xml'))?.changes, [
      { package: 'demo-lib', before: null, after: '1.1-1' },
    ]);
    assert.equal(parseInstallSummary(fixture('zypper/locked.xml')), null);
  });
});
