import { PvepatchError } from '../../core/errors.js';
import { shellQuote } from '../../drivers/shared/shell-session.js';

/** Names env(1) takes as `NAME=value` without mistaking them for the command. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The command string sent over SSH for one argv. sshd hands it to the login user's shell, so
 * every word (the sudo and env prefixes included) goes inside single quotes, where no character
 * is special: the guest runs exactly argv, whatever its words contain. A user other than root
 * gets `sudo -n --` in front (no password prompt ever: sudo fails instead).
 */
export function sshCommandLine(argv: readonly string[], user: string, env?: Record<string, string>): string {
  if (argv.length === 0 || argv[0] === '') throw new PvepatchError('internal', 'unable to run command - empty argv');
  const envWords: string[] = [];
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(name))
      throw new PvepatchError('internal', `unable to pass environment variable '${name}' - not a valid name`);
    envWords.push(`${name}=${value}`);
  }
  const words = [
    ...(user === 'root' ? [] : ['sudo', '-n', '--']),
    ...(envWords.length > 0 ? ['env', ...envWords] : []),
    ...argv,
  ];
  return words.map(shellQuote).join(' ');
}
