/**
 * A small but real SMTP server for the smtp channel's tests: EHLO, STARTTLS (a real TLS upgrade),
 * AUTH PLAIN, MAIL, RCPT, DATA, QUIT, on 127.0.0.1. It records what each mail transaction carried.
 */
import { createServer as createTcp, type Server, type Socket } from 'node:net';
import { createServer as createTls, TLSSocket } from 'node:tls';

export interface SmtpServerOptions {
  tls?: { key: string; cert: string };
  /** The whole connection is TLS (port 465 style); else plain, with STARTTLS offered when `tls` is set. */
  implicitTls?: boolean;
  auth?: { user: string; pass: string };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
  tls: boolean;
  user: string | undefined;
}

export interface TestSmtpServer {
  port: number;
  mails: ReceivedMail[];
  /** AUTH attempts as user/password pairs, to prove what was sent. */
  logins: { user: string; pass: string }[];
  close(): Promise<void>;
}

export async function startSmtpServer(opts: SmtpServerOptions): Promise<TestSmtpServer> {
  const mails: ReceivedMail[] = [];
  const logins: { user: string; pass: string }[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, opts, mails, logins, opts.implicitTls === true);
  };
  const server: Server = opts.implicitTls && opts.tls ? createTls(opts.tls, onConnection) : createTcp(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    mails,
    logins,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(
  socket: Socket,
  opts: SmtpServerOptions,
  mails: ReceivedMail[],
  logins: TestSmtpServer['logins'],
  tls: boolean,
) {
  let buffer = '';
  let user: string | undefined;
  let mail: ReceivedMail | undefined;
  let data: string[] | undefined;
  const say = (line: string) => socket.write(`${line}\r\n`);
  const command = (line: string) => {
    const verb = line.split(' ')[0]?.toUpperCase() ?? '';
    if (verb === 'EHLO') {
      const ext = [...(opts.tls && !tls ? ['STARTTLS'] : []), ...(opts.auth ? ['AUTH PLAIN'] : []), '8BITMIME'];
      say('250-test.invalid');
      for (const [i, e] of ext.entries()) say(`250${i === ext.length - 1 ? ' ' : '-'}${e}`);
    } else if (verb === 'STARTTLS' && opts.tls && !tls) {
      say('220 ready to start TLS');
      socket.removeAllListeners('data');
      const secure = new TLSSocket(socket, { isServer: true, ...opts.tls });
      serve(secure, opts, mails, logins, true);
    } else if (verb === 'AUTH') {
      const [, user0, pass] = Buffer.from(line.split(' ')[2] ?? '', 'base64')
        .toString('utf8')
        .split('\0');
      logins.push({ user: user0 ?? '', pass: pass ?? '' });
      const good = opts.auth && user0 === opts.auth.user && pass === opts.auth.pass;
      if (good) user = user0;
      say(good ? '235 2.7.0 authenticated' : '535 5.7.8 authentication failed');
    } else if (verb === 'MAIL') {
      if (opts.auth && !user) return say('530 5.7.0 authentication required');
      mail = { from: /<([^>]*)>/.exec(line)?.[1] ?? '', to: [], data: '', tls, user };
      say('250 2.1.0 ok');
    } else if (verb === 'RCPT' && mail) {
      mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
      say('250 2.1.5 ok');
    } else if (verb === 'DATA' && mail) {
      data = [];
      say('354 end with <CRLF>.<CRLF>');
    } else if (verb === 'QUIT') {
      say('221 2.0.0 bye');
      socket.end();
    } else if (verb === 'RSET' || verb === 'NOOP') say('250 2.0.0 ok');
    else say('502 5.5.1 not implemented');
  };
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (data && mail) {
        if (line !== '.') data.push(line.startsWith('.') ? line.slice(1) : line);
        else {
          mails.push({ ...mail, data: data.join('\r\n') });
          data = undefined;
          mail = undefined;
          say('250 2.0.0 queued as TEST1');
        }
      } else command(line);
    }
  });
  socket.on('error', () => {});
  if (!(socket instanceof TLSSocket) || opts.implicitTls) say('220 test.invalid ESMTP');
}
