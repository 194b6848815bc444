/**
 * Mail straight to an SMTP server with nodemailer: implicit TLS (`tls`), STARTTLS that must succeed
 * (`starttls`), or plain (`insecure`, only without a login). Certificates are always verified,
 * against the system's CAs or the CA in `ca_file`. The password comes from a mode-0600 file.
 */
import nodemailer from 'nodemailer';
import { PvepatchError } from '../../core/errors.js';
import type { ChannelDriver, SmtpChannelConfig, SmtpMode } from '../channel-types.js';
import { mailOptions } from '../mail.js';
import { readSecretFile } from '../secrets.js';
import { readCaFile } from '../tls-agent.js';

const DEFAULT_PORT: Record<SmtpMode, number> = { tls: 465, starttls: 587, insecure: 25 };
const DEFAULT_TIMEOUT_MS = 30_000;

export const smtpChannel = {
  kind: 'smtp',
  async send(config, message, ctx) {
    const mode = config.mode ?? 'tls';
    const port = config.port ?? DEFAULT_PORT[mode];
    const where = `${config.server}:${port}`;
    const timeout = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    const auth =
      config.username && config.password_file
        ? { user: config.username, pass: readSecretFile(config.password_file, ctx.uid) }
        : undefined;
    const transport = nodemailer.createTransport({
      host: config.server,
      port,
      secure: mode === 'tls',
      requireTLS: mode === 'starttls',
      ignoreTLS: mode === 'insecure',
      ...(auth ? { auth } : {}),
      name: ctx.hostname,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: {
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(config.ca_file ? { ca: readCaFile(config.ca_file) } : {}),
      },
    });
    try {
      const info = await transport.sendMail(
        mailOptions(message, { hostname: ctx.hostname, from: config.from, to: config.mailto }),
      );
      return `mail to ${config.mailto.join(', ')} accepted by ${where} (${String(info.response).slice(0, 120)})`;
    } catch (err) {
      throw new PvepatchError(
        'unreachable',
        `unable to send mail through SMTP server ${where} - ${(err as Error).message}; ${hint(err)}`,
        { cause: err },
      );
    } finally {
      transport.close();
    }
  },
} satisfies ChannelDriver<SmtpChannelConfig>;

function hint(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'EAUTH') return 'check username and password-file';
  if (/STARTTLS/.test(message)) return 'the server offers no STARTTLS: use mode tls (port 465) or another server';
  if (/certificate|self[- ]signed/i.test(message)) {
    return "the server's certificate is not trusted: set ca-file to the CA that issued it";
  }
  if (['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ETLS'].includes(code)) return 'check server, port and mode';
  return 'check the channel settings and the mail server log';
}
