import { isIP } from 'node:net';
import { PvepatchError } from '../../core/errors.js';
import { shellQuote } from '../../drivers/shared/shell-session.js';

/**
 * The one command string sent to the other node: sshd hands a command to the remote user's login
 * shell as a string (`sh -c`), never as an argv, so here a shell string cannot be avoided. Every
 * word goes inside single quotes (a `'` becomes `'\''`), the one POSIX form in which no character
 * is special: `$(…)`, `;`, newlines, globs and empty words reach pct unchanged, as the words they
 * were. A NUL is refused (shellQuote).
 */
export function remoteCommandLine(words: readonly string[]): string {
  if (words.length === 0 || words[0] === '') throw new PvepatchError('internal', 'unable to run command - empty argv');
  return words.map(shellQuote).join(' ');
}

export interface ClusterSshTarget {
  /** The node's name: the name its host key is recorded under (HostKeyAlias). */
  node: string;
  /** Its cluster address, from `/cluster/status`. */
  ip: string;
  /** The cluster's known hosts, `<cluster_dir>/priv/known_hosts`. */
  knownHosts: string;
  /** Seconds for the TCP connect and the SSH handshake. */
  connectTimeout: number;
}

/**
 * `ssh -e none -o BatchMode=yes -o HostKeyAlias=<node> -o UserKnownHostsFile=<known_hosts>
 * -o StrictHostKeyChecking=yes -o ConnectTimeout=<s> root@<ip> -- <command>`: how PVE itself
 * reaches another node (migrations): root's key, the cluster's shared known hosts, the node's
 * name as the host key's name, no escape character, never a prompt, never a new host key accepted.
 * The address must be an IP address (it comes from the PVE API; nothing else gets near ssh's options).
 */
export function clusterSshArgv(t: ClusterSshTarget, command: string): string[] {
  if (isIP(t.ip) === 0)
    throw new PvepatchError('internal', `unable to reach node '${t.node}' - '${t.ip}' is not an IP address`);
  return [
    'ssh',
    '-e',
    'none',
    '-o',
    'BatchMode=yes',
    '-o',
    `HostKeyAlias=${t.node}`,
    '-o',
    `UserKnownHostsFile=${t.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `ConnectTimeout=${t.connectTimeout}`,
    `root@${t.ip}`,
    '--',
    command,
  ];
}
