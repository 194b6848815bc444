import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { PvepatchError } from '../../daemon/core/errors.js';
import {
  HostKeyMismatchError,
  type SshOptions,
  SshTransport,
  SudoRefusedError,
} from '../../daemon/transports/ssh/index.js';
import { Lab } from '../guests/lab.js';
import { NOPASSWD_LESS_USER, Sshd, SUDO_USER } from '../guests/sshd.js';

const VMID = 101;
const vm = { vmid: VMID, node: 'pve1', type: 'qemu' as const };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const accepted = (log: string) => (log.match(/Accepted publickey/g) ?? []).length;
const isCode = (code: string, re?: RegExp) => (e: unknown) =>
  e instanceof PvepatchError && e.code === code && (!re || re.test(e.message));

describe('ssh transport against a real sshd in front of a lab guest', () => {
  let lab: Lab;
  let sshd: Sshd;
  let tmp: string;
  const open: SshTransport[] = [];
  let n = 0;
  /** A transport with its own (empty) known-hosts file unless one is given. */
  const transport = (o: Partial<SshOptions> = {}) => {
    const t = new SshTransport(vm, {
      host: sshd.host,
      port: sshd.port,
      privateKeyPath: sshd.clientKey,
      knownHostsPath: join(tmp, `known-${++n}.json`),
      connectTimeoutMs: 5000,
      defaultTimeoutMs: 20_000,
      ...o,
    });
    open.push(t);
    return t;
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pvepatch-ssh-test-'));
    lab = await Lab.create({ dir: mkdtempSync(join(tmpdir(), 'pvepatch-lab-')), guests: [{ vmid: VMID }] });
    sshd = await Sshd.start({ lab, vmid: VMID });
  });
  after(async () => {
    await Promise.all(open.map((t) => t.close()));
    await sshd?.destroy();
    await lab?.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs argv inside the guest root: its os-release, its dpkg, exit codes and both streams, streamed', async () => {
    const t = transport();
    const os = await t.exec(['cat', '/etc/os-release']);
    assert.equal(os.exitCode, 0);
    assert.match(os.stdout, /VERSION_CODENAME=bookworm/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
    const dpkg = await t.exec(['dpkg-query', '-W', '-f', '${Package} ${Version}\n', 'demo-app', 'demo-lib']);
    assert.equal(dpkg.stdout, 'demo-app 1.0\ndemo-lib 1.0\n');
    const chunks: string[] = [];
    const r = await t.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'], {
      onOutput: (s, c) => chunks.push(`${s}:${c}`),
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.signal, null);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.truncated, false);
    assert.deepEqual(chunks.sort(), ['stderr:err\n', 'stdout:out\n']);
    const missing = await t.exec(['no-such-command-xyz']);
    assert.equal(missing.exitCode, 127);
  });

  it('sends hostile words as single argv words, never as shell syntax', async () => {
    const t = transport();
    const words = [
      'nginx; rm -rf /',
      "it's",
      '"double"',
      'a\nb',
      '$(touch /tmp/pwned)',
      '`id`',
      '$HOME',
      '*',
      '',
      ' ',
      '\\',
      "'",
    ];
    const r = await t.exec(['printf', '[%s]\\n', ...words]);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, words.map((w) => `[${w}]\n`).join(''));
    assert.equal((await lab.exec(VMID, ['test', '-e', '/tmp/pwned'])).exitCode, 1);
    await assert.rejects(t.exec(['echo', 'a\0b']), isCode('internal', /NUL/));
    await assert.rejects(t.exec([]), isCode('internal', /empty argv/));
  });

  it('passes stdin then EOF, and env through env(1) words', async () => {
    const t = transport();
    const cat = await t.exec(['cat'], { input: 'hello; $(id)\nline 2' });
    assert.equal(cat.stdout, 'hello; $(id)\nline 2');
    const eof = await t.exec(['cat']);
    assert.equal(eof.stdout, '');
    const env = await t.exec(['sh', '-c', 'printf "%s|%s" "$A" "$LC_ALL"'], {
      env: { A: "x'; $(id) `id`", LC_ALL: 'C' },
    });
    assert.equal(env.stdout, "x'; $(id) `id`|C");
    await assert.rejects(t.exec(['true'], { env: { 'A=B': 'x' } }), isCode('internal', /not a valid name/));
  });

  it('reuses one connection for every command, and close() ends it', async () => {
    const before = accepted(sshd.log);
    const t = transport();
    for (let i = 0; i < 5; i++) assert.equal((await t.exec(['true'])).exitCode, 0);
    const parallel = await Promise.all([1, 2, 3].map((i) => t.exec(['sh', '-c', `sleep 0.3; echo ${i}`])));
    assert.deepEqual(
      parallel.map((r) => r.stdout),
      ['1\n', '2\n', '3\n'],
    );
    assert.equal(accepted(sshd.log) - before, 1);
    await t.close();
    await sleep(200);
    assert.match(sshd.log, /Disconnected from user root/);
    assert.equal((await t.exec(['true'])).exitCode, 0, 'a command after close() connects again');
    assert.equal(accepted(sshd.log) - before, 2);
  });

  it('kills a command that overruns its timeout and throws code timeout; the connection stays usable', async () => {
    const t = transport();
    const started = Date.now();
    await assert.rejects(
      t.exec(['sleep', '30'], { timeoutMs: 500 }),
      isCode('timeout', /unable to run 'sleep' on VM 101 over SSH - no exit after 1s/),
    );
    assert.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
    assert.equal((await t.exec(['echo', 'ok'])).stdout, 'ok\n');
  });

  it('caps output per stream: kill ends the command, drain lets it finish; truncated says so', async () => {
    const t = transport();
    const killed = await t.exec(['sh', '-c', 'head -c 1000000 /dev/zero | tr "\\0" x; sleep 20; echo done'], {
      maxOutputBytes: 4096,
    });
    assert.equal(killed.truncated, true);
    assert.equal(killed.exitCode, null);
    assert.ok(killed.durationMs < 10_000);
    assert.match(killed.stdout, /bytes left out/);
    const drained = await t.exec(['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" y; echo; echo end >&2'], {
      maxOutputBytes: 4096,
      overflow: 'drain',
    });
    assert.equal(drained.truncated, true);
    assert.equal(drained.exitCode, 0);
    assert.equal(drained.bytes?.stdout, 300001);
    assert.equal(drained.stderr, 'end\n');
    assert.ok(drained.stdout.length < 5000);
  });

  it('streams output while the command runs', async () => {
    const t = transport();
    let firstAt = 0;
    const started = Date.now();
    const r = await t.exec(['sh', '-c', 'echo first; sleep 1.5; echo second'], {
      onOutput: (_s, c) => {
        if (c.includes('first') && !firstAt) firstAt = Date.now();
      },
    });
    assert.equal(r.stdout, 'first\nsecond\n');
    assert.ok(firstAt > 0 && Date.now() - firstAt > 1000, `first line ${firstAt - started} ms after start`);
  });

  it('runs a whole stage in one session: one connection, one channel, one guest shell', async () => {
    const before = accepted(sshd.log);
    const t = transport();
    const s = t.openSession();
    const a = await s.run(['sh', '-c', 'echo $PPID'], { timeoutMs: 10_000 });
    const b = await s.run(['sh', '-c', 'echo $PPID; echo err >&2; exit 4'], { timeoutMs: 10_000 });
    const c = await s.run(['printf', '%s\\n', 'a; b', '$(id)'], { timeoutMs: 10_000 });
    assert.equal(a.exitCode, 0);
    assert.equal(b.exitCode, 4);
    assert.equal(b.stderr, 'err\n');
    assert.equal(a.stdout, b.stdout.split('\n')[0]?.concat('\n'), 'both ran under the same guest shell');
    assert.equal(c.stdout, 'a; b\n$(id)\n');
    await assert.rejects(s.run(['sleep', '30'], { timeoutMs: 500 }), isCode('timeout', /no exit after 1s/));
    assert.equal(s.alive, false);
    const s2 = t.openSession();
    assert.equal((await s2.run(['true'], { timeoutMs: 10_000 })).exitCode, 0);
    await s2.close();
    assert.equal(accepted(sshd.log) - before, 1, 'both sessions used the one connection');
  });

  it('logs in as a non-root user and runs every command through sudo -n (exec and session)', {
    skip: false,
  }, async (ctx) => {
    if (sshd.nonRootSkip) return ctx.skip(sshd.nonRootSkip);
    const t = transport({ user: SUDO_USER });
    const r = await t.exec(['sh', '-c', 'echo "$(id -u) $SUDO_USER"; printf "[%s]" "$1"', 'sh', 'a; $(id)']);
    assert.equal(r.stdout, `0 ${SUDO_USER}\n[a; $(id)]`);
    const env = await t.exec(['sh', '-c', 'echo $X'], { env: { X: 'y z' } });
    assert.equal(env.stdout, 'y z\n');
    const s = t.openSession();
    const id = await s.run(['sh', '-c', 'echo "$(id -u) $SUDO_USER"'], { timeoutMs: 10_000 });
    assert.equal(id.stdout, `0 ${SUDO_USER}\n`);
    await s.close();
  });

  it('says to configure NOPASSWD when sudo wants a password (exec and session)', async (ctx) => {
    if (sshd.nonRootSkip) return ctx.skip(sshd.nonRootSkip);
    const t = transport({ user: NOPASSWD_LESS_USER });
    const check = (e: unknown) =>
      e instanceof SudoRefusedError &&
      e.code === 'unreachable' &&
      e.message.includes(`sudo asks '${NOPASSWD_LESS_USER}' for a password`) &&
      e.message.includes('NOPASSWD');
    await assert.rejects(t.exec(['touch', '/tmp/sudo-ran']), check);
    await assert.rejects(t.openSession().run(['touch', '/tmp/sudo-ran'], { timeoutMs: 10_000 }), check);
    assert.equal((await lab.exec(VMID, ['test', '-e', '/tmp/sudo-ran'])).exitCode, 1);
  });

  it('refuses a private key that group or others can read, and a key that is not one', async () => {
    const key = join(tmp, 'loose_key');
    copyFileSync(sshd.clientKey, key);
    chmodSync(key, 0o644);
    await assert.rejects(
      transport({ privateKeyPath: key }).exec(['true']),
      isCode(
        'config-invalid',
        new RegExp(`unable to use SSH key ${key} - group or others can access it \\(mode 0644\\); chmod 600`),
      ),
    );
    const pub = join(tmp, 'pub_key');
    copyFileSync(`${sshd.clientKey}.pub`, pub);
    chmodSync(pub, 0o600);
    await assert.rejects(
      transport({ privateKeyPath: pub }).exec(['true']),
      isCode('config-invalid', /unencrypted private key/),
    );
    await assert.rejects(
      transport({ privateKeyPath: join(tmp, 'none') }).exec(['true']),
      isCode('config-invalid', /ENOENT/),
    );
  });

  it('says what failed when it cannot connect: refused, DNS, handshake timeout, authentication', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    await assert.rejects(
      transport({ port: closed }).exec(['true']),
      isCode(
        'unreachable',
        new RegExp(`^unable to reach VM 101 over SSH at root@127\\.0\\.0\\.1:${closed} - connection refused`),
      ),
    );
    await assert.rejects(
      transport({ host: 'no-such-host.invalid' }).exec(['true']),
      isCode('unreachable', /at root@no-such-host\.invalid:\d+ - host name 'no-such-host\.invalid' does not resolve/),
    );
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      await assert.rejects(
        transport({ port, connectTimeoutMs: 800 }).exec(['true']),
        isCode('unreachable', /- no SSH handshake within 1s/),
      );
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
    const other = join(tmp, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    await assert.rejects(
      transport({ privateKeyPath: other }).exec(['true']),
      isCode(
        'unreachable',
        /key authentication as 'root' failed; add the public key of .*other_key to ~root\/\.ssh\/authorized_keys/,
      ),
    );
  });

  it('reconnects on the next command after the server dropped the connection; a command cut off is unreachable', async () => {
    const t = transport();
    const before = accepted(sshd.log);
    assert.equal((await t.exec(['echo', 'one'])).stdout, 'one\n');
    assert.ok(sshd.dropConnections() > 0);
    await sleep(300);
    assert.equal((await t.exec(['echo', 'two'])).stdout, 'two\n');
    assert.equal(accepted(sshd.log) - before, 2);
    const running = t.exec(['sleep', '10']);
    await sleep(1000);
    sshd.dropConnections();
    await assert.rejects(
      running,
      isCode('unreachable', /unable to finish 'sleep' on VM 101 .* - the connection was lost/),
    );
    assert.equal((await t.exec(['echo', 'three'])).stdout, 'three\n');
  });

  it('notices a connection gone silent by its keepalives: a running command fails, the next one reconnects', async () => {
    const t = transport({ keepaliveIntervalMs: 300 });
    assert.equal((await t.exec(['echo', 'one'])).stdout, 'one\n');
    const running = t.exec(['sleep', '20']);
    await sleep(800);
    const thaw = sshd.freezeConnections();
    try {
      const started = Date.now();
      await assert.rejects(running, isCode('unreachable', /the connection was lost/));
      assert.ok(Date.now() - started < 5000, `noticed after ${Date.now() - started} ms`);
      assert.equal((await t.exec(['echo', 'two'])).stdout, 'two\n');
    } finally {
      thaw();
    }
  });

  it('pins a configured fingerprint: the right one connects without recording, a wrong one is refused', async () => {
    const fp = await sshd.hostFingerprint();
    const known = join(tmp, 'pinned.json');
    const ok = transport({ fingerprint: fp, knownHostsPath: known });
    assert.equal((await ok.exec(['true'])).exitCode, 0);
    assert.throws(() => statSync(known), /ENOENT/);
    const wrong = `SHA256:${'A'.repeat(43)}`;
    await assert.rejects(transport({ fingerprint: wrong }).exec(['true']), (e: unknown) => {
      assert.ok(e instanceof HostKeyMismatchError);
      assert.equal(e.code, 'unreachable');
      assert.match(e.message, new RegExp(`root@127\\.0\\.0\\.1:${sshd.port} - host key mismatch`));
      assert.ok(e.message.includes(wrong) && e.message.includes(fp));
      assert.match(e.message, /set the new fingerprint/);
      return true;
    });
    assert.throws(() => transport({ fingerprint: 'MD5:aa:bb' }), isCode('config-invalid', /SHA256:<base64>/));
  });

  it('upgrades the guest with real apt-get through one session', async () => {
    await lab.setRepo('v2');
    const t = transport();
    const s = t.openSession();
    const apt = (...args: string[]) =>
      s.run(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', '-o', 'Dpkg::Use-Pty=0', ...args], {
        timeoutMs: 120_000,
      });
    assert.equal((await apt('update')).exitCode, 0);
    const sim = await apt('-s', 'dist-upgrade');
    assert.equal((sim.stdout.match(/^Inst /gm) ?? []).length, 5, sim.stdout);
    const up = await apt('dist-upgrade');
    assert.equal(up.exitCode, 0, up.stderr);
    await s.close();
    assert.equal(await lab.dpkgVersion(VMID, 'demo-app'), '1.1');
    assert.equal(await lab.dpkgVersion(VMID, 'demo-sec'), '1.1');
  });

  it('works bundled by esbuild as scripts/build.mjs bundles (ssh2 without its native add-ons), on plain node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-ssh-bundle-'));
    const out = join(dir, 'ssh-check.mjs');
    // the options of scripts/build.mjs that matter here: ESM for node, a require for ssh2's CJS, the
    // optional native modules left out (ssh2 falls back to node's crypto when they fail to load)
    await build({
      stdin: {
        contents: [
          "import { SshTransport } from './daemon/transports/ssh/index.ts';",
          'const [host, port, key, known] = process.argv.slice(2);',
          "const t = new SshTransport({ vmid: 101, node: 'pve1', type: 'qemu' }, { host, port: Number(port), privateKeyPath: key, knownHostsPath: known, defaultTimeoutMs: 10000 });",
          "const a = await t.exec(['printf', '%s', 'a; $(id)']);",
          'const s = t.openSession();',
          "const b = await s.run(['cat', '/etc/debian_version'], { timeoutMs: 10000 });",
          'await s.close();',
          'await t.close();',
          'console.log(JSON.stringify([a.stdout, b.stdout.trim()]));',
        ].join('\n'),
        resolveDir: process.cwd(),
        sourcefile: 'ssh-check.ts',
        loader: 'ts',
      },
      outfile: out,
      bundle: true,
      platform: 'node',
      target: 'node18.19',
      format: 'esm',
      banner: {
        js: [
          "import { createRequire as __pvepatchCreateRequire } from 'node:module';",
          "import { fileURLToPath as __pvepatchFileURLToPath } from 'node:url';",
          'const require = __pvepatchCreateRequire(import.meta.url);',
          'const __pvepatchFilename = __pvepatchFileURLToPath(import.meta.url);',
          "const __pvepatchDirname = __pvepatchFilename.slice(0, __pvepatchFilename.lastIndexOf('/'));",
        ].join('\n'),
      },
      define: { __dirname: '__pvepatchDirname', __filename: '__pvepatchFilename' },
      external: ['cpu-features', '*.node'],
      logLevel: 'error',
    });
    const runtimes = [process.execPath, process.env.PVEPATCH_NODE18].filter((p): p is string => !!p);
    try {
      for (const node of runtimes) {
        const stdout = execFileSync(
          node,
          [out, sshd.host, String(sshd.port), sshd.clientKey, join(dir, 'known.json')],
          {
            cwd: dir,
            encoding: 'utf8',
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
          },
        );
        const [a, version] = JSON.parse(stdout) as [string, string];
        assert.equal(a, 'a; $(id)', node);
        assert.match(version, /^12\./, node);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // last: it rotates the host key
  it('trusts on first use, records the key (0600), and refuses a rotated host key before anything runs', async () => {
    const known = join(tmp, 'tofu.json');
    const fp = await sshd.hostFingerprint();
    const first = transport({ knownHostsPath: known });
    assert.equal((await first.exec(['true'])).exitCode, 0);
    assert.equal(statSync(known).mode & 0o777, 0o600);
    const entry = JSON.parse(readFileSync(known, 'utf8')).hosts[`127.0.0.1:${sshd.port}`];
    assert.equal(entry.fingerprint, fp);
    assert.equal(entry.type, 'ssh-ed25519');
    assert.equal(
      (await transport({ knownHostsPath: known }).exec(['true'])).exitCode,
      0,
      'the recorded key is accepted',
    );

    await sshd.rotateHostKey();
    const rotated = await sshd.hostFingerprint();
    assert.notEqual(rotated, fp);
    await assert.rejects(
      transport({ knownHostsPath: known }).exec(['touch', '/tmp/ran-after-rotation']),
      (e: unknown) => {
        assert.ok(e instanceof HostKeyMismatchError, String(e));
        assert.equal(e.code, 'unreachable');
        assert.equal(e.expected, fp);
        assert.equal(e.received, rotated);
        assert.match(
          e.message,
          new RegExp(`^unable to reach VM 101 over SSH at root@127\\.0\\.0\\.1:${sshd.port} - the host key changed`),
        );
        assert.ok(e.message.includes(fp) && e.message.includes(rotated) && e.message.includes(known));
        assert.match(e.message, /nothing was run/);
        assert.match(
          e.message,
          new RegExp(`remove the entry '127\\.0\\.0\\.1:${sshd.port}'.*or set the guest's SSH fingerprint`),
        );
        return true;
      },
    );
    assert.equal(accepted(sshd.log), 0, 'the client never authenticated to the new key');
    assert.equal((await lab.exec(VMID, ['test', '-e', '/tmp/ran-after-rotation'])).exitCode, 1);
    assert.equal(
      JSON.parse(readFileSync(known, 'utf8')).hosts[`127.0.0.1:${sshd.port}`].fingerprint,
      fp,
      'not replaced',
    );
    // the way out the message names: pin the new key
    assert.equal((await transport({ knownHostsPath: known, fingerprint: rotated }).exec(['true'])).exitCode, 0);
  });
});
