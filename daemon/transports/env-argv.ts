import { PvepatchError } from '../core/errors.js';

/** Names env(1) takes as `NAME=value` without mistaking them for the command. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `env NAME=value … argv…`: how every transport passes a command its environment — inside the
 * argv, never through a shell or the transport's own environment. Names env(1) could misread are
 * refused.
 */
export function withEnv(argv: readonly string[], env?: Record<string, string>): string[] {
  const words: string[] = [];
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(name))
      throw new PvepatchError('internal', `unable to pass environment variable '${name}' - not a valid name`);
    words.push(`${name}=${value}`);
  }
  return words.length > 0 ? ['env', ...words, ...argv] : [...argv];
}
