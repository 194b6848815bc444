/**
 * The daemon as its own process, as systemd runs it (`pvepatch daemon` from the sources through
 * tsx): for what an in-process daemon cannot show — signals, a second daemon, kill -9, its memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The node options of the installed unit's ExecStart (between node and the bundle), so a bundle runs as installed. */
export function unitNodeFlags(): string[] {
  const unit = readFileSync(new URL('../../systemd/pvepatchd.service', import.meta.url), 'utf8');
  const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='));
  if (!exec) throw new Error('systemd/pvepatchd.service has no ExecStart');
  const words = exec.slice('ExecStart='.length).split(' ');
  const bundle = words.findIndex((w) => w.endsWith('.mjs'));
  return words.slice(1, bundle);
}

export class DaemonProcess {
  readonly log: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    let rest = '';
    const collect = (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      this.log.push(...lines);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  /**
   * Starts `pvepatch --config <path> daemon` (from the sources, or from the built bundle when
   * given: it starts in a fraction of tsx's time); resolves once it logs that it listens (or exits).
   */
  static async start(
    configPath: string,
    opts: {
      timeoutMs?: number;
      bundle?: string;
      env?: Record<string, string>;
      /** Words run before node, which exec it in the end (the process keeps its pid: signals reach node). */
      prefix?: string[];
    } = {},
  ): Promise<DaemonProcess> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const entry = opts.bundle ? [...unitNodeFlags(), opts.bundle] : ['--import', 'tsx', 'daemon/cli/bin.ts'];
    const argv = [...(opts.prefix ?? []), process.execPath, ...entry, '--config', configPath, 'daemon'];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d = new DaemonProcess(child);
    const deadline = Date.now() + timeoutMs;
    while (!d.log.some((l) => l.includes(' listening on '))) {
      const done = await Promise.race([d.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]);
      if (done) break;
      if (Date.now() > deadline) {
        // not left running behind the caller's back: nobody else has its handle
        d.signal('SIGKILL');
        await d.exited;
        throw new Error(`daemon did not start within ${timeoutMs} ms:\n${d.log.join('\n')}`);
      }
    }
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Peak resident memory of the daemon process so far (VmHWM), in MiB. */
  peakRssMib(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM and wait; SIGKILL if it does not exit within `ms`. */
  async stop(ms = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
