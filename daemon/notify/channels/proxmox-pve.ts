/**
 * PVE's own notification system: `PVE::Notify::notify($severity, $template, $data, $fields)` in a
 * Perl child, so the admin's matchers and targets (Datacenter → Notifications) decide where it
 * goes. Everything variable travels as one JSON document on stdin, never inside the Perl code.
 * PVE renders our templates from /usr/share/pve-manager/templates/default/ itself; a failing target
 * is logged by PVE and does not fail the call. Needs PVE ≥ 8.2.3 (named templates) and root.
 */
import { existsSync } from 'node:fs';
import { PvepatchError } from '../../core/errors.js';
import { execArgv, MINIMAL_ENV } from '../../core/exec.js';
import type { ChannelDriver, OutgoingNotification, ProxmoxPveChannelConfig } from '../channel-types.js';

export const PVE_NOTIFY_MODULE = '/usr/share/perl5/PVE/Notify.pm';
const DEFAULT_TIMEOUT_MS = 120_000;

/** Reads the JSON document from stdin; fills in the node name when no hostname field was given. */
export const PVE_NOTIFY_SCRIPT = [
  'binmode STDIN;',
  'my $m = JSON::PP->new->utf8->decode(do { local $/; <STDIN> });',
  'my %f = %{$m->{fields}};',
  '$f{hostname} = PVE::INotify::nodename() if !defined($f{hostname}) || $f{hostname} eq "";',
  'PVE::Notify::notify($m->{severity}, $m->{template}, $m->{data}, \\%f);',
].join(' ');

/** Whether this host has PVE's notification module (path injectable for tests). */
export function proxmoxPveAvailable(modulePath = PVE_NOTIFY_MODULE): boolean {
  return existsSync(modulePath);
}

export function pveNotifyArgv(config: ProxmoxPveChannelConfig): string[] {
  const includes = (config.include_dirs ?? []).map((d) => `-I${d}`);
  return [
    config.perl ?? '/usr/bin/perl',
    ...includes,
    '-MJSON::PP',
    '-MPVE::Notify',
    '-MPVE::INotify',
    '-e',
    PVE_NOTIFY_SCRIPT,
  ];
}

export function pveNotifyInput(message: OutgoingNotification): string {
  const { severity, template, data, fields } = message;
  return JSON.stringify({ severity, template, data, fields });
}

export const proxmoxPveChannel = {
  kind: 'proxmox-pve',
  async send(config, message) {
    const argv = pveNotifyArgv(config);
    const result = await execArgv(argv, {
      input: pveNotifyInput(message),
      timeoutMs: config.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      env: { ...MINIMAL_ENV },
      maxOutputBytes: 64 * 1024,
    });
    if (result.timedOut) {
      throw new PvepatchError(
        'timeout',
        `unable to notify through PVE::Notify - no answer within ${Math.round((config.timeout_ms ?? DEFAULT_TIMEOUT_MS) / 1000)} s; check the notification targets under Datacenter > Notifications`,
      );
    }
    if (result.exitCode !== 0) {
      const last = lastLine(result.stderr) || `exit ${result.exitCode ?? result.signal}`;
      throw new PvepatchError(
        'proxmox-error',
        `unable to notify through PVE::Notify - ${last}; check that pvepatch runs as root on PVE 8.2.3 or later`,
      );
    }
    return `handed to PVE::Notify (template ${message.template})`;
  },
} satisfies ChannelDriver<ProxmoxPveChannelConfig>;

/** Perl's last word, past its 'BEGIN failed--compilation aborted' echo of a failed `use`. */
function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('BEGIN failed--compilation aborted'));
  return (lines.at(-1) ?? '').trim().slice(0, 300);
}
