/**
 * The Debian package, built by scripts/deb.mjs and checked by lintian, installed with dpkg into a real
 * Debian 12 root (the lab's cached minbase root, in a chroot): install, an upgrade with a locally
 * edited conffile, remove, purge. The root has no nodejs and no Proxmox: a stand-in `nodejs` package
 * carries a real node binary (Node 18 from PVEPATCH_NODE18 when set, else this node), a stand-in
 * `pve-manager` owns the notification template directory and the web UI page index.html.tpl (the
 * real PVE 9 one, then a changed one in its "upgrade"), whose panel <script> line pvepatch adds
 * through dpkg file triggers.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HOOK_PHASE_NAMES } from '../../daemon/config/schema.js';
import { baseRootPaths, ensureBaseRoot } from '../guests/base-root.js';
import { run, runOk } from '../guests/run.js';
import { ensureBundle, ROOT } from './bundle.js';

const PVE_TEMPLATES = '/usr/share/pve-manager/templates/default';
const CONF = '/etc/pvepatch/pvepatch.conf';
const INDEX = '/usr/share/pve-manager/index.html.tpl';
const PANEL_JS = '/usr/share/pve-manager/js/pvepatch-ui.js';
const REAL_INDEX = fileURLToPath(new URL('../../../shared/pve-ui-kit/index.html.tpl', import.meta.url));
const UPSTREAM = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version as string;
/** The line the package adds (the shipped config leaves api_port at its default, 8016). */
const PANEL_LINE = `<script type="text/javascript" src="/pve2/js/pvepatch-ui.js?ver=${UPSTREAM}&port=8016"></script>`;

/** pve-manager's index.html.tpl in version 1 (the real PVE 9 template) and 2 (a changed one), and either with the panel line. */
function indexTemplates() {
  assert.ok(
    existsSync(REAL_INDEX),
    `the real PVE template ${REAL_INDEX} is missing - this test needs it (shared/pve-ui-kit)`,
  );
  const v1 = readFileSync(REAL_INDEX, 'utf8');
  const anchor = v1.split('\n').find((l) => l.includes('/pve2/js/pvemanagerlib.js'));
  assert.ok(anchor, `${REAL_INDEX} has no pvemanagerlib.js line`);
  const v2 = v1
    .replace('- Proxmox Virtual Environment</title>', '- Proxmox Virtual Environment (stand-in 2)</title>')
    .replace(`${anchor}\n`, `    <!-- stand-in pve-manager 2 -->\n${anchor}\n`);
  assert.notEqual(v2, v1);
  const indent = anchor.slice(0, anchor.length - anchor.trimStart().length);
  const withLine = (t: string) => t.replace(`${anchor}\n`, `${anchor}\n${indent}${PANEL_LINE}\n`);
  return { v1, v2, v1Line: withLine(v1), v2Line: withLine(v2) };
}
const TEMPLATES = readdirSync(`${ROOT}templates`).filter((f) => f.endsWith('.hbs'));
/** What dpkg, apt and deb-systemd-helper keep about packages: not files of pvepatch. */
const BOOKKEEPING = [/^\/var\/lib\/dpkg(\/|$)/, /^\/var\/log\/dpkg\.log$/, /^\/var\/log\/apt(\/|$)/];

describe('Debian package', { timeout: 600_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pvepatch-deb-test-'));
  const root = join(tmp, 'root');
  const debs = join(tmp, 'debs');
  let procMounted = false;
  const deb = (version: string) => `/tmp/pvepatch-debs/pvepatch_${version}_all.deb`;
  /** A command in the chroot with a clean environment (the host's NODE_* and proxies stay out). */
  const inRoot = (argv: string[]) =>
    run(['chroot', root, 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', ...argv], {
      timeoutMs: 120_000,
    });
  const inRootOk = async (argv: string[]) => {
    const res = await inRoot(argv);
    assert.equal(res.exitCode, 0, `${argv.join(' ')}:\n${res.stdout}${res.stderr}`);
    return res;
  };
  const at = (p: string) => join(root, p);
  /** Every path in the root (one file system), as the root sees it, minus package bookkeeping. */
  const files = async () => {
    const res = await runOk(['find', root, '-xdev'], { timeoutMs: 120_000 });
    return res.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => p.slice(root.length) || '/')
      .filter((p) => !p.startsWith('/tmp/pvepatch-debs') && !BOOKKEEPING.some((re) => re.test(p)))
      .sort();
  };
  let baseline: string[] = [];
  let passwd = '';
  let group = '';
  const index = indexTemplates();
  /** The stand-in pve-manager: its template directory, pvemanagerlib.js and index.html.tpl. */
  const pveManager = (version: string, template: string) =>
    standIn('pve-manager', version, {
      [`${PVE_TEMPLATES.slice(1)}/`]: '',
      'usr/share/pve-manager/js/pvemanagerlib.js': { text: '// stand-in\n' },
      [INDEX.slice(1)]: { text: template },
    });
  const panelLines = () =>
    readFileSync(at(INDEX), 'utf8')
      .split('\n')
      .filter((l) => l.includes('pvepatch-ui.js'));

  before(async () => {
    assert.equal(
      process.getuid?.(),
      0,
      'the package test needs root: dpkg-buildpackage, mount, chroot and dpkg in a root',
    );
    await ensureBundle();
    mkdirSync(debs);
    for (const version of [undefined, '0.1.0-2']) {
      const args = version ? ['--version', version] : [];
      await runOk([process.execPath, `${ROOT}scripts/deb.mjs`, '--out', debs, ...args], { timeoutMs: 300_000 });
    }
    await ensureBaseRoot();
    mkdirSync(root);
    await runOk(['tar', '--zstd', '-xpf', baseRootPaths().tarball, '-C', root, '--numeric-owner'], {
      timeoutMs: 300_000,
    });
    await runOk(['mount', '-t', 'proc', 'proc', at('proc')]);
    procMounted = true;
    cpSync(debs, at('tmp/pvepatch-debs'), { recursive: true });
    await standIn('nodejs', '18.19.0-0standin', { 'usr/bin/node': process.env.PVEPATCH_NODE18 ?? process.execPath });
    await inRootOk(['dpkg', '-i', '/tmp/pvepatch-debs/nodejs.deb']);
    baseline = await files();
    passwd = readFileSync(at('etc/passwd'), 'utf8');
    group = readFileSync(at('etc/group'), 'utf8');
  });

  after(async () => {
    // never rm -r through a mounted /proc
    if (procMounted) await runOk(['umount', at('proc')]);
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Builds a package with dpkg-deb into the root's /tmp/pvepatch-debs: files copied from the host or given as text. */
  async function standIn(name: string, version: string, content: Record<string, string | { text: string }>) {
    const dir = join(tmp, `standin-${name}`);
    rmSync(dir, { recursive: true, force: true }); // nothing of an earlier version of it
    mkdirSync(join(dir, 'DEBIAN'), { recursive: true });
    const arch = (await runOk(['dpkg', '--print-architecture'])).stdout.trim();
    writeFileSync(
      join(dir, 'DEBIAN/control'),
      `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: pvepatch tests <t@example.org>\nDescription: stand-in for the test\n`,
    );
    for (const [path, from] of Object.entries(content)) {
      const dest = join(dir, path);
      if (path.endsWith('/')) {
        mkdirSync(dest, { recursive: true });
        continue;
      }
      mkdirSync(join(dest, '..'), { recursive: true });
      if (typeof from === 'string') cpSync(from, dest, { dereference: true });
      else writeFileSync(dest, from.text);
    }
    await runOk([
      'dpkg-deb',
      '--root-owner-group',
      '-Zgzip',
      '-z1',
      '--build',
      dir,
      at(`tmp/pvepatch-debs/${name}.deb`),
    ]);
  }

  it('is lintian clean (--fail-on warning, every tag shown)', async () => {
    const res = await run(
      ['lintian', '--fail-on', 'warning', '--info', '--display-info', join(debs, 'pvepatch_0.1.0-1_all.deb')],
      {
        timeoutMs: 300_000,
      },
    );
    assert.equal(res.exitCode, 0, `lintian (apt install lintian):\n${res.stdout}${res.stderr}`);
    assert.equal(res.stdout.trim(), '', 'no tag at all, not even info');
  });

  it("installs: the command runs on the root's node, conffile 0600, hook directories, unit enabled", async () => {
    await inRootOk(['dpkg', '-i', deb('0.1.0-1')]);
    const version = await inRootOk(['/usr/bin/pvepatch', '--version']);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version);
    assert.match((await inRootOk(['/usr/bin/pvepatch', '--help'])).stdout, /^Usage: pvepatch /);
    const conf = statSync(at(CONF));
    assert.equal(conf.mode & 0o7777, 0o600);
    assert.equal(conf.uid, 0);
    for (const phase of HOOK_PHASE_NAMES) {
      const st = statSync(at(`etc/pvepatch/hooks.d/${phase}.d`));
      assert.ok(st.isDirectory() && (st.mode & 0o7777) === 0o755 && st.uid === 0, phase);
    }
    // the installed vzdump hook, called as vzdump calls it (no PATH): no daemon runs, so it allows
    const hook = await run(
      [
        'chroot',
        root,
        '/usr/bin/env',
        '-i',
        'VMTYPE=lxc',
        'HOSTNAME=ct101',
        '/usr/share/pvepatch/hooks/pvepatch-vzdump-hook',
      ].concat(['backup-start', 'snapshot', '101']),
      { timeoutMs: 60_000 },
    );
    assert.equal(hook.exitCode, 0, `${hook.stdout}${hook.stderr}`);
    assert.match(`${hook.stdout}${hook.stderr}`, /pvepatch: daemon not reachable \(.*\) - backup allowed/);
    assert.equal(
      readFileSync(at('lib/systemd/system/pvepatchd.service'), 'utf8'),
      readFileSync(`${ROOT}systemd/pvepatchd.service`, 'utf8'),
    );
    // deb-systemd-helper (init-system-helpers, in the root) enables it; nothing starts without systemd as PID 1
    assert.equal(
      readlinkSync(at('etc/systemd/system/multi-user.target.wants/pvepatchd.service')),
      '/lib/systemd/system/pvepatchd.service',
    );
    assert.ok(!existsSync(at(PVE_TEMPLATES)), 'no pve-manager yet, so no template links');
    // the web UI panel, where pveproxy serves /pve2/js/ (no template yet to load it)
    assert.equal(readFileSync(at(PANEL_JS), 'utf8'), readFileSync(`${ROOT}dist/ui/pvepatch-ui.js`, 'utf8'));
    assert.equal(statSync(at(PANEL_JS)).mode & 0o7777, 0o644);
    assert.ok(!existsSync(at(INDEX)));
    assert.equal(readFileSync(at('etc/passwd'), 'utf8'), passwd, 'no user created');
    assert.equal(readFileSync(at('etc/group'), 'utf8'), group, 'no group created');
  });

  it('systemd-analyze verify on the installed unit prints nothing', async () => {
    // the minbase root has no systemd: the host's (Debian 12's, as on PVE 8) checks the installed file,
    // with the man page of Documentation= from the root
    const res = await run(['systemd-analyze', 'verify', at('lib/systemd/system/pvepatchd.service')], {
      env: { ...process.env, MANPATH: at('usr/share/man') },
    });
    assert.equal(`${res.stdout}${res.stderr}`, '');
    assert.equal(res.exitCode, 0);
  });

  it('links the templates when pve-manager comes after it (dpkg file trigger)', async () => {
    await pveManager('9.2.0-0standin', index.v1);
    await inRootOk(['dpkg', '-i', '/tmp/pvepatch-debs/pve-manager.deb']);
    assertLinks();
  });

  it('the same trigger added the panel script line once, after the pvemanagerlib.js line', () => {
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v1Line);
    assert.equal(panelLines().length, 1);
  });

  it('dpkg -i of the same pvepatch again keeps the script line once', async () => {
    await inRootOk(['dpkg', '-i', deb('0.1.0-1')]);
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v1Line);
    const status = await inRootOk(['/usr/bin/pvepatch', 'ui', 'status']);
    assert.match(status.stdout, /^current: +yes \(ver .*, port 8016\)$/m);
    assert.match(status.stdout, /^panel file: +\/usr\/share\/pve-manager\/js\/pvepatch-ui\.js present$/m);
  });

  function assertLinks() {
    for (const name of TEMPLATES) {
      const link = at(`${PVE_TEMPLATES}/${name}`);
      assert.ok(lstatSync(link).isSymbolicLink(), name);
      assert.equal(readlinkSync(link), `/usr/share/pvepatch/templates/${name}`);
      assert.ok(statSync(at(`usr/share/pvepatch/templates/${name}`)).isFile(), `${name} target`);
    }
  }

  it('upgrades: a locally edited conffile is kept without a prompt, mode 0600, links restored', async () => {
    writeFileSync(at(CONF), `${readFileSync(at(CONF), 'utf8')}concurrency: 4\n`);
    rmSync(at(`${PVE_TEMPLATES}/${TEMPLATES[0]}`)); // configure links again
    // stdin closed: a conffile prompt would fail the install instead of waiting
    await inRootOk(['dpkg', '-i', deb('0.1.0-2')]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not JavaScript
    const status = await inRootOk(['dpkg-query', '-W', '-f', '${Version} ${db:Status-Abbrev}', 'pvepatch']);
    assert.equal(status.stdout.trim(), '0.1.0-2 ii');
    assert.match(readFileSync(at(CONF), 'utf8'), /^concurrency: 4$/m);
    assert.equal(statSync(at(CONF)).mode & 0o7777, 0o600);
    // the shipped file did not change between the versions, so dpkg keeps the edit and writes no copy
    assert.deepEqual(readdirSync(at('etc/pvepatch')).sort(), ['hooks.d', 'pvepatch.conf']);
    assertLinks();
    await inRootOk(['/usr/bin/pvepatch', '--version']);
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v1Line, 'still one script line');
  });

  it('an upgrade of pve-manager (a new template) gets the script line again through the trigger', async () => {
    await pveManager('9.2.1-0standin', index.v2);
    await inRootOk(['dpkg', '-i', '/tmp/pvepatch-debs/pve-manager.deb']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not JavaScript
    const status = await inRootOk(['dpkg-query', '-W', '-f', '${Version}', 'pve-manager']);
    assert.equal(status.stdout.trim(), '9.2.1-0standin');
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v2Line);
    assert.equal(statSync(at(INDEX)).mode & 0o7777, 0o644);
    assertLinks();
  });

  it('a pve-manager template without the pvemanagerlib.js line: a warning in the install log, dpkg succeeds', async () => {
    const bare = index.v2
      .split('\n')
      .filter((l) => !l.includes('pvemanagerlib.js'))
      .join('\n');
    await pveManager('9.2.2-0standin', bare);
    const res = await inRootOk(['dpkg', '-i', '/tmp/pvepatch-debs/pve-manager.deb']);
    assert.match(
      res.stderr,
      /warning: \/usr\/share\/pve-manager\/index\.html\.tpl has no line loading pvemanagerlib\.js/,
    );
    assert.equal(readFileSync(at(INDEX), 'utf8'), bare, 'left as shipped');
    // back to version 2 (a downgrade): the trigger adds the line again
    await pveManager('9.2.1-0standin', index.v2);
    await inRootOk(['dpkg', '-i', '/tmp/pvepatch-debs/pve-manager.deb']);
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v2Line);
  });

  it('remove keeps the config, state and logs and drops the template links', async () => {
    // what the daemon (which cannot run here) would have written
    for (const dir of ['var/lib/pvepatch', 'var/log/pvepatch']) mkdirSync(at(dir), { mode: 0o700 });
    writeFileSync(at('var/lib/pvepatch/runs.json'), '{}\n');
    writeFileSync(at('var/log/pvepatch/audit.log'), '');
    writeFileSync(at('etc/pvepatch/guests.conf'), '');
    await inRootOk(['dpkg', '-r', 'pvepatch']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not JavaScript
    const status = await inRootOk(['dpkg-query', '-W', '-f', '${db:Status-Abbrev}', 'pvepatch']);
    assert.equal(status.stdout.trim(), 'rc');
    assert.match(readFileSync(at(CONF), 'utf8'), /^concurrency: 4$/m);
    assert.ok(existsSync(at('var/lib/pvepatch/runs.json')) && existsSync(at('var/log/pvepatch/audit.log')));
    assert.ok(!existsSync(at('usr/bin/pvepatch')));
    assert.deepEqual(readdirSync(at(PVE_TEMPLATES)), [], 'template links removed');
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v2, 'script line removed: the template as shipped');
    assert.ok(!existsSync(at(PANEL_JS)));
  });

  it('purge leaves nothing of pvepatch behind, not even a script line left by a failed prerm', async () => {
    // a line the command could not take out (it is gone after remove): postrm deletes it by itself
    writeFileSync(at(INDEX), index.v2Line.replace(PANEL_LINE, PANEL_LINE.replace(UPSTREAM, '0.0.1')));
    await inRootOk(['dpkg', '-P', 'pvepatch']);
    assert.equal(readFileSync(at(INDEX), 'utf8'), index.v2);
    const listed = (await inRootOk(['dpkg-query', '-L', 'pve-manager'])).stdout.split('\n');
    const pveManager = listed.filter((p) => p.startsWith('/')).map((p) => (p === '/.' ? '/' : p));
    const expected = [...new Set([...baseline, ...pveManager])].sort();
    assert.deepEqual(await files(), expected);
    assert.equal(readFileSync(at('etc/passwd'), 'utf8'), passwd);
  });
});
