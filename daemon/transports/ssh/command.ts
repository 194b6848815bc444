import { PvepatchError } from '../../core/errors.js';
import { shellQuote } from '../../drivers/shared/shell-session.js';
import { withEnv } from '../env-argv.js';

/**
 * The command string sent over SSH for one argv. sshd hands it to the login user's shell, so
 * every word (the sudo and env prefixes included) goes inside single quotes, where no character
 * is special: the guest runs exactly argv, whatever its words contain. A user other than root
 * gets `sudo -n --` in front (no password prompt ever: sudo fails instead).
 */
export function sshCommandLine(argv: readonly string[], user: string, env?: Record<string, string>): string {
  if (argv.length === 0 || argv[0] === '') throw new PvepatchError('internal', 'unable to run command - empty argv');
  const words = [...(user === 'root' ? [] : ['sudo', '-n', '--']), ...withEnv(argv, env)];
  return words.map(shellQuote).join(' ');
}
