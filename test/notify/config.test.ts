import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { isPvepatchError } from '../../daemon/core/errors.js';
import { parseNotifyConfig } from '../../daemon/notify/config.js';
import { tempDir } from './helpers.js';

const dir = tempDir('config');
const pveModule = join(dir, 'Notify.pm');
writeFileSync(pveModule, '1;\n');
const spool = join(dir, 'spool');
mkdirSync(spool);
const absent = join(dir, 'absent');
const onPve = { pveNotifyModule: pveModule, pbsSpoolDir: spool };
const onPbs = { pveNotifyModule: absent, pbsSpoolDir: spool };
const onNeither = { pveNotifyModule: absent, pbsSpoolDir: absent };

const EXAMPLE = `# /etc/pvepatch/notifications.conf
proxmox: default
	min-severity notice

webhook: ops
	url https://ntfy.example/pvepatch
	preset ntfy
	events run-error,rollout-halted,reboot-failed
	min-severity warning
	secret-file /etc/pvepatch/ops.secret

smtp: mail
	server mail.example
	port 587
	mode starttls
	from pvepatch@example.org
	mailto ops@example.org, oncall@example.org
	username pvepatch
	password-file /etc/pvepatch/smtp.pass
	comment the team's mailbox

sendmail: root-mail
	disable 1
`;

/** The problems a config-invalid error lists. */
function problems(text: string, probe = onPve): string[] {
  try {
    parseNotifyConfig(text, 'n.conf', probe);
  } catch (err) {
    assert.ok(isPvepatchError(err) && err.code === 'config-invalid', String(err));
    return err.details?.problems as string[];
  }
  assert.fail('no error');
}

describe('notifications.conf parsing', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses every section type into channel configs', () => {
    assert.deepEqual(parseNotifyConfig(EXAMPLE, 'n.conf', onPve), [
      { name: 'default', kind: 'proxmox-pve', min_severity: 'notice' },
      {
        name: 'ops',
        kind: 'webhook',
        url: 'https://ntfy.example/pvepatch',
        preset: 'ntfy',
        events: ['run-error', 'rollout-halted', 'reboot-failed'],
        min_severity: 'warning',
        secret_file: '/etc/pvepatch/ops.secret',
      },
      {
        name: 'mail',
        kind: 'smtp',
        server: 'mail.example',
        port: 587,
        mode: 'starttls',
        from: 'pvepatch@example.org',
        mailto: ['ops@example.org', 'oncall@example.org'],
        username: 'pvepatch',
        password_file: '/etc/pvepatch/smtp.pass',
      },
      { name: 'root-mail', kind: 'sendmail', disabled: true },
    ]);
  });

  it("makes 'proxmox' the system this host has: PBS's spool, or an error on neither", () => {
    assert.deepEqual(parseNotifyConfig('proxmox: default\n', 'n.conf', onPbs), [
      { name: 'default', kind: 'proxmox-pbs', spool_dir: spool },
    ]);
    assert.deepEqual(problems('proxmox: default\n', onNeither), [
      "n.conf line 1: section 'default': this host has neither PVE::Notify nor the PBS notification spool - use sendmail, smtp or webhook here",
    ]);
  });

  it('takes CRLF line ends, a byte-order mark, comments and webhook TLS pins', () => {
    const text = '\ufeffwebhook: a\r\n\t# pinned\r\n\turl https://h.example/x\r\n\tfingerprint ab'.concat(
      ':cd'.repeat(31),
      '\r\n\ttimeout 5\r\n',
    );
    assert.deepEqual(parseNotifyConfig(text, 'n.conf'), [
      {
        name: 'a',
        kind: 'webhook',
        url: 'https://h.example/x',
        fingerprint: `AB${':CD'.repeat(31)}`,
        timeout_ms: 5000,
      },
    ]);
  });

  it('names the file, the line, what is wrong and what to do, for every problem', () => {
    const text = [
      'mailer: x',
      '',
      '\turl https://a.example',
      'webhook: w',
      '\turl ftp://a.example/',
      '\tevents run-ok,run-exploded',
      '\tsecrets /x',
      '\turl https://b.example',
      '',
      'webhook: w',
      'smtp: 1bad',
      'smtp: s',
      '\tserver mail.example',
      '\tport 99999',
    ].join('\n');
    assert.deepEqual(problems(text), [
      "n.conf line 1: unknown section type 'mailer' - use one of proxmox, sendmail, webhook, smtp",
      "n.conf line 3: a key outside any section - start one with '<type>: <name>'",
      "n.conf line 5: key 'url': scheme 'ftp:' is not http: or https: - allowed: an http(s) URL",
      "n.conf line 6: key 'events': unknown event 'run-exploded' - allowed: a comma-separated list of run-ok, run-error, run-refused, rollout-halted, reboot-failed, updates-available, test",
      "n.conf line 7: unknown key 'secrets' in webhook section 'w' - known keys: events, min-severity, disable, comment, url, preset, secret-file, ca-file, fingerprint, timeout",
      "n.conf line 8: key 'url' is set twice in section 'w' - keep one",
      "n.conf line 10: channel 'w' is defined twice (first at line 4) - rename one",
      "n.conf line 11: invalid channel name '1bad' - use a letter, then letters, digits, _ or - (64 at most)",
      "n.conf line 12: section 's' lacks from, mailto - add the key",
      "n.conf line 14: key 'port': '99999' is not a port - allowed: 1-65535",
    ]);
  });

  it('refuses settings that do not fit together', () => {
    const cases: [string, string][] = [
      [
        'webhook: g\n\turl https://g.example\n\tpreset gotify\n',
        'preset gotify needs secret-file (the application token)',
      ],
      [
        `webhook: f\n\turl http://f.example\n\tfingerprint ${'ab:'.repeat(31)}ab\n`,
        'ca-file and fingerprint need an https URL',
      ],
      [
        `webhook: b\n\turl https://b.example\n\tca-file /ca.pem\n\tfingerprint ${'ab'.repeat(32)}\n`,
        'set either ca-file or fingerprint, not both',
      ],
      [
        'smtp: u\n\tserver m\n\tfrom f@b.c\n\tmailto a@b.c\n\tusername u\n',
        'set both username and password-file, or neither',
      ],
      [
        'smtp: i\n\tserver m\n\tfrom f@b.c\n\tmailto a@b.c\n\tmode insecure\n\tusername u\n\tpassword-file /p\n',
        'a login without TLS would send the password in clear; use mode tls or starttls',
      ],
    ];
    for (const [text, message] of cases)
      assert.match(problems(text)[0] ?? '', new RegExp(`line 1: section '\\w+': ${message.replace(/[()]/g, '\\$&')}$`));
  });

  it('refuses credentials in a URL, bad addresses and values without a value', () => {
    assert.deepEqual(problems('webhook: c\n\turl https://u:p@h.example/\n\tpreset\n\ttimeout 0\n'), [
      "n.conf line 2: key 'url': credentials in the URL would show in logs; put them in secret-file - allowed: an http(s) URL",
      "n.conf line 3: key 'preset': no value - allowed: generic, ntfy, gotify",
      "n.conf line 4: key 'timeout': '0' is not a number of seconds from 1 to 300 - allowed: seconds, 1-300",
    ]);
    assert.deepEqual(problems('smtp: m\n\tserver m\n\tfrom f@b.c\n\tmailto root, a@b.c\n'), [
      "n.conf line 4: key 'mailto': 'root' is not a mail address - allowed: mail addresses",
    ]);
    assert.deepEqual(parseNotifyConfig('sendmail: r\n\tmailto root ops@example.org\n', 'n.conf'), [
      { name: 'r', kind: 'sendmail', mailto: ['root', 'ops@example.org'] },
    ]);
  });

  it('is bounded: 1 MiB, 4096-character lines, no control characters', () => {
    assert.deepEqual(problems(`sendmail: r\n\tcomment ${'x'.repeat(5000)}\n\tmailto a\u0007\n`), [
      'n.conf line 2: the line is longer than 4096 characters - shorten it',
      'n.conf line 3: control character 0x7 - remove it',
    ]);
    assert.deepEqual(problems('#'.repeat(1024 * 1024 + 1)), [
      'n.conf line 1: the file is larger than 1048576 bytes - split it or remove unused sections',
    ]);
  });

  it('lists at most 20 problems', () => {
    const text = Array.from({ length: 30 }, (_, i) => `nope: n${i}`).join('\n');
    assert.throws(() => parseNotifyConfig(text, 'n.conf'), /line 20: .*; \(more problems left out\)$/);
  });

  it('fails only with config-invalid on any input (property)', () => {
    const line = fc.oneof(
      fc.constantFrom('webhook: a', 'smtp: b', 'proxmox: c', 'sendmail: d', '', '# c', '\turl https://x.example'),
      fc.string({ maxLength: 60 }).map((s) => `\t${s}`),
      fc.string({ maxLength: 60 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        try {
          parseNotifyConfig(lines.join('\n'), 'n.conf', onPve);
        } catch (err) {
          return isPvepatchError(err) && err.code === 'config-invalid';
        }
        return true;
      }),
    );
  });
});
