import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The command line every shipped wrapper execs; tests swap it for the sources run through tsx. */
export const INSTALLED = '/usr/bin/node /usr/lib/pvepatch/pvepatch.mjs';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A copy of a shipped wrapper from hooks/ that runs the sources (tsx) instead of the installed
 * bundle, with `--config` (pvepatch.conf) and the subcommand's `--hook-config` pointing into the
 * test's directory. Everything else in the wrapper is kept as shipped.
 */
export function testWrapper(
  name: string,
  dest: string,
  opts: { config?: string; hookConfig: string; subcommand: string },
): string {
  const text = readFileSync(`${ROOT}hooks/${name}`, 'utf8');
  const exec = text.split('\n').find((l) => l.startsWith('exec '));
  if (!exec?.startsWith(`exec ${INSTALLED} ${opts.subcommand} `))
    throw new Error(`${name}: unexpected exec line ${exec}`);
  const node = `${q(process.execPath)} --import ${q(`${ROOT}node_modules/tsx/dist/loader.mjs`)} ${q(`${ROOT}daemon/cli/bin.ts`)}`;
  const global = opts.config ? ` --config ${q(opts.config)}` : '';
  const replaced = exec.replace(
    `${INSTALLED} ${opts.subcommand}`,
    `${node}${global} ${opts.subcommand} --hook-config ${q(opts.hookConfig)}`,
  );
  writeFileSync(dest, text.replace(exec, replaced), { mode: 0o755 });
  chmodSync(dest, 0o755);
  return dest;
}

export interface HookRun {
  code: number;
  out: string;
  err: string;
  ms: number;
}

/** Runs a program through `/usr/bin/env -i` with exactly `env` (as vzdump's `local %ENV` does). */
export function runWiped(program: string, argv: string[], env: Record<string, string>, cwd = '/'): Promise<HookRun> {
  const started = Date.now();
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/env',
      ['-i', ...assignments, program, ...argv],
      { cwd, timeout: 120_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: stdout, err: stderr, ms: Date.now() - started });
      },
    );
  });
}
