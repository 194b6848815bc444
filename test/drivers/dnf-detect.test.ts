import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectOs } from '../../daemon/drivers/detect.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { FakeTransport } from './fake-transport.js';

// /etc/os-release of CentOS 7 (centos-release-7) and Rocky Linux 9, as shipped
const CENTOS_7 = `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"
`;
const ROCKY_9 =
  'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n';

function guest(osRelease: string, hasDnf: boolean, hasYum = true): FakeTransport {
  return new FakeTransport((argv) => {
    if (argv[0] === 'cat') return { stdout: osRelease };
    if (argv.join(' ') === 'test -x /usr/bin/dnf') return { exitCode: hasDnf ? 0 : 1 };
    if (argv.join(' ') === 'test -x /usr/bin/yum') return { exitCode: hasYum ? 0 : 1 };
    return { exitCode: 127 };
  });
}

const exec = (t: FakeTransport) => new GuestExec(t);

describe('detectOs: dnf or yum in the rpm family', () => {
  it('an rpm-family guest with /usr/bin/dnf is dnf', async () => {
    const t = guest(ROCKY_9, true);
    const os = await detectOs(exec(t));
    assert.equal(os.family, 'dnf');
    assert.equal(os.reason, undefined);
    assert.deepEqual(t.calls, [
      ['cat', '--', '/etc/os-release'],
      ['test', '-x', '/usr/bin/dnf'],
    ]);
  });

  it('without dnf (CentOS 7) it is yum, and says why', async () => {
    const t = guest(CENTOS_7, false);
    const os = await detectOs(exec(t));
    assert.equal(os.family, 'yum');
    assert.equal(os.versionId, '7');
    assert.equal(os.reason, '/usr/bin/dnf not found - using yum');
    assert.deepEqual(t.calls, [
      ['cat', '--', '/etc/os-release'],
      ['test', '-x', '/usr/bin/dnf'],
      ['test', '-x', '/usr/bin/yum'],
    ]);
  });

  it('neither dnf nor yum: driver-unsupported, naming both', async () => {
    await assert.rejects(detectOs(exec(guest(ROCKY_9, false, false))), {
      code: 'driver-unsupported',
      message: 'unable to find a package manager in the guest - none of /usr/bin/dnf, /usr/bin/yum',
    });
  });

  it('the LXC ostype hint gets the same probe; other families are not probed', async () => {
    const hinted = guest('ID=somethingelse\n', false);
    assert.equal((await detectOs(exec(hinted), { ostype: 'centos' })).family, 'yum');
    assert.deepEqual(hinted.calls.slice(1), [
      ['test', '-x', '/usr/bin/dnf'],
      ['test', '-x', '/usr/bin/yum'],
    ]);
    const debian = guest('ID=debian\n', false);
    assert.equal((await detectOs(exec(debian))).family, 'apt');
    assert.deepEqual(debian.calls, [['cat', '--', '/etc/os-release']]);
  });
});
