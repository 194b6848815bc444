import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { candidates, detectOs, driversForOsId, familyForOsId } from '../../daemon/drivers/detect.js';
import { type OsRelease, parseOsRelease } from '../../daemon/drivers/os-release.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { FakeTransport } from './fake-transport.js';

/** The candidate drivers' names and the reason, as detection sees them. */
function resolve(release: OsRelease, ostype?: string): { families: string[]; reason?: string } {
  const found = candidates(release, ostype);
  const families = found.drivers.map((d) => d.name);
  return found.reason === undefined ? { families } : { families, reason: found.reason };
}

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
    for (const id of ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn']) {
      assert.equal(familyForOsId(id), 'dnf');
      // yum serves the same IDs; detection probes dnf first, then yum
      assert.deepEqual(
        driversForOsId(id).map((d) => d.name),
        ['dnf', 'yum'],
      );
    }
    for (const id of ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse', 'sles', 'sled', 'suse'])
      assert.equal(familyForOsId(id), 'zypper');
    for (const id of ['arch', 'manjaro', 'endeavouros']) assert.equal(familyForOsId(id), 'pacman');
    assert.equal(familyForOsId('alpine'), 'apk');
    assert.equal(familyForOsId('gentoo'), null);
    const mint = parseOsRelease('ID=elementary\nID_LIKE="ubuntu debian"\n');
    assert.deepEqual(resolve(mint), { families: ['apt'] });
  });

  it('falls back to the LXC ostype, else explains', () => {
    const gentoo = parseOsRelease('ID=gentoo\n');
    assert.deepEqual(resolve(gentoo, 'debian'), {
      families: ['apt'],
      reason: "from the container's ostype 'debian'",
    });
    assert.deepEqual(resolve(gentoo), {
      families: [],
      reason: "unknown distribution 'gentoo' (ID_LIKE: none) - no package-manager family matches",
    });
    assert.equal(resolve(parseOsRelease('')).reason, 'no os-release ID found - no package-manager family matches');
    // os-release wins over the hint
    assert.deepEqual(resolve(parseOsRelease('ID=alpine\n'), 'debian'), { families: ['apk'] });
  });

  it('every Proxmox LXC ostype pvepatch knew before the registry still points to its family', () => {
    const gentoo = parseOsRelease('ID=gentoo\n');
    const expected: Record<string, string[]> = {
      debian: ['apt'],
      ubuntu: ['apt'],
      devuan: ['apt'],
      centos: ['dnf', 'yum'],
      fedora: ['dnf', 'yum'],
      opensuse: ['zypper'],
      archlinux: ['pacman'],
      alpine: ['apk'],
    };
    for (const [ostype, families] of Object.entries(expected))
      assert.deepEqual(resolve(gentoo, ostype).families, families, `ostype ${ostype}`);
    assert.deepEqual(resolve(gentoo, 'unmanaged').families, []);
  });

  it('detectOs reads /etc/os-release, then /usr/lib/os-release, with argv only', async () => {
    const t = new FakeTransport((argv) =>
      argv.at(-1) === '/usr/lib/os-release' ? { stdout: DEBIAN_12 } : { exitCode: 1 },
    );
    const os = await detectOs(new GuestExec(t));
    assert.deepEqual(t.calls, [
      ['cat', '--', '/etc/os-release'],
      ['cat', '--', '/usr/lib/os-release'],
    ]);
    assert.equal(os.family, 'apt');
    assert.equal(os.versionId, '12');
  });
});
