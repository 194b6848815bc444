/**
 * Mail through the local MTA: `sendmail -t -oi` reads the recipients from the message's headers.
 * The fallback where neither PVE::Notify nor the PBS spool exists; on a Proxmox host root's mail
 * goes through /root/.forward to proxmox-mail-forward anyway.
 */
import { existsSync } from 'node:fs';
import { PvepatchError } from '../../core/errors.js';
import { execArgv, MINIMAL_ENV } from '../../core/exec.js';
import type { ChannelDriver, SendmailChannelConfig } from '../channel-types.js';
import { buildMime, mailOptions } from '../mail.js';

export const SENDMAIL_PATH = '/usr/sbin/sendmail';
const DEFAULT_TIMEOUT_MS = 60_000;

/** Whether this host has a sendmail binary (path injectable for tests). */
export function sendmailAvailable(path = SENDMAIL_PATH): boolean {
  return existsSync(path);
}

export const sendmailChannel = {
  kind: 'sendmail',
  async send(config, message, ctx) {
    const to = config.mailto ?? ['root'];
    const raw = await buildMime(mailOptions(message, { hostname: ctx.hostname, from: config.from, to }));
    const path = config.sendmail_path ?? SENDMAIL_PATH;
    const timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    const result = await execArgv([path, '-t', '-oi'], {
      input: raw.toString('utf8'),
      timeoutMs,
      env: { ...MINIMAL_ENV },
      maxOutputBytes: 64 * 1024,
    });
    if (result.timedOut) {
      throw new PvepatchError(
        'timeout',
        `unable to send mail through ${path} - no answer within ${Math.round(timeoutMs / 1000)} s; check the local MTA (postfix) with 'mailq'`,
      );
    }
    if (result.exitCode !== 0) {
      const last = result.stderr.trim().split('\n').at(-1)?.trim().slice(0, 300) || `exit ${result.exitCode}`;
      throw new PvepatchError(
        'unreachable',
        `unable to send mail through ${path} - ${last}; check the local MTA (postfix) and its log`,
      );
    }
    return `mail to ${to.join(', ')} handed to ${path}`;
  },
} satisfies ChannelDriver<SendmailChannelConfig>;
