/**
 * `pvepatch ui install|remove|status` as a process (the sources through tsx), on a copy of the real
 * PVE 9 index.html.tpl in a temporary directory (--template, --js-dir, PVEPATCH_UI_*).
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../daemon/version.js';
import { run } from '../guests/run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REAL = fileURLToPath(new URL('../../../shared/pve-ui-kit/index.html.tpl', import.meta.url));

describe('pvepatch ui (CLI)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-ui-cli-'));
  const tpl = join(dir, 'index.html.tpl');
  const jsDir = join(dir, 'js');
  const conf = join(dir, 'pvepatch.conf');
  let original = '';

  /** The CLI with the test's config; `paths` adds --template/--js-dir to the subcommand. */
  const cli = (args: string[], opts: { paths?: boolean; env?: NodeJS.ProcessEnv } = {}) =>
    run(
      [
        process.execPath,
        '--import',
        `${ROOT}node_modules/tsx/dist/loader.mjs`,
        `${ROOT}daemon/cli/bin.ts`,
        '--config',
        conf,
        ...args,
        ...(opts.paths === false ? [] : ['--template', tpl, '--js-dir', jsDir]),
      ],
      { env: { PATH: process.env.PATH, ...opts.env }, timeoutMs: 60_000 },
    );
  const lines = () =>
    readFileSync(tpl, 'utf8')
      .split('\n')
      .filter((l) => l.includes('pvepatch-ui.js'));
  const setPort = (port: number) => writeFileSync(conf, `api_port: ${port}\n`, { mode: 0o600 });

  before(() => {
    assert.ok(existsSync(REAL), `the real PVE template ${REAL} is missing - this test needs it (shared/pve-ui-kit)`);
    original = readFileSync(REAL, 'utf8');
    copyFileSync(REAL, tpl);
    chmodSync(tpl, 0o640);
    setPort(8443);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('install without the panel file: exit 3, says to reinstall, template untouched', async () => {
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 3, res.stderr);
    assert.match(res.stderr, /pvepatch-ui\.js is missing; reinstall the package/);
    assert.equal(readFileSync(tpl, 'utf8'), original);
  });

  it('status before: absent, not current', async () => {
    mkdirSync(jsDir);
    writeFileSync(join(jsDir, 'pvepatch-ui.js'), '// panel\n');
    const res = await cli(['ui', 'status']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^template: +.*index\.html\.tpl$/m);
    assert.match(res.stdout, /^script line: absent$/m);
    assert.match(res.stdout, /^current: +no - expected ver .*, port 8443; run 'pvepatch ui install'$/m);
    assert.match(res.stdout, /^panel file: +.*pvepatch-ui\.js present$/m);
  });

  it('install adds the line (config api_port, this version), keeping mode and owner', async () => {
    if (process.getuid?.() === 0) chownSync(tpl, 4321, 4322);
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /panel script line added \(ver .*, port 8443\)/);
    assert.deepEqual(lines(), [
      `    <script type="text/javascript" src="/pve2/js/pvepatch-ui.js?ver=${VERSION}&port=8443"></script>`,
    ]);
    const st = statSync(tpl);
    assert.equal(st.mode & 0o7777, 0o640);
    if (process.getuid?.() === 0) assert.deepEqual([st.uid, st.gid], [4321, 4322]);
  });

  it('install again writes nothing; status says current (also as JSON)', async () => {
    const before = statSync(tpl);
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /panel script line present/);
    const after = statSync(tpl);
    assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
    const status = await cli(['--output-format', 'json', 'ui', 'status']);
    assert.equal(status.exitCode, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.pve, true);
    assert.equal(s.current, true);
    assert.equal(s.js.present, true);
    assert.deepEqual(
      s.lines.map((l: { ver: string; port: string; afterAnchor: boolean }) => [l.ver, l.port, l.afterAnchor]),
      [[VERSION, '8443', true]],
    );
  });

  it('another api_port: status not current, install replaces the line', async () => {
    setPort(9443);
    assert.match((await cli(['ui', 'status'])).stdout, /^current: +no/m);
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /panel script line updated \(ver .*, port 9443\)/);
    assert.equal(lines().length, 1);
    assert.ok(lines()[0]!.includes('&port=9443"'));
  });

  it('api_port 0 (HTTPS API off): the line says so, and a note says the panel cannot reach the daemon', async () => {
    setPort(0);
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stderr, /^note: api_port is 0 \(the HTTPS API is off\)/m);
    assert.ok(lines()[0]!.includes('&port=0"'));
    setPort(9443);
    await cli(['ui', 'install']);
  });

  it('remove restores the template byte for byte; twice is harmless', async () => {
    const res = await cli(['ui', 'remove']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /panel script line removed/);
    assert.equal(readFileSync(tpl, 'utf8'), original);
    assert.equal(statSync(tpl).mode & 0o7777, 0o640);
    const again = await cli(['ui', 'remove']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /no panel script line/);
  });

  it('PVEPATCH_UI_TEMPLATE and PVEPATCH_UI_JS_DIR instead of the options', async () => {
    const res = await cli(['ui', 'install'], {
      paths: false,
      env: { PVEPATCH_UI_TEMPLATE: tpl, PVEPATCH_UI_JS_DIR: jsDir },
    });
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(lines().length, 1);
    await cli(['ui', 'remove']);
    assert.equal(readFileSync(tpl, 'utf8'), original);
  });

  it('a template without the pvemanagerlib.js line: a warning naming it, exit 0, unchanged', async () => {
    const text = original
      .split('\n')
      .filter((l) => !l.includes('pvemanagerlib.js'))
      .join('\n');
    writeFileSync(tpl, text);
    const res = await cli(['ui', 'install']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stderr, /^warning: .*index\.html\.tpl has no line loading pvemanagerlib\.js/m);
    assert.equal(readFileSync(tpl, 'utf8'), text);
    assert.match((await cli(['ui', 'status'])).stdout, /^anchor: +no line loads pvemanagerlib\.js/m);
  });

  it('no template (not a PVE host): install, remove and status say so and exit 0', async () => {
    rmSync(tpl);
    for (const verb of ['install', 'remove', 'status']) {
      const res = await cli(['ui', verb]);
      assert.equal(res.exitCode, 0, `${verb}: ${res.stderr}`);
      assert.match(res.stdout, /does not exist - not a Proxmox VE host/, verb);
    }
    assert.ok(!existsSync(tpl));
  });

  it('--help of pvepatch lists the ui command', async () => {
    const res = await cli(['--help'], { paths: false });
    assert.equal(res.exitCode, 0);
    assert.match(res.stdout, /^ {2}ui +the Patching panel in the Proxmox VE web UI/m);
  });
});
