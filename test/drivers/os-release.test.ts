import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectOs, familyForOsId, resolveFamily } from '../../daemon/drivers/detect.js';
import { parseOsRelease } from '../../daemon/drivers/os-release.js';
import { FakeTransport } from './fake-transport.js';

// Debian 12's /etc/os-release as shipped by base-files 12.4+deb12u*
const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

describe('os-release', () => {
  it('parses quoted and bare values', () => {
    assert.deepEqual(parseOsRelease(DEBIAN_12), {
      id: 'debian',
      idLike: [],
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      versionId: '12',
    });
  });

  it('parses ID_LIKE lists, escapes, single quotes and comments', () => {
    const text = `# comment\nID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME='Rocky Linux 9'\nNAME="say \\"hi\\""\nnonsense line\n`;
    const r = parseOsRelease(text);
    assert.equal(r.id, 'rocky');
    assert.deepEqual(r.idLike, ['rhel', 'centos', 'fedora']);
    assert.equal(r.prettyName, 'Rocky Linux 9');
    assert.equal(parseOsRelease('NAME="say \\"hi\\""').prettyName, 'say "hi"');
    assert.deepEqual(parseOsRelease(''), { id: null, idLike: [], prettyName: null, versionId: null });
  });

  it('maps IDs and ID_LIKE to families', () => {
    for (const id of ['debian', 'ubuntu', 'devuan', 'linuxmint', 'pop', 'kali', 'raspbian'])
      assert.equal(familyForOsId(id), 'apt');
    for (const id of ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'])
      assert.equal(familyForOsId(id), 'dnf');
    for (const id of ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse', 'sles', 'sled'])
      assert.equal(familyForOsId(id), 'zypper');
    for (const id of ['arch', 'manjaro', 'endeavouros']) assert.equal(familyForOsId(id), 'pacman');
    assert.equal(familyForOsId('alpine'), 'apk');
    assert.equal(familyForOsId('gentoo'), null);
    const mint = parseOsRelease('ID=elementary\nID_LIKE="ubuntu debian"\n');
    assert.deepEqual(resolveFamily(mint), { family: 'apt' });
  });

  it('falls back to the LXC ostype, else explains', () => {
    const gentoo = parseOsRelease('ID=gentoo\n');
    assert.deepEqual(resolveFamily(gentoo, 'debian'), {
      family: 'apt',
      reason: "from the container's ostype 'debian'",
    });
    assert.deepEqual(resolveFamily(gentoo), {
      family: null,
      reason: "unknown distribution 'gentoo' (ID_LIKE: none) - no package-manager family matches",
    });
    assert.equal(
      resolveFamily(parseOsRelease('')).reason,
      'no os-release ID found - no package-manager family matches',
    );
  });

  it('detectOs reads /etc/os-release, then /usr/lib/os-release, with argv only', async () => {
    const t = new FakeTransport((argv) =>
      argv[1] === '/usr/lib/os-release' ? { stdout: DEBIAN_12 } : { exitCode: 1 },
    );
    const os = await detectOs(t);
    assert.deepEqual(t.calls, [
      ['cat', '/etc/os-release'],
      ['cat', '/usr/lib/os-release'],
    ]);
    assert.equal(os.family, 'apt');
    assert.equal(os.versionId, '12');
  });
});
