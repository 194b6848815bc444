import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { transports } from '../../daemon/transports/index.js';
import { pctExecArgv } from '../../daemon/transports/pct/commands.js';

describe('transport registry', () => {
  it('has one entry per transport folder and no entry without a folder', () => {
    const folders = readdirSync(new URL('../../daemon/transports/', import.meta.url), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    assert.deepEqual([...transports.keys()].sort(), folders);
  });
});

describe('pct transport argv', () => {
  it('enters the container with a clean environment and passes argv unchanged', () => {
    assert.deepEqual(pctExecArgv('/usr/sbin/pct', 101, ['apt-get', '-s', 'dist-upgrade']), [
      '/usr/sbin/pct',
      'exec',
      '101',
      '--keep-env',
      '0',
      '--',
      'apt-get',
      '-s',
      'dist-upgrade',
    ]);
    assert.deepEqual(pctExecArgv('pct', 102, ['sh', '-c', 'echo $HOME; rm -rf /'], { LC_ALL: 'C' }), [
      'pct',
      'exec',
      '102',
      '--keep-env',
      '0',
      '--',
      'env',
      'LC_ALL=C',
      'sh',
      '-c',
      'echo $HOME; rm -rf /',
    ]);
  });
});
