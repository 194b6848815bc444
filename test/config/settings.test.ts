import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type LoadOptions, loadConfig } from '../../daemon/config/load.js';
import type { Config } from '../../daemon/config/schema.js';
import { ConfigSettings } from '../../daemon/config/settings.js';
import { isPvepatchError } from '../../daemon/core/errors.js';

const SECRET = '0b1e6f6c-8a1e-4c55-9d3a-2f7c6a1d9e01';
const TEXT = `# the daemon\npve_token: pvepatch@pve!daemon=${SECRET}\nconcurrency: 2\n`;

/** A ConfigSettings over a real file whose "daemon" applies a config by loading it again, as SIGHUP does. */
function settingsFor(path: string, env: NodeJS.ProcessEnv) {
  const source: LoadOptions = { path, env };
  let running: Config = loadConfig(source);
  const s = new ConfigSettings({
    source,
    current: () => running,
    apply: (next) => {
      const applied = (Object.keys(next) as (keyof Config)[]).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(running[k]),
      );
      running = next;
      return { applied, needRestart: [] };
    },
  });
  return s;
}

async function refused(p: Promise<unknown>, code: string, re: RegExp): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isPvepatchError(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, re);
    assert.ok(!err.message.includes(SECRET), 'never the secret');
    return err.message;
  }
  assert.fail('not refused');
}

describe('settings (config file + environment)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-settings-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => {
    const p = join(dir, name);
    writeFileSync(p, TEXT, { mode: 0o600 });
    return p;
  };

  it('lists every key with value, source and restart need; the token only as "(set)"', async () => {
    const s = settingsFor(file('a.conf'), { PVEPATCH_SNAPSHOT_KEEP: '5' });
    const rows = await s.get();
    const by = Object.fromEntries(rows.map((r) => [r.key, r]));
    assert.deepEqual(by.pve_token, {
      key: 'pve_token',
      value: '(set)',
      source: 'file',
      need_restart: true,
      file_only: true,
    });
    assert.equal(by.concurrency?.value, 2);
    assert.equal(by.concurrency?.source, 'file');
    assert.equal(by.concurrency?.need_restart, false);
    assert.equal(by.snapshot_keep?.source, 'env');
    assert.equal(by.reboot?.source, 'default');
    assert.equal(by.metrics_localhost?.value, false);
    assert.equal(by.pve_fingerprint?.value, null);
    assert.ok(!JSON.stringify(rows).includes(SECRET));
  });

  it('refuses a key the environment sets, naming the variable, and leaves the file alone', async () => {
    const path = file('b.conf');
    const s = settingsFor(path, { PVEPATCH_CONCURRENCY: '4' });
    await refused(s.set({ set: { concurrency: 3 }, delete: [] }), 'input-invalid', /PVEPATCH_CONCURRENCY.*wins/);
    assert.equal(readFileSync(path, 'utf8'), TEXT);
  });

  it('refuses secret and file-only keys, saying to edit the file as root', async () => {
    const path = file('c.conf');
    const s = settingsFor(path, {});
    await refused(
      s.set({ set: { pve_token: 'x@pve!y=z' }, delete: [] }),
      'forbidden',
      /secret; edit .*c\.conf as root/,
    );
    await refused(s.set({ set: {}, delete: ['pve_token'] }), 'forbidden', /secret/);
    await refused(s.set({ set: { pct: '/tmp/evil' }, delete: [] }), 'forbidden', /as root/);
    assert.equal(readFileSync(path, 'utf8'), TEXT);
  });

  it('refuses unknown keys, control characters and invalid values as a whole, naming the key', async () => {
    const path = file('d.conf');
    const s = settingsFor(path, {});
    await refused(s.set({ set: { concurency: 3 }, delete: [] }), 'input-invalid', /'concurency' - unknown key/);
    await refused(s.set({ set: { reboot_window: '02:00\napi_port: 1' }, delete: [] }), 'input-invalid', /one line/);
    const msg = await refused(
      s.set({ set: { snapshot_keep: 4, concurrency: 65 }, delete: [] }),
      'input-invalid',
      /^unable to change settings - concurrency: /,
    );
    assert.ok(!msg.includes('65'), msg);
    await refused(s.set({ set: {}, delete: [] }), 'input-invalid', /nothing to change/);
    assert.equal(readFileSync(path, 'utf8'), TEXT);
  });

  it('writes valid changes keeping the rest of the file, and applies them', async () => {
    const path = file('e.conf');
    const s = settingsFor(path, {});
    const r = await s.set({ set: { concurrency: 6, metrics_localhost: true }, delete: [] });
    assert.deepEqual(r, { applied: ['concurrency', 'metrics_localhost'], need_restart: [] });
    assert.equal(
      readFileSync(path, 'utf8'),
      `${TEXT.replace('concurrency: 2', 'concurrency: 6')}metrics_localhost: true\n`,
    );
    const rows = await s.get();
    assert.equal(rows.find((x) => x.key === 'concurrency')?.value, 6);
    await s.set({ set: {}, delete: ['concurrency'] });
    assert.equal(rows.length, (await s.get()).length);
    assert.equal((await s.get()).find((x) => x.key === 'concurrency')?.source, 'default');
  });
});
