import { UnreachableError } from '../../core/errors.js';

/**
 * The server presented another host key than the one pinned or recorded: the connection is cut
 * during the key exchange, before authentication, so nothing ran. An UnreachableError (code
 * 'unreachable'), because for the run it is exactly that: the guest cannot be reached safely,
 * and it is skipped with nothing changed; `instanceof` or `details.reason === 'host-key-changed'`
 * tells it apart for a report.
 */
export class HostKeyMismatchError extends UnreachableError {
  constructor(
    message: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(message, { details: { reason: 'host-key-changed', expected, received } });
    this.name = 'HostKeyMismatchError';
  }
}

/**
 * The login user is not root and `sudo -n` refused to run without a password (or sudo is
 * missing): pvepatch got into the guest but cannot act as root there, and nothing ran as root.
 * Also an UnreachableError (`details.reason` 'sudo-password' / 'sudo-missing'): the guest is
 * out of reach for patching until its sudoers allow it.
 */
export class SudoRefusedError extends UnreachableError {
  constructor(message: string, reason: 'sudo-password' | 'sudo-missing') {
    super(message, { details: { reason } });
    this.name = 'SudoRefusedError';
  }
}

/** ssh2's connection errors carry `level` (client-socket, client-dns, client-timeout, client-authentication). */
export interface Ssh2Error extends Error {
  level?: string;
  code?: string;
}

/** What failed while connecting, and what to do about it (the part after ` - `). */
export function connectFailure(
  err: Ssh2Error,
  ctx: { host: string; port: number; user: string; key: string; timeoutMs: number },
): string {
  const secs = Math.ceil(ctx.timeoutMs / 1000);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused; is sshd running in the guest and listening on port ${ctx.port}?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
      return `host name '${ctx.host}' does not resolve (${err.code}); check the host in the guest's SSH settings`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to host (${err.code}); is the guest running and its network up?`;
    case 'ETIMEDOUT':
      return `TCP connect timed out; is the guest running and port ${ctx.port} open in its firewall?`;
    case 'ECONNRESET':
      return 'the server closed the connection during the handshake; check sshd in the guest (MaxStartups, AllowUsers, tcp wrappers)';
    default:
      break;
  }
  if (err.level === 'client-timeout')
    return `no SSH handshake within ${secs}s; is the guest running, and is port ${ctx.port} its sshd?`;
  if (err.level === 'client-authentication') {
    return `key authentication as '${ctx.user}' failed; add the public key of ${ctx.key} to ~${ctx.user}/.ssh/authorized_keys in the guest`;
  }
  if (err.level === 'client-dns')
    return `host name '${ctx.host}' does not resolve; check the host in the guest's SSH settings`;
  return `${err.message}${err.code ? ` (${err.code})` : ''}`;
}
