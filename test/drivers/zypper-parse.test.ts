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
import { decodeEntities, elements, messages } from '../../daemon/drivers/zypper/xml.js';
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
    assert.deepEqual(
      elements(xml, 'update').map((e) => [e.attrs.name, e.body]),
      [
        ['a&b', ''],
        ['c', 'x &lt; y'],
      ],
    );
    assert.equal(decodeEntities('&apos;&#65;&#x42;&unknown;'), "'AB&unknown;");
    const locked = fixture('zypper/locked.xml');
    const pid = /pid (\d+)/.exec(locked)?.[1];
    assert.deepEqual(messages(locked, 'error'), [
      `System management is locked by the application with pid ${pid} (sleep).\nClose this application before trying again.`,
    ]);
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
