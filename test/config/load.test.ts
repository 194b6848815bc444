import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkFileSafety, daemonSettings, loadConfig } from '../../daemon/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pvepatch-config-'));
const file = (name: string, text: string, mode = 0o600) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
  return p;
};
const TOKEN = 'pvepatch@pve!daemon=0b1e6f6c-8a1e-4c55-9d3a-2f7c6a1d9e01';

describe('config', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads key: value lines, with environment variables winning', () => {
    const path = file('a.conf', `# comment\npve_url: https://pve1:8006\nconcurrency: 4\nsnapshot_keep: 5\n`);
    const cfg = loadConfig({ path, env: { PVEPATCH_CONCURRENCY: '3', PVEPATCH_PVE_TOKEN: TOKEN } });
    assert.equal(cfg.pve_url, 'https://pve1:8006');
    assert.equal(cfg.concurrency, 3);
    assert.equal(cfg.snapshot_keep, 5);
    assert.equal(cfg.pve_token, TOKEN);
    assert.equal(cfg.socket, '/run/pvepatch/api.sock');
    assert.equal(cfg.upgrade_timeout, 900);
  });

  it('names the file, line and key of a bad entry', () => {
    assert.throws(
      () => loadConfig({ path: file('b.conf', 'pve_url https://x\n'), env: {} }),
      (e: Error) => /b\.conf line 1: expected 'key: value'/.test(e.message) && !e.message.includes('https://x'),
    );
    // a line with the token in it is never echoed
    assert.throws(
      () => loadConfig({ path: file('b2.conf', `pve_token ${TOKEN}\n`), env: {} }),
      (e: Error) =>
        /line 1: expected 'key: value' \(the line is not shown/.test(e.message) && !e.message.includes('0b1e6f6c'),
    );
    assert.throws(
      () => loadConfig({ path: file('c.conf', '\nconcurency: 2\n'), env: {} }),
      /c\.conf line 2: unknown key 'concurency'/,
    );
    assert.throws(
      () => loadConfig({ path: file('d.conf', 'concurrency: lots\n'), env: {} }),
      /invalid configuration .*concurrency/,
    );
    assert.throws(() => loadConfig({ path: join(dir, 'missing.conf'), env: {} }), /does not exist/);
    assert.throws(() => loadConfig({ env: { PVEPATCH_CONFIG: join(dir, 'none.conf') } }), /does not exist/);
  });

  it('requires a token and a trust anchor for the daemon, never printing the secret', () => {
    const cfg = loadConfig({ path: file('e.conf', ''), env: {} });
    assert.throws(() => daemonSettings(cfg), /no API token configured/);
    const withToken = loadConfig({
      path: file('f.conf', ''),
      env: { PVEPATCH_PVE_TOKEN: TOKEN, PVEPATCH_PVE_CA: join(dir, 'nope.pem') },
    });
    assert.throws(
      () => daemonSettings(withToken),
      (e: Error) => /unable to read CA file/.test(e.message) && !e.message.includes('0b1e6f6c'),
    );
    const pinned = loadConfig({
      path: file('g.conf', ''),
      env: { PVEPATCH_PVE_TOKEN: TOKEN, PVEPATCH_PVE_FINGERPRINT: 'AA:BB', PVEPATCH_NODE: 'pve1' },
    });
    assert.deepEqual(daemonSettings(pinned), { token: TOKEN, trust: { fingerprint: 'AA:BB' }, node: 'pve1' });
    const both = loadConfig({
      path: file('h.conf', ''),
      env: { PVEPATCH_PVE_TOKEN: TOKEN, PVEPATCH_PVE_FINGERPRINT: 'AA:BB', PVEPATCH_PVE_CA: join(dir, 'ca.pem') },
    });
    assert.throws(() => daemonSettings(both), /both pve_ca and pve_fingerprint are set - pin the certificate/);
  });

  it('refuses a config file others can read or that another user owns, with the command that fixes it', () => {
    const open = file('open.conf', `pve_token: ${TOKEN}\n`, 0o644);
    assert.throws(
      () => loadConfig({ path: open, env: {} }),
      (e: Error & { code?: string }) =>
        e.code === 'config-invalid' &&
        e.message.includes(`group or others may access it (mode 0644)`) &&
        e.message.includes(`run: chmod 600 ${open}`) &&
        !e.message.includes('0b1e6f6c'),
    );
    const groupOnly = file('group.conf', '', 0o640);
    assert.throws(() => loadConfig({ path: groupOnly, env: {} }), /mode 0640/);
    const foreign = file('foreign.conf', '');
    chownSync(foreign, 1234, 1234);
    assert.throws(
      () => loadConfig({ path: foreign, env: {} }),
      new RegExp(`belongs to uid 1234, not root; run: chown root:root ${foreign}`),
    );
    // a CLI run by that user may use its own file
    assert.doesNotThrow(() => checkFileSafety(foreign, 1234));
  });
});
