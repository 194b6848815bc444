import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { installVzdumpHook } from '../../daemon/backup-hooks/install.js';
import { parseVzdumpJobs } from '../../daemon/backup-hooks/jobs-cfg.js';

/** The stock /etc/vzdump.conf of pve-manager: everything commented out. */
const STOCK = `# vzdump default settings

#tmpdir: DIR
#dumpdir: DIR
#storage: STORAGE_ID
#mode: snapshot|suspend|stop
#bwlimit: KBPS
#performance: [max-workers=N][,pbs-entries-max=N]
#ionice: PRI
#lockwait: MINUTES
#stopwait: MINUTES
#stdexcludes: BOOLEAN
#mailto: ADDRESSLIST
#prune-backups: keep-INTERVAL=N[,...]
#script: FILENAME
#exclude-path: PATHLIST
#pigz: N
#notes-template: {{guestname}}
#pbs-change-detection-mode: legacy|data|metadata
#fleecing: enabled=BOOLEAN,storage=STORAGE_ID
`;

const HOOK = '/usr/share/pvepatch/hooks/pvepatch-vzdump-hook';

const JOBS = `vzdump: backup-nightly
\tschedule 21:00
\tall 1
\tenabled 1
\tmode snapshot
\tstorage pbs

vzdump: backup-offsite
\tschedule sat 03:00
\tvmid 101,102
\tscript /root/offsite-hook.pl
\tstorage nfs

realm-sync: sync-ldap
\tschedule daily
\tscript /not/a/backup

vzdump: backup-ours
\tschedule 12:00
\tscript ${HOOK}
\tenabled 0
`;

describe('installVzdumpHook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-install-'));
  const p = {
    vzdumpConf: join(dir, 'vzdump.conf'),
    jobsCfg: join(dir, 'jobs.cfg'),
    hookConfig: join(dir, 'pvepatch', 'vzdump-hook.conf'),
    hookPath: HOOK,
  };
  beforeEach(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirp(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adds script to the stock file, keeps every other line, and is idempotent', () => {
    writeFileSync(p.vzdumpConf, STOCK, { mode: 0o644 });
    writeFileSync(p.jobsCfg, JOBS);
    const r = installVzdumpHook(p);
    assert.equal(r.vzdumpConf.action, 'added');
    assert.equal(r.hookConfig.action, 'unchanged');
    const text = readFileSync(p.vzdumpConf, 'utf8');
    assert.ok(text.startsWith(STOCK), 'the stock lines are kept as they were');
    assert.ok(text.endsWith(`\nscript: ${HOOK}\n`));
    assert.equal(statSync(p.vzdumpConf).mode & 0o777, 0o644);
    assert.deepEqual(r.jobs.covered, ['backup-nightly', 'backup-ours']);
    assert.deepEqual(r.jobs.uncovered, [{ id: 'backup-offsite', script: '/root/offsite-hook.pl' }]);
    assert.ok(r.messages.some((m) => m.includes('backup job backup-offsite is NOT covered')));
    const again = installVzdumpHook(p);
    assert.equal(again.vzdumpConf.action, 'unchanged');
    assert.equal(readFileSync(p.vzdumpConf, 'utf8'), text, 'a second run changes nothing');
  });

  it('keeps an existing hook as the chain, once, and a dry run writes nothing', () => {
    writeFileSync(p.vzdumpConf, 'mode: snapshot\nscript: /usr/local/bin/old-hook\nstorage: pbs\n', { mode: 0o640 });
    const dry = installVzdumpHook({ ...p, dryRun: true });
    assert.equal(dry.vzdumpConf.action, 'replaced');
    assert.equal(dry.vzdumpConf.previous, '/usr/local/bin/old-hook');
    assert.equal(dry.hookConfig.action, 'chain-set');
    assert.equal(readFileSync(p.vzdumpConf, 'utf8'), 'mode: snapshot\nscript: /usr/local/bin/old-hook\nstorage: pbs\n');
    assert.throws(() => statSync(p.hookConfig), /ENOENT/);
    const r = installVzdumpHook(p);
    assert.equal(readFileSync(p.vzdumpConf, 'utf8'), `mode: snapshot\nscript: ${HOOK}\nstorage: pbs\n`);
    assert.equal(statSync(p.vzdumpConf).mode & 0o777, 0o640, 'the mode is kept');
    assert.equal(readFileSync(p.hookConfig, 'utf8'), 'chain: /usr/local/bin/old-hook\n');
    assert.equal(r.hookConfig.chain, '/usr/local/bin/old-hook');
    assert.equal(r.jobs.covered.length, 0);
    assert.ok(r.messages.some((m) => m.endsWith('no backup jobs')));
    const again = installVzdumpHook(p);
    assert.equal(again.vzdumpConf.action, 'unchanged');
    assert.equal(again.hookConfig.chain, '/usr/local/bin/old-hook', 'still reported');
    assert.equal(readFileSync(p.hookConfig, 'utf8'), 'chain: /usr/local/bin/old-hook\n');
  });

  it('replaces a different chain in place, keeps the wait, says which hook stops running', () => {
    writeFileSync(p.vzdumpConf, 'script: /opt/new-hook\n');
    mkdirp(join(dir, 'pvepatch'));
    writeFileSync(p.hookConfig, '# mine\nwait: 600\nchain: /opt/older-hook\n');
    const r = installVzdumpHook(p);
    assert.equal(r.hookConfig.replacedChain, '/opt/older-hook');
    assert.equal(readFileSync(p.hookConfig, 'utf8'), '# mine\nwait: 600\nchain: /opt/new-hook\n');
    assert.ok(r.messages.some((m) => m.includes('/opt/older-hook no longer runs')));
  });

  it('creates a missing vzdump.conf and refuses to guess between two script lines or to overwrite a broken hook config', () => {
    const r = installVzdumpHook(p);
    assert.equal(r.vzdumpConf.action, 'added');
    assert.match(
      readFileSync(p.vzdumpConf, 'utf8'),
      /^# pvepatch: .*\nscript: \/usr\/share\/pvepatch\/hooks\/pvepatch-vzdump-hook\n$/,
    );
    writeFileSync(p.vzdumpConf, 'script: /a\nscript: /b\n');
    assert.throws(() => installVzdumpHook(p), /sets 'script' 2 times/);
    writeFileSync(p.vzdumpConf, 'script: /a\n');
    mkdirp(join(dir, 'pvepatch'));
    writeFileSync(p.hookConfig, 'wait: soon\n');
    assert.throws(() => installVzdumpHook(p), /wait must be a whole number/);
    assert.equal(readFileSync(p.vzdumpConf, 'utf8'), 'script: /a\n', 'nothing written');
  });
});

describe('parseVzdumpJobs', () => {
  it('reads vzdump sections only, their script and enabled flag', () => {
    assert.deepEqual(parseVzdumpJobs(JOBS), [
      { id: 'backup-nightly', enabled: true },
      { id: 'backup-offsite', enabled: true, script: '/root/offsite-hook.pl' },
      { id: 'backup-ours', enabled: false, script: HOOK },
    ]);
    assert.deepEqual(parseVzdumpJobs(''), []);
    assert.deepEqual(parseVzdumpJobs('\tscript /x\n:\nvzdump:\n'), []);
  });
});

function mkdirp(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o755 });
}
