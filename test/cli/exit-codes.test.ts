import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT, exitCodeForError, exitCodeForReport } from '../../daemon/cli/exit-codes.js';
import { liftExclusions, main } from '../../daemon/cli/main.js';

const report = (...outcomes: string[]) => ({
  dry_run: false,
  guests: outcomes.map((o, i) => ({ vmid: 100 + i, name: '', outcome: o as never })),
});

describe('exit codes', () => {
  it('are distinct', () => {
    assert.equal(new Set(Object.values(EXIT)).size, Object.values(EXIT).length);
  });
  it('rank failed over refused over done over nothing', () => {
    assert.equal(exitCodeForReport(report('updated', 'failed', 'refused')), EXIT.failed);
    assert.equal(exitCodeForReport(report('updated', 'refused')), EXIT.refused);
    assert.equal(exitCodeForReport(report('updated', 'interrupted')), EXIT.refused, 'left untouched by a stop');
    assert.equal(exitCodeForReport(report('interrupted', 'failed')), EXIT.failed);
    assert.equal(exitCodeForReport(report('updated', 'up-to-date', 'skipped')), EXIT.ok);
    assert.equal(exitCodeForReport(report('up-to-date', 'skipped')), EXIT.nothingToUpdate);
    assert.equal(exitCodeForReport(report()), EXIT.nothingToUpdate);
  });
  it('map error codes', () => {
    assert.equal(exitCodeForError('input-invalid'), EXIT.invalidInput);
    assert.equal(exitCodeForError('not-found'), EXIT.invalidInput);
    assert.equal(exitCodeForError('tls-failed'), EXIT.proxmox);
    assert.equal(exitCodeForError('daemon-unavailable'), EXIT.config);
    assert.equal(exitCodeForError('locked'), EXIT.refused, 'also: another daemon owns the state directory');
  });
});

describe('command line', () => {
  it("refuses a subcommand's invalid option with exit 3 and the reason, before any daemon is asked", async () => {
    for (const argv of [
      ['run', '101', '--reboot', 'sometimes'],
      ['runs', '--limit', 'x'],
      ['status', '--no-such-option'],
    ]) {
      const err: string[] = [];
      const code = await main(['--config', '/nonexistent/pvepatch.conf', ...argv], {
        out: () => {},
        err: (s) => err.push(s),
      });
      assert.equal(code, EXIT.invalidInput, `${argv.join(' ')}: ${err.join('\n')}`);
      assert.ok(err.join('\n').length > 0, 'says why');
    }
  });
  it('passes exclusion words as operands, not options', () => {
    assert.deepEqual(liftExclusions(['run', '100-120', '-105', '--dry-run', '-tag:db']), [
      'run',
      '100-120',
      '--dry-run',
      '--',
      '-105',
      '-tag:db',
    ]);
    assert.deepEqual(liftExclusions(['run', '101', '--exclude', 'a,b']), ['run', '101', '--exclude', 'a,b']);
  });
});
