import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../daemon/config/load.js';
import { readConfigText, rewriteConfigText, writeConfigFile } from '../../daemon/config/write.js';

const FILE = [
  '# pvepatch daemon',
  '#concurrency: 9',
  'pve_url: https://pve1:8006',
  '',
  '  concurrency :  2   ',
  '# reboots only at night',
  'reboot_window: 02:00-05:00',
  'concurrency: 3',
  'snapshot_keep: 4',
  '',
].join('\n');

describe('config file rewrite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-config-write-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a key in place, drops its later duplicates, keeps comments, blank lines and order', () => {
    const out = rewriteConfigText(FILE, { set: { concurrency: '5' }, delete: [] });
    assert.equal(
      out,
      [
        '# pvepatch daemon',
        '#concurrency: 9',
        'pve_url: https://pve1:8006',
        '',
        'concurrency: 5',
        '# reboots only at night',
        'reboot_window: 02:00-05:00',
        'snapshot_keep: 4',
        '',
      ].join('\n'),
    );
    assert.equal(parseConfigText(out, 'x').concurrency, '5');
  });

  it('appends keys the file does not have, after the last line, and deletes every line of a key', () => {
    const out = rewriteConfigText(FILE, { set: { reboot: 'if-required', fix_broken: '1' }, delete: ['concurrency'] });
    assert.equal(
      out,
      [
        '# pvepatch daemon',
        '#concurrency: 9',
        'pve_url: https://pve1:8006',
        '',
        '# reboots only at night',
        'reboot_window: 02:00-05:00',
        'snapshot_keep: 4',
        'reboot: if-required',
        'fix_broken: 1',
        '',
      ].join('\n'),
    );
    assert.deepEqual(parseConfigText(out, 'x'), {
      pve_url: 'https://pve1:8006',
      reboot_window: '02:00-05:00',
      snapshot_keep: '4',
      reboot: 'if-required',
      fix_broken: '1',
    });
  });

  it('handles a file without a final newline, an empty file, and deleting a key that is absent', () => {
    assert.equal(rewriteConfigText('a_b: 1', { set: { concurrency: '2' }, delete: [] }), 'a_b: 1\nconcurrency: 2\n');
    assert.equal(rewriteConfigText('', { set: { concurrency: '2' }, delete: [] }), 'concurrency: 2\n');
    assert.equal(rewriteConfigText('# only\n', { set: {}, delete: ['concurrency'] }), '# only\n');
    assert.equal(rewriteConfigText('concurrency: 2\n', { set: {}, delete: ['concurrency'] }), '');
  });

  it('writes atomically with mode 0600, leaves no temp file, and keeps a symlinked file linked', async () => {
    const path = join(dir, 'pvepatch.conf');
    writeFileSync(path, FILE, { mode: 0o600 });
    await writeConfigFile(
      path,
      rewriteConfigText(await readConfigText(path), { set: { concurrency: '7' }, delete: [] }),
    );
    assert.equal(parseConfigText(readFileSync(path, 'utf8'), path).concurrency, '7');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['pvepatch.conf']);

    const link = join(dir, 'link.conf');
    symlinkSync(path, link);
    await writeConfigFile(link, 'concurrency: 8\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(path, 'utf8'), 'concurrency: 8\n');

    const fresh = join(dir, 'sub', 'new.conf');
    assert.equal(await readConfigText(fresh), '');
    await writeConfigFile(fresh, 'concurrency: 1\n');
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
  });
});
