import { dirname, join } from 'node:path';
import { UnreachableError } from '../../core/errors.js';

/** Where the failing connection went, for the message. */
export interface SshContext {
  node: string;
  ip: string;
  knownHosts: string;
}

/** Why the cluster's SSH could not reach a node, with `details.reason` for a report. */
export type ClusterSshReason =
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'auth-failed'
  | 'connection-refused'
  | 'no-answer'
  | 'ssh-failed';

/**
 * ssh's own complaint when it could not connect (it exits 255, which is also pct's exit code for
 * its refusals and may be a command's own), or undefined when stderr holds none. Only short
 * output counts: a long stderr is the command's, and the command does not get to say that the
 * node is unreachable.
 */
export function sshFailure(code: number | null, stderr: string, ctx: SshContext): UnreachableError | undefined {
  if (code !== 255 || stderr.length > 4096) return undefined;
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const has = (s: string) => lines.some((l) => l.includes(s));
  const where = `unable to reach node '${ctx.node}' at ${ctx.ip} over the cluster's SSH`;
  const fail = (reason: ClusterSshReason, text: string) =>
    new UnreachableError(`${where} - ${text}`, { details: { reason, node: ctx.node, ip: ctx.ip } });
  if (has('REMOTE HOST IDENTIFICATION HAS CHANGED') || (has('Host key for') && has('has changed'))) {
    return fail(
      'host-key-changed',
      `the host key it offered is not the one recorded for '${ctx.node}' in ${ctx.knownHosts}; nothing ran. ` +
        `If the node was reinstalled, run 'pvecm updatecerts' on it; otherwise check what answers at ${ctx.ip}`,
    );
  }
  if (has('host key is known for') || has('Host key verification failed')) {
    return fail(
      'host-key-unknown',
      `no host key for '${ctx.node}' in ${ctx.knownHosts}; nothing ran. Add it with 'pvecm updatecerts' on that node (as PVE's migrations need it too)`,
    );
  }
  if (has('Permission denied')) {
    return fail(
      'auth-failed',
      `the node refused root's key; the cluster's authorized keys (${join(dirname(ctx.knownHosts), 'authorized_keys')}) ` +
        `should hold this node's /root/.ssh/id_rsa.pub - run 'pvecm updatecerts' on this node`,
    );
  }
  if (has('Connection refused'))
    return fail('connection-refused', 'connection refused; is sshd running on that node (systemctl status ssh)?');
  if (has('Connection timed out') || has('No route to host') || has('Network is unreachable'))
    return fail('no-answer', `no answer (${lines.find((l) => l.startsWith('ssh:')) ?? lines[0]}); is the node up?`);
  const own = lines.find(
    (l) =>
      l.startsWith('ssh:') ||
      l.startsWith('kex_exchange_identification:') ||
      l.startsWith('Connection closed by') ||
      l.startsWith('Connection reset by') ||
      l.startsWith('banner exchange:'),
  );
  return own ? fail('ssh-failed', own) : undefined;
}
