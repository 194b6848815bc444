/**
 * The mail every mail channel sends: multipart/alternative with the rendered text and HTML, the
 * rendered subject, From `pvepatch - <host> <pvepatch@<host>>`, marked as automatic (RFC 3834) so
 * that vacation replies stay away. Built with nodemailer, which encodes headers and bodies.
 */
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { OutgoingNotification } from './channel-types.js';

export interface MailAddressing {
  hostname: string;
  from?: string | undefined;
  to: string[];
}

/** nodemailer message options for a notification (the channels add the transport). */
export function mailOptions(message: OutgoingNotification, addressing: MailAddressing): Mail.Options {
  const { title, text, html } = message.rendered();
  return {
    from: { name: `pvepatch - ${addressing.hostname}`, address: addressing.from ?? `pvepatch@${addressing.hostname}` },
    // objects: nodemailer drops a bare local user ('root') given as a string
    to: addressing.to.map((address) => ({ name: '', address })),
    subject: title,
    text,
    html,
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Pvepatch-Event': message.event,
      'X-Pvepatch-Severity': message.severity,
    },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** The whole message as bytes, lines ending in LF (what `sendmail -t` reads). */
export async function buildMime(options: Mail.Options): Promise<Buffer> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const info = await transport.sendMail(options);
  return info.message as Buffer;
}
