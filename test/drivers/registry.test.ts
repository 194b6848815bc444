import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FAMILY_OS_IDS, familyForOsId } from '../../daemon/drivers/detect.js';
import { drivers, getDriver, requireDriver } from '../../daemon/drivers/index.js';

const driverDir = new URL('../../daemon/drivers/', import.meta.url);
const folders = readdirSync(driverDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

describe('driver registry', () => {
  it('has an entry for every folder under daemon/drivers/', () => {
    for (const folder of folders)
      assert.ok(drivers.has(folder), `daemon/drivers/${folder}/ has no drivers.set('${folder}', …)`);
  });

  it('has a folder for every entry, named as the driver', () => {
    for (const [key, driver] of drivers) {
      assert.ok(folders.includes(key), `drivers has '${key}' but no daemon/drivers/${key}/`);
      assert.equal(driver.name, key);
    }
  });

  it("keeps each driver's osIds and detect's family table in step", () => {
    for (const [key, driver] of drivers) {
      assert.deepEqual(
        [...driver.osIds].sort(),
        [...((FAMILY_OS_IDS as Record<string, readonly string[]>)[key] ?? [])].sort(),
      );
      for (const id of driver.osIds) assert.equal(familyForOsId(id), key);
    }
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
