import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { formatCheck, parseCheck } from '../../daemon/policy/checks.js';
import { MAX_LINE, parsePolicy } from '../../daemon/policy/parse.js';

/** The message of the error parsePolicy throws for `text` (named t.conf). */
function problem(text: string): string {
  try {
    parsePolicy(text, 't.conf');
  } catch (err) {
    assert.ok(isPvepatchError(err) && err.code === 'config-invalid', String(err));
    return err.message;
  }
  assert.fail(`expected an error for ${JSON.stringify(text)}`);
}

describe('policy file: format', () => {
  it('reads sections, keys, comments and checks with their lines', () => {
    const file = parsePolicy(
      [
        '# top comment',
        'defaults: all',
        '    reboot never',
        '  # comment inside',
        '\tcheck-timeout 12',
        '',
        'tag: Web',
        '\treboot always',
        '\tcheck service nginx.service',
        '\tcheck http 8080 /health 204',
        '\tcheck command /usr/bin/test -e /run/ok',
        '',
        'guest: 101',
        '\ttransport pct',
        '',
      ].join('\n'),
      't.conf',
    );
    assert.equal(file.name, 't.conf');
    assert.deepEqual(
      file.sections.map((s) => [s.type, s.id, s.line]),
      [
        ['defaults', 'all', 2],
        ['tag', 'web', 7],
        ['guest', '101', 13],
      ],
    );
    const [defaults, web] = file.sections;
    assert.deepEqual(defaults!.settings, { reboot: 'never', checkTimeout: 12 });
    assert.deepEqual(defaults!.lines, { reboot: 3, checkTimeout: 5 });
    assert.deepEqual(
      web!.checks.map((c) => [formatCheck(c.check), c.line]),
      [
        ['service nginx.service', 9],
        ['http 8080 /health 204', 10],
        ['command /usr/bin/test -e /run/ok', 11],
      ],
    );
  });

  it('accepts CRLF line ends, a bare `defaults:` and an empty file', () => {
    const file = parsePolicy('defaults:\r\n\treboot always\r\n', 'w.conf');
    assert.deepEqual(file.sections[0]!.settings, { reboot: 'always' });
    assert.deepEqual(parsePolicy('', 'e.conf').sections, []);
    assert.deepEqual(parsePolicy('# only a comment\n\n', 'e.conf').sections, []);
  });

  it('names file:line for structural problems', () => {
    assert.match(
      problem('defaults: all\n\treboot never\n\n\treboot always\n'),
      /t\.conf:4: a key line outside any section \(the blank line 3 ended/,
    );
    assert.match(problem('\treboot never\n'), /t\.conf:1: a key line outside any section - a section starts with/);
    assert.match(
      problem('vm: 100\n\treboot never\n'),
      /t\.conf:1: unknown section 'vm' \(allowed: defaults: all, tag: <tag>, guest: <vmid>\)/,
    );
    assert.match(problem('reboot never\n'), /t\.conf:1: unknown section 'reboot never'/);
    assert.match(
      problem('tag: web\n\treboot never\n\ntag: WEB\n'),
      /t\.conf:4: duplicate section 'tag: web' \(first at line 1\)/,
    );
    assert.match(
      problem('defaults:\n\ndefaults: all\n'),
      /t\.conf:3: duplicate section 'defaults: all' \(first at line 1\)/,
    );
    assert.match(problem('defaults: some\n'), /t\.conf:1: section 'defaults' takes no id or 'all', not 'some'/);
    assert.match(problem('tag: -web\n'), /t\.conf:1: invalid tag '-web'/);
    assert.match(problem('tag: a b\n'), /invalid tag 'a b'/);
    assert.match(problem('guest: 99\n'), /t\.conf:1: invalid guest id '99' \(allowed: a vmid, 100-999999999\)/);
    assert.match(problem('guest: 1e3\n'), /invalid guest id '1e3'/);
    assert.match(
      problem('guest: 100\n\tcolour blue\n'),
      /t\.conf:2: unknown key 'colour' \(known: transport, reboot, on-failure/,
    );
    assert.match(
      problem('guest: 100\n\treboot never\n\treboot always\n'),
      /t\.conf:3: key 'reboot' is set twice in section 'guest: 100' \(first at line 2\)/,
    );
    assert.match(
      problem('guest: 100\n\treboot\n'),
      /t\.conf:2: key 'reboot': no value \(allowed: never, if-required, always\)/,
    );
    assert.match(problem('guest: 100\n\treboot\x1b[2Jnever\n'), /t\.conf:2: control character 0x1b in the line/);
    assert.match(problem(`guest: 100\n\treboot ${'x'.repeat(MAX_LINE)}\n`), /t\.conf:2: the line is longer than 4096/);
  });

  it('skips the lines of a refused section instead of reporting each of them', () => {
    const msg = problem('vm: 100\n\treboot never\n\ttransport pct\n');
    assert.equal(msg.split('t.conf:').length - 1, 1, msg);
  });

  it('reports every problem at once, up to a limit', () => {
    const text = `guest: 100\n${Array.from({ length: 30 }, () => '\tbogus 1').join('\n')}\n`;
    const msg = problem(text);
    assert.match(msg, /t\.conf:2: unknown key 'bogus'/);
    assert.match(msg, /t\.conf:21: unknown key 'bogus'/);
    assert.doesNotMatch(msg, /t\.conf:22:/);
    assert.match(msg, /more problems left out/);
  });

  it('accepts a leading byte-order mark', () => {
    assert.equal(parsePolicy('\ufeffdefaults: all\n\treboot never\n', 'b.conf').sections[0]?.settings.reboot, 'never');
  });

  it('parses a 1 MiB file of hostile lines quickly, only ever throwing config-invalid', () => {
    const cases = [
      `tag: web\n${'\tcheck tcp 1\n'.repeat(80_000)}`,
      `guest: 100\n${'\treboot never\n'.repeat(70_000)}`,
      `${'tag: a\n'.repeat(140_000)}`,
      `${'\t\n'.repeat(500_000)}`,
      `defaults: all\n\tcheck command ${'w '.repeat(2000)}\n`.repeat(200),
      `${'#'.repeat(4000)}\n`.repeat(250),
      `${':'.repeat(4096)}\n`.repeat(250),
    ];
    for (const text of cases) {
      assert.ok(text.length <= 1024 * 1024, String(text.length));
      const started = performance.now();
      try {
        parsePolicy(text, 'h.conf');
      } catch (err) {
        assert.ok(isPvepatchError(err) && err.code === 'config-invalid', String(err));
        assert.ok(err.message.length < 10_000, 'the message stays short');
      }
      const ms = performance.now() - started;
      assert.ok(ms < 500, `${ms} ms for ${JSON.stringify(text.slice(0, 30))}`);
    }
  });

  it('never fails in any other way, whatever the text', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'defaults: all',
        'tag: web',
        'guest: 100',
        '\treboot never',
        '\tcheck tcp 22',
        '',
        '#',
        '\t',
        ':',
      ),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (lines) => {
        try {
          parsePolicy(lines.join('\n'), 'f.conf');
        } catch (err) {
          assert.ok(isPvepatchError(err) && err.code === 'config-invalid', String(err));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses text over 1 MiB without scanning it', () => {
    assert.match(problem(`defaults: all\n${'#'.repeat(1024 * 1024)}`), /larger than 1048576 bytes/);
  });
});

describe('policy file: values', () => {
  const value = (key: string, v: string) => problem(`guest: 100\n\t${key} ${v}\n`);
  const ok = (key: string, v: string) => parsePolicy(`guest: 100\n\t${key} ${v}\n`, 't.conf').sections[0]!.settings;

  it('validates each enumerated key and says what is allowed', () => {
    assert.match(
      value('transport', 'lxc-attach'),
      /t\.conf:2: key 'transport': invalid value 'lxc-attach' \(allowed: pct, qga, ssh\)/,
    );
    assert.match(
      value('reboot', 'sometimes'),
      /key 'reboot': invalid value 'sometimes' \(allowed: never, if-required, always\)/,
    );
    assert.match(value('on-failure', 'panic'), /key 'on-failure': invalid value 'panic' \(allowed: keep, rollback\)/);
    assert.match(value('fallback', 'pray'), /key 'fallback': invalid value 'pray' \(allowed: skip, vzdump, backup\)/);
    assert.deepEqual(ok('fallback', 'backup'), { fallback: 'backup' });
    assert.match(value('role', 'pve'), /key 'role': invalid value 'pve' \(allowed: none, pbs\)/);
    assert.deepEqual(ok('on-failure', 'rollback'), { onFailure: 'rollback' });
    assert.deepEqual(ok('role', 'pbs'), { role: 'pbs' });
  });

  it('validates numbers as plain decimal integers within range', () => {
    for (const bad of ['-1', '0x10', '1e3', '12.5', '9', '86401', ' ', 'ten']) {
      if (bad.trim() === '') continue;
      assert.match(
        value('reboot-timeout', bad),
        /key 'reboot-timeout': invalid value .* \(allowed: seconds, 10-86400\)/,
      );
    }
    assert.match(value('check-timeout', '0'), /allowed: seconds, 1-3600/);
    assert.match(value('check-timeout', '3601'), /allowed: seconds, 1-3600/);
    assert.match(value('ssh-port', '65536'), /key 'ssh-port': invalid value '65536' \(allowed: a port, 1-65535\)/);
    assert.match(value('pbs-min-free-gb', '-3'), /key 'pbs-min-free-gb'/);
    assert.deepEqual(ok('reboot-timeout', '900'), { rebootTimeout: 900 });
    assert.deepEqual(ok('check-timeout', '1'), { checkTimeout: 1 });
    assert.deepEqual(ok('ssh-port', '2222'), { sshPort: 2222 });
    assert.deepEqual(ok('pbs-min-free-gb', '0'), { pbsMinFreeGb: 0 });
    for (const bad of ['0', '721', '1.5', '-24']) {
      assert.match(value('backup-max-age', bad), /key 'backup-max-age': invalid value .* \(allowed: hours, 1-720\)/);
    }
    assert.deepEqual(ok('backup-max-age', '720'), { backupMaxAge: 720 });
    assert.deepEqual(ok('backup-max-age', '1'), { backupMaxAge: 1 });
  });

  it('validates storage ids as PVE does', () => {
    for (const good of ['local', 'backup-nfs', 'pbs.main', 'a_1b', 'ab']) {
      assert.deepEqual(ok('fallback-storage', good), { fallbackStorage: good });
    }
    for (const bad of ['Local', '1local', 'a', 'local-', 'lo cal', 'loc/al', 'local;rm']) {
      assert.match(value('fallback-storage', bad), /key 'fallback-storage': invalid value .* \(allowed: a storage id/);
    }
  });

  it('validates addresses, ssh user, key path and fingerprint', () => {
    for (const good of ['192.0.2.10', '2001:db8::10', 'web-1.example.org', 'host']) {
      assert.deepEqual(ok('address', good), { address: good });
    }
    for (const bad of ['-host', 'host-', 'a..b', 'fe80::1%eth0', 'http://x', 'x_y.example', `${'a'.repeat(64)}.org`]) {
      assert.match(
        value('address', bad),
        /key 'address': invalid value .* \(allowed: an IPv4 address, an IPv6 address or a host name\)/,
      );
    }
    assert.deepEqual(ok('ssh-user', 'patcher'), { sshUser: 'patcher' });
    assert.match(value('ssh-user', '-oProxyCommand=x'), /key 'ssh-user': invalid value/);
    assert.match(value('ssh-user', 'root@host'), /key 'ssh-user'/);
    assert.deepEqual(ok('ssh-key', '/etc/pvepatch/id_ed25519'), { sshKey: '/etc/pvepatch/id_ed25519' });
    assert.match(value('ssh-key', 'id_rsa'), /key 'ssh-key': invalid value 'id_rsa' \(allowed: an absolute path\)/);
    const fp = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    assert.deepEqual(ok('ssh-fingerprint', fp), { sshFingerprint: fp });
    assert.match(value('ssh-fingerprint', 'MD5:aa:bb'), /key 'ssh-fingerprint'.*SHA256:<43 base64 characters>/);
    assert.match(value('ssh-fingerprint', fp.slice(0, -1)), /key 'ssh-fingerprint'/);
  });

  it('quotes a long bad value cut short', () => {
    const msg = value('reboot', 'x'.repeat(500));
    assert.ok(msg.includes(`'${'x'.repeat(80)}...'`), msg);
    assert.ok(!msg.includes('x'.repeat(81)));
  });
});

describe('policy file: checks', () => {
  const check = (text: string) => {
    const c = parseCheck(text);
    return 'error' in c ? c.error : formatCheck(c);
  };

  it('parses each kind with its defaults', () => {
    assert.equal(check('service nginx'), 'service nginx');
    assert.equal(
      check('service systemd-fsck@dev-disk-by\\x2duuid-1.service'),
      'service systemd-fsck@dev-disk-by\\x2duuid-1.service',
    );
    assert.equal(check('service -.mount'), 'service -.mount');
    assert.equal(check('tcp 22'), 'tcp 22');
    assert.equal(check('http 80'), 'http 80 / 200-399');
    assert.equal(check('http 80 /a?b=c'), 'http 80 /a?b=c 200-399');
    assert.equal(check('http 80 204'), 'http 80 / 204');
    assert.equal(check('http  80\t/x   200-299'), 'http 80 /x 200-299');
    assert.equal(check('command /usr/bin/curl -fsS http://localhost/'), 'command /usr/bin/curl -fsS http://localhost/');
    assert.deepEqual(parseCheck("command sh -c 'a; b'"), { kind: 'command', argv: ['sh', '-c', "'a;", "b'"] });
  });

  it('refuses malformed checks, saying what is allowed', () => {
    assert.match(check('ping 1.2.3.4'), /unknown check 'ping' \(allowed: service, tcp, http, command\)/);
    assert.match(check('service'), /check service needs one unit name/);
    assert.match(check('service a b'), /check service needs one unit name/);
    assert.match(check('service nginx;reboot'), /check service needs one unit name/);
    assert.match(check(`service ${'a'.repeat(257)}`), /check service needs one unit name/);
    assert.match(check('tcp'), /check tcp needs one port/);
    assert.match(check('tcp 0'), /check tcp needs one port/);
    assert.match(check('tcp 22 23'), /check tcp needs one port/);
    assert.match(check('http'), /check http needs <port>/);
    assert.match(check('http 80 /x 200 extra'), /check http needs <port>/);
    assert.match(check('http 80 600'), /check http needs <port>/);
    assert.match(check('http 80 399-200'), /check http needs <port>/);
    assert.match(check('http 80 x'), /check http needs <port>/);
    assert.match(check('http 80 /\u00e9'), /outside visible ASCII/);
    assert.match(check('command'), /check command needs a program/);
    assert.match(check('command --help'), /check command needs a program/);
    assert.match(check(`command ${Array.from({ length: 65 }, () => 'w').join(' ')}`), /at most 64 words/);
    assert.match(check(`command x ${'y'.repeat(1025)}`), /a word is longer than 1024/);
  });

  it('reports a bad check with its file and line, and caps checks per section', () => {
    assert.match(
      problem('tag: web\n\tcheck tcp 99999\n'),
      /t\.conf:2: key 'check': invalid value 'tcp 99999' - check tcp needs one port/,
    );
    assert.match(problem('tag: web\n\tcheck\n'), /t\.conf:2: key 'check': no value/);
    const many = Array.from({ length: 65 }, (_, i) => `\tcheck tcp ${i + 1}`).join('\n');
    assert.match(problem(`tag: web\n${many}\n`), /t\.conf:66: key 'check': more than 64 checks in one section/);
  });
});
