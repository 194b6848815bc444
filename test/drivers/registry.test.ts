import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { driversForOsId, familyForOsId } from '../../daemon/drivers/detect.js';
import { drivers, getDriver, requireDriver } from '../../daemon/drivers/index.js';

const driverDir = new URL('../../daemon/drivers/', import.meta.url);
const folders = readdirSync(driverDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);
/** A driver is a folder with an index.ts; shared/ and rpm-common/ hold code drivers share. */
const driverFolders = folders.filter((f) => existsSync(new URL(`${f}/index.ts`, driverDir)));

describe('driver registry', () => {
  it('tells driver folders (with index.ts) from shared code', () => {
    assert.deepEqual([...driverFolders].sort(), ['apk', 'apt', 'dnf', 'pacman', 'yum', 'zypper']);
    for (const shared of ['shared', 'rpm-common']) {
      assert.ok(folders.includes(shared), `daemon/drivers/${shared}/ exists`);
      assert.ok(!driverFolders.includes(shared), `daemon/drivers/${shared}/ is no driver (no index.ts)`);
      assert.ok(!drivers.has(shared));
    }
  });

  it('has an entry for every driver folder under daemon/drivers/', () => {
    for (const folder of driverFolders)
      assert.ok(drivers.has(folder), `daemon/drivers/${folder}/ has no drivers.set('${folder}', …)`);
  });

  it('has a folder for every entry, named as the driver', () => {
    for (const [key, driver] of drivers) {
      assert.ok(driverFolders.includes(key), `drivers has '${key}' but no daemon/drivers/${key}/index.ts`);
      assert.equal(driver.name, key);
    }
  });

  it('detection is derived from the registry: each osId goes to the first registered driver serving it', () => {
    const order = [...drivers.keys()];
    for (const [key, driver] of drivers) {
      assert.ok(driver.osIds.length > 0, `${key} serves no os-release ID`);
      for (const id of driver.osIds) {
        const serving = order.filter((k) => drivers.get(k)?.osIds.includes(id));
        assert.equal(familyForOsId(id), serving[0], `${id}`);
        assert.deepEqual(
          driversForOsId(id).map((d) => d.name),
          serving,
          `${id}`,
        );
        assert.ok(serving.includes(key));
      }
    }
    // dnf and yum share their IDs; dnf is registered first, yum is found by its binary
    assert.ok(order.indexOf('dnf') < order.indexOf('yum'));
    assert.deepEqual([...(drivers.get('dnf')?.osIds ?? [])].sort(), [...(drivers.get('yum')?.osIds ?? [])].sort());
    assert.equal(drivers.get('dnf')?.binary, '/usr/bin/dnf');
    assert.equal(drivers.get('yum')?.binary, '/usr/bin/yum');
  });

  it('drivers sharing an osId each name a binary to tell them apart', () => {
    for (const driver of drivers.values())
      for (const id of driver.osIds)
        if (driversForOsId(id).length > 1) assert.ok(driver.binary, `${driver.name} shares '${id}' without a binary`);
  });

  it('getDriver / requireDriver', () => {
    assert.equal(getDriver('apt')?.name, 'apt');
    assert.equal(getDriver('portage'), undefined);
    assert.throws(() => requireDriver('portage'), {
      code: 'driver-unsupported',
      message: /no driver for package manager 'portage' \(supported: apk, apt, dnf, pacman, yum, zypper\)/,
    });
    assert.throws(() => requireDriver(null), { code: 'driver-unsupported' });
  });
});
