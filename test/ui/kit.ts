import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The PVE web UI test kit's server, next to the repository (see ../shared/pve-ui-kit/README.md). */
export const KIT_SERVE = fileURLToPath(new URL('../../../shared/pve-ui-kit/serve.mjs', import.meta.url));

export interface KitOptions {
  /** The API base URL `/api2/` is proxied to, e.g. `sim.url`. */
  api: string;
  /** PEM of the CA (or self-signed certificate) the API's certificate must chain to, e.g. `sim.caPem`. */
  apiCa: string;
  /** Add-on scripts (file paths) to inject after pvemanagerlib.js, in this order. */
  inject?: string[];
  /** PEM certificate and key: the UI is then served over HTTPS. */
  cert?: string;
  key?: string;
  /** Node name the index page is rendered for (default pve1). */
  nodename?: string;
}

export interface Kit {
  /** The READY URL, with a trailing slash: `https://127.0.0.1:PORT/`. */
  url: string;
  /** What serve.mjs printed on stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts `node ../shared/pve-ui-kit/serve.mjs --port 0 …` and waits for its `READY <url>` line. PEM inputs are
 * written to a temporary directory that close() removes. Throws when the kit is not there: UI tests must fail,
 * never skip, without it.
 */
export async function startKit(opts: KitOptions): Promise<Kit> {
  if (!existsSync(KIT_SERVE)) throw new Error(`${KIT_SERVE} is missing`);
  if (!!opts.cert !== !!opts.key) throw new Error('startKit: cert and key go together');
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-ui-kit-'));
  const args = [KIT_SERVE, '--port', '0', '--api', opts.api, '--api-ca', join(dir, 'api-ca.pem')];
  await writeFile(join(dir, 'api-ca.pem'), opts.apiCa);
  if (opts.cert && opts.key) {
    await writeFile(join(dir, 'cert.pem'), opts.cert);
    await writeFile(join(dir, 'key.pem'), opts.key, { mode: 0o600 });
    args.push('--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'));
  }
  if (opts.nodename) args.push('--nodename', opts.nodename);
  for (const file of opts.inject ?? []) args.push('--inject', file);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let url: string;
  try {
    url = await waitReady(child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    stderr: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function waitReady(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('serve.mjs printed no READY line within 15 s')), 15_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(new Error(`${err.message}\n${stderr()}`));
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^READY (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`serve.mjs exited (${code ?? signal}) before READY`)));
    child.once('error', (err) => fail(err));
  });
}
