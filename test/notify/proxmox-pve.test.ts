import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  PVE_NOTIFY_SCRIPT,
  proxmoxPveAvailable,
  proxmoxPveChannel,
  pveNotifyArgv,
} from '../../daemon/notify/channels/proxmox-pve.js';
import { fixture, outgoing, tempDir } from './helpers.js';

const dir = tempDir('pve');
const lib = join(dir, 'lib');
const record = join(dir, 'notify-call.json');
mkdirSync(join(lib, 'PVE'), { recursive: true });
// Stand-ins for pve-cluster's PVE::Notify and pve-common's PVE::INotify: real Perl modules that
// record what they were called with (the child gets a minimal environment, so the path is baked in).
writeFileSync(
  join(lib, 'PVE/Notify.pm'),
  `package PVE::Notify;
use strict; use warnings; use JSON::PP;
sub notify {
    my ($severity, $template, $data, $fields) = @_;
    die "stand-in: asked to fail\\n" if $template eq 'pvepatch-fail';
    open(my $fh, '>', ${JSON.stringify(record)}) or die "cannot record: $!";
    print $fh JSON::PP->new->utf8->canonical->encode({ args => scalar(@_), severity => $severity,
        template => $template, data => $data, fields => $fields });
    close($fh);
}
1;
`,
);
writeFileSync(join(lib, 'PVE/INotify.pm'), 'package PVE::INotify;\nsub nodename { return "pve-node-7"; }\n1;\n');

const config = { name: 'proxmox', kind: 'proxmox-pve' as const, include_dirs: [lib] };

describe('channel proxmox-pve (PVE::Notify through perl)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs perl with a fixed argv: no data in it, never through a shell', () => {
    assert.deepEqual(pveNotifyArgv(config), [
      '/usr/bin/perl',
      `-I${lib}`,
      '-MJSON::PP',
      '-MPVE::Notify',
      '-MPVE::INotify',
      '-e',
      PVE_NOTIFY_SCRIPT,
    ]);
  });

  it('calls PVE::Notify::notify(severity, template, data, fields) with the data from stdin', async () => {
    rmSync(record, { force: true });
    const data = fixture('run-error');
    data.guests[0]!.reason = `it's "quoted" $ENV{HOME} \`id\` @{[ die ]} – ünïcode`;
    const done = await proxmoxPveChannel.send(config, outgoing('run-error', data));
    assert.equal(done, 'handed to PVE::Notify (template pvepatch-run-error)');
    const call = JSON.parse(readFileSync(record, 'utf8'));
    assert.deepEqual(call, {
      args: 4,
      severity: 'error',
      template: 'pvepatch-run-error',
      data,
      fields: { type: 'pvepatch', hostname: 'pve1', 'job-id': 'nightly' },
    });
  });

  it('sets hostname to PVE::INotify::nodename() when the fields have none', async () => {
    rmSync(record, { force: true });
    const m = outgoing('test');
    m.fields = { type: 'pvepatch' };
    await proxmoxPveChannel.send(config, m);
    const call = JSON.parse(readFileSync(record, 'utf8'));
    assert.deepEqual(call.fields, { type: 'pvepatch', hostname: 'pve-node-7' });
    assert.equal(call.severity, 'info');
    assert.deepEqual(call.data, fixture('test'));
  });

  it("fails with perl's last stderr line and what to do", async () => {
    const m = { ...outgoing('test'), template: 'pvepatch-fail' as never };
    await assert.rejects(proxmoxPveChannel.send(config, m), {
      code: 'proxmox-error',
      message:
        'unable to notify through PVE::Notify - stand-in: asked to fail; check that pvepatch runs as root on PVE 8.2.3 or later',
    });
  });

  it('fails when PVE::Notify is not there (a host without PVE)', async () => {
    await assert.rejects(
      proxmoxPveChannel.send({ ...config, include_dirs: [] }, outgoing('test')),
      /unable to notify through PVE::Notify - .*Can't locate PVE\/Notify\.pm/,
    );
  });

  it('is available when the module file exists', () => {
    assert.equal(proxmoxPveAvailable(join(lib, 'PVE/Notify.pm')), true);
    assert.equal(proxmoxPveAvailable(join(lib, 'PVE/Absent.pm')), false);
    assert.equal(proxmoxPveAvailable(), existsSync('/usr/share/perl5/PVE/Notify.pm'));
  });
});
