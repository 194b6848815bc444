import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PvepatchError } from '../../daemon/core/errors.js';
import { sshCommandLine } from '../../daemon/transports/ssh/command.js';
import {
  fingerprintOf,
  hostKeyId,
  KnownHosts,
  keyTypeOf,
  normalizeFingerprint,
} from '../../daemon/transports/ssh/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'pvepatch-ssh-parts-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const isCode = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof PvepatchError && e.code === code && re.test(e.message);

describe('ssh command line', () => {
  it('quotes every word, root runs argv itself, another user through sudo -n and env', () => {
    assert.equal(sshCommandLine(['apt-get', '-s', 'dist-upgrade'], 'root'), "'apt-get' '-s' 'dist-upgrade'");
    assert.equal(
      sshCommandLine(['sh', '-c', "echo 'x'; $(id)"], 'patcher', { DEBIAN_FRONTEND: 'noninteractive', A: "b'c" }),
      `'sudo' '-n' '--' 'env' 'DEBIAN_FRONTEND=noninteractive' 'A=b'\\''c' 'sh' '-c' 'echo '\\''x'\\''; $(id)'`,
    );
    // what a POSIX shell makes of it: the words, unchanged
    const line = sshCommandLine(['printf', '[%s]', 'a b', '$(id)', 'x\ny', "'", ''], 'root');
    assert.equal(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' }), "[a b][$(id)][x\ny]['][]");
  });

  it('refuses NUL, an empty argv and environment names env(1) would misread', () => {
    assert.throws(() => sshCommandLine(['echo', 'a\0b'], 'root'), isCode('internal', /NUL/));
    assert.throws(() => sshCommandLine([], 'root'), isCode('internal', /empty argv/));
    assert.throws(() => sshCommandLine(['true'], 'root', { 'A=B': '1' }), isCode('internal', /not a valid name/));
    assert.throws(() => sshCommandLine(['true'], 'root', { '1A': '1' }), isCode('internal', /not a valid name/));
  });
});

describe('host key fingerprints and the first-use record', () => {
  it('prints a fingerprint exactly as ssh-keygen -lf does', () => {
    const key = join(dir, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const blob = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
    const keygen = execFileSync('ssh-keygen', ['-lf', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(fingerprintOf(blob), keygen);
    assert.equal(keyTypeOf(blob), 'ssh-ed25519');
    assert.equal(normalizeFingerprint(`${keygen}=`), keygen);
    assert.throws(() => normalizeFingerprint('SHA256:short'), isCode('config-invalid', /ssh-keygen -lf/));
    assert.equal(hostKeyId('10.0.0.5', 22), '10.0.0.5:22');
    assert.equal(hostKeyId('fd00::5', 2222), '[fd00::5]:2222');
  });

  it('records once, 0600, never replaces, and refuses a file others may write or that is not its format', () => {
    const path = join(dir, 'sub', 'known.json');
    const kh = new KnownHosts(path);
    assert.equal(kh.get('h:22'), undefined);
    const a = { type: 'ssh-ed25519', fingerprint: 'SHA256:a', added: '2026-01-01T00:00:00.000Z' };
    assert.deepEqual(kh.add('h:22', a), a);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(kh.add('h:22', { ...a, fingerprint: 'SHA256:b' }), a, 'the first key stays');
    assert.deepEqual(new KnownHosts(path).get('h:22'), a);
    chmodSync(path, 0o666);
    assert.throws(
      () => kh.get('h:22'),
      isCode('config-invalid', /writable by group or others \(mode 666\); chmod 600/),
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, 'h:22 ssh-ed25519 AAAA\n', { mode: 0o600 });
    assert.throws(() => new KnownHosts(bad).get('h:22'), isCode('config-invalid', /not pvepatch's JSON format/));
  });
});
