import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultChannels } from '../../daemon/notify/detect.js';
import { DEFAULT_NOTIFY_CONFIG_PATH, loadNotifyConfig } from '../../daemon/notify/load.js';
import { readSecretFile } from '../../daemon/notify/secrets.js';
import { tempDir } from './helpers.js';

const dir = tempDir('load');
const file = (name: string, content: string, mode: number) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
};
const absent = join(dir, 'absent');
const sendmail = file('sendmail', '#!/bin/sh\n', 0o755);
const pveModule = file('Notify.pm', '1;\n', 0o644);
const spool = join(dir, 'spool');
mkdirSync(spool);
const none = { pveNotifyModule: absent, pbsSpoolDir: absent, sendmail: absent };

describe('notification channels: loading the config, defaults and secret files', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to PVE::Notify, else the PBS spool, else mail to root, else nothing', () => {
    assert.equal(DEFAULT_NOTIFY_CONFIG_PATH, '/etc/pvepatch/notifications.conf');
    assert.deepEqual(defaultChannels({ ...none, pveNotifyModule: pveModule, pbsSpoolDir: spool, sendmail }), [
      { name: 'proxmox', kind: 'proxmox-pve' },
    ]);
    assert.deepEqual(defaultChannels({ ...none, pbsSpoolDir: spool, sendmail }), [
      { name: 'proxmox', kind: 'proxmox-pbs', spool_dir: spool },
    ]);
    assert.deepEqual(defaultChannels({ ...none, sendmail }), [
      { name: 'mail-root', kind: 'sendmail', sendmail_path: sendmail, mailto: ['root'] },
    ]);
    assert.deepEqual(defaultChannels(none), []);
  });

  it('uses the defaults when the file does not exist', () => {
    assert.deepEqual(loadNotifyConfig(absent, { probe: { ...none, sendmail } }), {
      source: 'default',
      channels: [{ name: 'mail-root', kind: 'sendmail', sendmail_path: sendmail, mailto: ['root'] }],
      refused: [],
    });
  });

  it('refuses a channel whose secret file others may read; the others still load', () => {
    const good = file('good.secret', 's3cret\n', 0o600);
    const ro = file('ro.secret', 's3cret', 0o400);
    const loose = file('loose.secret', 's3cret\n', 0o640);
    const conf = file(
      'n.conf',
      `webhook: a\n\turl https://a.example\n\tsecret-file ${good}\n\n` +
        `webhook: b\n\turl https://b.example\n\tsecret-file ${loose}\n\n` +
        `smtp: c\n\tserver m.example\n\tfrom f@b.c\n\tmailto a@b.c\n\tusername u\n\tpassword-file ${ro}\n\n` +
        `smtp: d\n\tserver m.example\n\tfrom f@b.c\n\tmailto a@b.c\n\tusername u\n\tpassword-file ${absent}\n`,
      0o644,
    );
    const loaded = loadNotifyConfig(conf, { probe: none });
    assert.deepEqual(
      loaded.channels.map((c) => c.name),
      ['a', 'c'],
    );
    assert.deepEqual(loaded.refused, [
      {
        name: 'b',
        reason: `channel 'b' refused - unable to use secret file '${loose}' - group or others may read or write it (mode 0640); run: chmod 600 ${loose}`,
      },
      {
        name: 'd',
        reason: `channel 'd' refused - unable to use secret file '${absent}' - ENOENT; create it with mode 0600`,
      },
    ]);
    assert.ok(!JSON.stringify(loaded).includes('s3cret'));
  });

  it('refuses a config file others may write, and one owned by another user', () => {
    const writable = file('w.conf', 'sendmail: r\n', 0o664);
    assert.throws(
      () => loadNotifyConfig(writable),
      new RegExp(
        `^PvepatchError: unable to read notification config '${writable}' - group or others may write it \\(mode 0664\\); run: chmod 644 ${writable}$`,
      ),
    );
    if (process.getuid?.() === 0) {
      const foreign = file('f.conf', 'sendmail: r\n', 0o644);
      chownSync(foreign, 1234, 0);
      assert.throws(() => loadNotifyConfig(foreign, { uid: 0 }), /it belongs to uid 1234; run: chown root:root/);
    }
    assert.throws(() => loadNotifyConfig(dir), /- it is not a regular file$/);
  });

  it('reads a secret without its final newline and refuses empty or multi-line files', () => {
    assert.equal(readSecretFile(file('s1', 'abc\n', 0o600)), 'abc');
    assert.throws(() => readSecretFile(file('s2', '\n', 0o600)), /- it is empty; write the secret into it$/);
    assert.throws(() => readSecretFile(file('s3', 'a\nb\n', 0o600)), /- it holds more than one line/);
    assert.throws(() => readSecretFile(file('s4', 'x'.repeat(5000), 0o600)), /- it is larger than 4096 bytes$/);
  });
});
